//! Every key the TUI understands, in one table: the input handler, the help overlay and the
//! footers all read it, so neither the help nor a footer can disagree with the keys.
//!
//! A footer is a short list of [`Hint`]s per screen: each names actions, never keys; the keys
//! shown are those the table binds to the actions on that screen.
//!
//! Some keys apply only to some models: stepping a GAN's discriminator or generator alone,
//! turning a language model's sampling temperature or top-k. Every lookup takes the
//! [`Ability`]s of the shown run (its `Started` event names them), and a key for an ability
//! the run lacks is neither bound, nor helped, nor in a footer.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::i18n::Lang;
use crate::models::{Knob, StepPart};

/// Which screen a binding belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Browser,
    Run,
    Replay,
}

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Open,
    PauseResume,
    StepOnce,
    /// One step of the discriminator alone while paused (GAN runs).
    StepDiscriminator,
    /// One step of the generator alone while paused (GAN runs).
    StepGenerator,
    Stop,
    Rerun,
    RerunNewSeed,
    Edit,
    Focus,
    LrUp,
    LrDown,
    /// The sampler's temperature down or up (language runs).
    Cooler,
    Warmer,
    /// Keep fewer or more of the likeliest characters when sampling (language runs).
    FewerTopK,
    MoreTopK,
    Prev,
    Next,
    Slower,
    Faster,
    First,
    Last,
    ToggleImage,
    Help,
    Lang,
    Back,
    Quit,
}

/// One line of the keymap.
pub struct Binding {
    pub screens: &'static [Screen],
    pub codes: &'static [KeyCode],
    /// How the keys are shown in the help.
    pub keys: &'static str,
    pub action: Action,
    pub en: &'static str,
    pub zh: &'static str,
}

use Screen::{Browser as B, Replay as P, Run as R};

pub const KEYMAP: &[Binding] = &[
    Binding {
        screens: &[B],
        codes: &[KeyCode::Up, KeyCode::Char('k')],
        keys: "↑ k",
        action: Action::Up,
        en: "previous lesson or save",
        zh: "上一个课程或存档",
    },
    Binding {
        screens: &[B],
        codes: &[KeyCode::Down, KeyCode::Char('j')],
        keys: "↓ j",
        action: Action::Down,
        en: "next lesson or save",
        zh: "下一个课程或存档",
    },
    Binding {
        screens: &[B],
        codes: &[KeyCode::PageUp],
        keys: "PgUp",
        action: Action::PageUp,
        en: "scroll the preview up",
        zh: "预览向上滚动",
    },
    Binding {
        screens: &[B],
        codes: &[KeyCode::PageDown],
        keys: "PgDn",
        action: Action::PageDown,
        en: "scroll the preview down",
        zh: "预览向下滚动",
    },
    Binding {
        screens: &[B],
        codes: &[KeyCode::Enter],
        keys: "Enter",
        action: Action::Open,
        en: "run the lesson, or replay the save",
        zh: "运行课程，或回放存档",
    },
    Binding {
        screens: &[B],
        codes: &[KeyCode::Tab],
        keys: "Tab",
        action: Action::Focus,
        en: "switch between lessons and saves",
        zh: "在课程与存档之间切换",
    },
    Binding {
        screens: &[B, R],
        codes: &[KeyCode::Char('e')],
        keys: "e",
        action: Action::Edit,
        en: "edit the lesson in $EDITOR, reload after",
        zh: "用 $EDITOR 编辑课程，之后重新载入",
    },
    Binding {
        screens: &[R],
        codes: &[KeyCode::Char(' ')],
        keys: "Space",
        action: Action::PauseResume,
        en: "pause or resume",
        zh: "暂停或继续",
    },
    Binding {
        screens: &[R],
        codes: &[KeyCode::Char('n')],
        keys: "n",
        action: Action::StepOnce,
        en: "one step while paused",
        zh: "暂停时单步执行",
    },
    Binding {
        screens: &[R],
        codes: &[KeyCode::Char('d')],
        keys: "d",
        action: Action::StepDiscriminator,
        en: "one step of the discriminator alone while paused",
        zh: "暂停时只让判别器走一步",
    },
    Binding {
        screens: &[R],
        codes: &[KeyCode::Char('g')],
        keys: "g",
        action: Action::StepGenerator,
        en: "one step of the generator alone while paused",
        zh: "暂停时只让生成器走一步",
    },
    Binding {
        screens: &[R],
        codes: &[KeyCode::Char('s')],
        keys: "s",
        action: Action::Stop,
        en: "stop the run (it stays saved)",
        zh: "停止训练（存档保留）",
    },
    Binding {
        screens: &[R],
        codes: &[KeyCode::Char('r')],
        keys: "r",
        action: Action::Rerun,
        en: "run again with the same seed",
        zh: "用相同的种子重新运行",
    },
    Binding {
        screens: &[R],
        codes: &[KeyCode::Char('R')],
        keys: "R",
        action: Action::RerunNewSeed,
        en: "run again with a new seed",
        zh: "用新的种子重新运行",
    },
    Binding {
        screens: &[R],
        codes: &[KeyCode::Char('+'), KeyCode::Char('=')],
        keys: "+",
        action: Action::LrUp,
        en: "double the learning rate",
        zh: "学习率加倍",
    },
    Binding {
        screens: &[R],
        codes: &[KeyCode::Char('t')],
        keys: "t",
        action: Action::Cooler,
        en: "sample colder: temperature ×0.8",
        zh: "采样更保守：温度 ×0.8",
    },
    Binding {
        screens: &[R],
        codes: &[KeyCode::Char('T')],
        keys: "T",
        action: Action::Warmer,
        en: "sample hotter: temperature ×1.25",
        zh: "采样更随机：温度 ×1.25",
    },
    Binding {
        screens: &[R],
        codes: &[KeyCode::Char('k')],
        keys: "k",
        action: Action::FewerTopK,
        en: "sample among fewer characters (top-k down)",
        zh: "只在更少的候选字符中采样（top-k 减小）",
    },
    Binding {
        screens: &[R],
        codes: &[KeyCode::Char('K')],
        keys: "K",
        action: Action::MoreTopK,
        en: "sample among more characters (top-k up, to all)",
        zh: "在更多的候选字符中采样（top-k 增大，直到全部）",
    },
    Binding {
        screens: &[R],
        codes: &[KeyCode::Char('-')],
        keys: "-",
        action: Action::LrDown,
        en: "halve the learning rate",
        zh: "学习率减半",
    },
    Binding {
        screens: &[R, P],
        codes: &[KeyCode::Tab],
        keys: "Tab",
        action: Action::Focus,
        en: "enlarge the next panel",
        zh: "放大下一个面板",
    },
    Binding {
        screens: &[R, P],
        codes: &[KeyCode::Char('b')],
        keys: "b",
        action: Action::ToggleImage,
        en: "images in braille or half blocks",
        zh: "图像用盲文点阵或半块字符显示",
    },
    Binding {
        screens: &[P],
        codes: &[KeyCode::Char(' ')],
        keys: "Space",
        action: Action::PauseResume,
        en: "play or pause the replay",
        zh: "播放或暂停回放",
    },
    Binding {
        screens: &[P],
        codes: &[KeyCode::Left],
        keys: "←",
        action: Action::Prev,
        en: "one event back",
        zh: "后退一个事件",
    },
    Binding {
        screens: &[P],
        codes: &[KeyCode::Right],
        keys: "→",
        action: Action::Next,
        en: "one event forward",
        zh: "前进一个事件",
    },
    Binding {
        screens: &[P],
        codes: &[KeyCode::Char('[')],
        keys: "[",
        action: Action::Slower,
        en: "half the speed",
        zh: "速度减半",
    },
    Binding {
        screens: &[P],
        codes: &[KeyCode::Char(']')],
        keys: "]",
        action: Action::Faster,
        en: "double the speed",
        zh: "速度加倍",
    },
    Binding {
        screens: &[P],
        codes: &[KeyCode::Home],
        keys: "Home",
        action: Action::First,
        en: "back to the start",
        zh: "回到开头",
    },
    Binding {
        screens: &[P],
        codes: &[KeyCode::End],
        keys: "End",
        action: Action::Last,
        en: "jump to the end",
        zh: "跳到结尾",
    },
    Binding {
        screens: &[B, R, P],
        codes: &[KeyCode::Char('?')],
        keys: "?",
        action: Action::Help,
        en: "show or hide this help",
        zh: "显示或隐藏帮助",
    },
    Binding {
        screens: &[B, R, P],
        codes: &[KeyCode::Char('L')],
        keys: "L",
        action: Action::Lang,
        en: "English / 中文",
        zh: "English / 中文",
    },
    Binding {
        screens: &[R, P],
        codes: &[KeyCode::Char('q'), KeyCode::Esc],
        keys: "q Esc",
        action: Action::Back,
        en: "back to the lessons",
        zh: "返回课程列表",
    },
    Binding {
        screens: &[B],
        codes: &[KeyCode::Char('q'), KeyCode::Esc],
        keys: "q Esc",
        action: Action::Quit,
        en: "quit",
        zh: "退出",
    },
];

/// What a run can do beyond what every run can: step a part alone, or turn a knob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ability {
    Step(StepPart),
    Turn(Knob),
}

impl Ability {
    /// The abilities a run's `Started` event names.
    pub fn of(parts: &[StepPart], knobs: &[Knob]) -> Vec<Ability> {
        parts
            .iter()
            .map(|p| Ability::Step(*p))
            .chain(knobs.iter().map(|k| Ability::Turn(*k)))
            .collect()
    }
}

/// The ability an action needs, if it needs one.
pub fn needs(action: Action) -> Option<Ability> {
    match action {
        Action::StepDiscriminator => Some(Ability::Step(StepPart::Discriminator)),
        Action::StepGenerator => Some(Ability::Step(StepPart::Generator)),
        Action::Cooler | Action::Warmer => Some(Ability::Turn(Knob::Temperature)),
        Action::FewerTopK | Action::MoreTopK => Some(Ability::Turn(Knob::TopK)),
        _ => None,
    }
}

/// The action a key press asks for on a screen, for a run with the abilities `can`.
/// Ctrl-C quits from anywhere.
pub fn action_for(screen: Screen, can: &[Ability], key: &KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    bindings_for(screen, can)
        .find(|b| b.codes.contains(&key.code))
        .map(|b| b.action)
}

/// The bindings shown in the help for a screen, for a run with the abilities `can`.
pub fn bindings_for(screen: Screen, can: &[Ability]) -> impl Iterator<Item = &'_ Binding> + '_ {
    KEYMAP.iter().filter(move |b| {
        b.screens.contains(&screen) && needs(b.action).is_none_or(|a| can.contains(&a))
    })
}

/// One entry of a footer: the keys of `actions` on the screen, joined by `joiner`, then a
/// short word (none for `Home/End`).
pub struct Hint {
    pub actions: &'static [Action],
    pub joiner: &'static str,
    pub en: &'static str,
    pub zh: &'static str,
}

const fn hint(actions: &'static [Action], en: &'static str, zh: &'static str) -> Hint {
    Hint {
        actions,
        joiner: "/",
        en,
        zh,
    }
}

const BROWSER_HINTS: &[Hint] = &[
    Hint {
        actions: &[Action::Up, Action::Down],
        joiner: "",
        en: "choose",
        zh: "选择",
    },
    hint(&[Action::Open], "run", "运行"),
    hint(&[Action::Focus], "saves", "存档"),
    hint(&[Action::Edit], "edit", "编辑"),
    hint(&[Action::Lang], "中文", "English"),
    hint(&[Action::Help], "help", "帮助"),
    hint(&[Action::Quit], "quit", "退出"),
];

const RUN_HINTS: &[Hint] = &[
    hint(&[Action::PauseResume], "pause", "暂停"),
    hint(&[Action::StepOnce], "step", "单步"),
    hint(
        &[Action::StepDiscriminator, Action::StepGenerator],
        "step D/G",
        "单步 D/G",
    ),
    hint(&[Action::Stop], "stop", "停止"),
    hint(&[Action::Rerun], "rerun", "重跑"),
    hint(&[Action::RerunNewSeed], "new seed", "新种子"),
    hint(&[Action::LrUp, Action::LrDown], "lr", "学习率"),
    hint(&[Action::Cooler, Action::Warmer], "temperature", "温度"),
    hint(&[Action::FewerTopK, Action::MoreTopK], "top-k", "top-k"),
    hint(&[Action::Focus], "zoom", "放大"),
    hint(&[Action::Edit], "edit", "编辑"),
    hint(&[Action::Help], "help", "帮助"),
    hint(&[Action::Back], "back", "返回"),
];

const REPLAY_HINTS: &[Hint] = &[
    hint(&[Action::PauseResume], "play", "播放"),
    hint(&[Action::Prev, Action::Next], "event", "事件"),
    Hint {
        actions: &[Action::Slower, Action::Faster],
        joiner: " ",
        en: "speed",
        zh: "速度",
    },
    hint(&[Action::First, Action::Last], "", ""),
    hint(&[Action::Back], "back", "返回"),
];

/// The footer's hints for a screen, in the order shown.
pub fn hints_for(screen: Screen) -> &'static [Hint] {
    match screen {
        Screen::Browser => BROWSER_HINTS,
        Screen::Run => RUN_HINTS,
        Screen::Replay => REPLAY_HINTS,
    }
}

/// The binding of `action` on `screen` (for a run with the abilities `can`), if it has one.
pub fn binding(screen: Screen, can: &[Ability], action: Action) -> Option<&'static Binding> {
    KEYMAP.iter().find(|b| {
        b.action == action
            && b.screens.contains(&screen)
            && needs(action).is_none_or(|a| can.contains(&a))
    })
}

/// How a key is written in a footer: its symbol or name, as in the help.
pub fn key_name(code: KeyCode, lang: Lang) -> String {
    match code {
        KeyCode::Char(' ') => lang.pick("Space", "空格").to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        KeyCode::Left => "←".into(),
        KeyCode::Right => "→".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::Home => "Home".into(),
        KeyCode::End => "End".into(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::Esc => "Esc".into(),
        other => format!("{other:?}"),
    }
}

/// The keys a hint shows: the first key bound to each of its actions on `screen`.
pub fn hint_keys(screen: Screen, can: &[Ability], hint: &Hint, lang: Lang) -> String {
    hint.actions
        .iter()
        .filter_map(|a| binding(screen, can, *a))
        .filter_map(|b| b.codes.first())
        .map(|c| key_name(*c, lang))
        .collect::<Vec<_>>()
        .join(hint.joiner)
}

/// The footer of a screen (for a run with the abilities `can`): `keys word · keys word ·
/// …`, every key read from the table. A hint whose actions have no key on the screen is left
/// out rather than shown wrong.
pub fn footer(screen: Screen, can: &[Ability], lang: Lang) -> String {
    hints_for(screen)
        .iter()
        .filter_map(|h| {
            let keys = hint_keys(screen, can, h, lang);
            let word = lang.pick(h.en, h.zh);
            match (keys.is_empty(), word.is_empty()) {
                (true, _) => None,
                (false, true) => Some(keys),
                (false, false) => Some(format!("{keys} {word}")),
            }
        })
        .collect::<Vec<_>>()
        .join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run that steps only as a whole, and one (a GAN) that can step either player alone.
    const NONE: &[Ability] = &[];
    const BOTH: &[Ability] = &[
        Ability::Step(StepPart::Discriminator),
        Ability::Step(StepPart::Generator),
    ];
    /// Every ability there is, so that every binding is live.
    const ALL: &[Ability] = &[
        Ability::Step(StepPart::Discriminator),
        Ability::Step(StepPart::Generator),
        Ability::Turn(Knob::Temperature),
        Ability::Turn(Knob::TopK),
    ];

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn space_pauses_a_run_and_plays_a_replay() {
        assert_eq!(
            action_for(Screen::Run, NONE, &key(KeyCode::Char(' '))),
            Some(Action::PauseResume)
        );
        assert_eq!(
            action_for(Screen::Replay, NONE, &key(KeyCode::Char(' '))),
            Some(Action::PauseResume)
        );
    }

    #[test]
    fn q_quits_the_browser_but_only_goes_back_from_a_run() {
        assert_eq!(
            action_for(Screen::Browser, NONE, &key(KeyCode::Char('q'))),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(Screen::Run, NONE, &key(KeyCode::Char('q'))),
            Some(Action::Back)
        );
    }

    #[test]
    fn no_key_means_two_things_on_one_screen() {
        for screen in [Screen::Browser, Screen::Run, Screen::Replay] {
            let mut seen = Vec::new();
            for b in bindings_for(screen, ALL) {
                for c in b.codes {
                    assert!(!seen.contains(c), "{c:?} bound twice on {screen:?}");
                    seen.push(*c);
                }
            }
        }
    }

    #[test]
    fn ctrl_c_quits_everywhere() {
        let k = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(Screen::Run, NONE, &k), Some(Action::Quit));
    }

    const SCREENS: [Screen; 3] = [Screen::Browser, Screen::Run, Screen::Replay];

    #[test]
    fn every_hint_names_actions_bound_on_its_screen() {
        for screen in SCREENS {
            for h in hints_for(screen) {
                for a in h.actions {
                    assert!(
                        binding(screen, ALL, *a).is_some(),
                        "the {screen:?} footer hints at {a:?}, which has no key there"
                    );
                }
            }
        }
    }

    #[test]
    fn a_footer_shows_each_hinted_action_by_its_first_key_in_the_keymap() {
        for screen in SCREENS {
            for lang in [Lang::En, Lang::Zh] {
                let text = footer(screen, ALL, lang);
                for h in hints_for(screen) {
                    for a in h.actions {
                        let code = binding(screen, ALL, *a).unwrap().codes[0];
                        let key = key_name(code, lang);
                        assert!(
                            text.contains(&key),
                            "{screen:?} footer {text:?} lacks {key:?} of {a:?}"
                        );
                        assert_eq!(
                            action_for(screen, ALL, &KeyEvent::new(code, KeyModifiers::NONE)),
                            Some(*a),
                            "{key:?} in the {screen:?} footer does {a:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_footer_writes_a_key_as_the_help_does() {
        for b in KEYMAP {
            let first = b.keys.split_whitespace().next().unwrap();
            assert_eq!(key_name(b.codes[0], Lang::En), first, "{:?}", b.action);
        }
    }

    #[test]
    fn the_footers_read_as_before_they_came_from_the_keymap() {
        assert_eq!(
            footer(Screen::Browser, NONE, Lang::En),
            "↑↓ choose · Enter run · Tab saves · e edit · L 中文 · ? help · q quit"
        );
        assert_eq!(
            footer(Screen::Run, NONE, Lang::Zh),
            "空格 暂停 · n 单步 · s 停止 · r 重跑 · R 新种子 · +/- 学习率 · Tab 放大 · e 编辑 · ? 帮助 · q 返回"
        );
        assert_eq!(
            footer(Screen::Replay, NONE, Lang::En),
            "Space play · ←/→ event · [ ] speed · Home/End · q back"
        );
    }

    #[test]
    fn d_and_g_step_a_players_alone_only_on_a_run_that_has_them() {
        let d = key(KeyCode::Char('d'));
        let g = key(KeyCode::Char('g'));
        assert_eq!(action_for(Screen::Run, NONE, &d), None);
        assert_eq!(action_for(Screen::Run, NONE, &g), None);
        assert_eq!(
            action_for(Screen::Run, BOTH, &d),
            Some(Action::StepDiscriminator)
        );
        assert_eq!(
            action_for(Screen::Run, BOTH, &g),
            Some(Action::StepGenerator)
        );
        assert_eq!(action_for(Screen::Replay, BOTH, &d), None);
        let gan = footer(Screen::Run, BOTH, Lang::En);
        assert!(gan.contains("n step · d/g step D/G · s stop"), "{gan}");
        assert!(!footer(Screen::Run, NONE, Lang::En).contains("D/G"));
        let help: Vec<Action> = bindings_for(Screen::Run, NONE).map(|b| b.action).collect();
        assert!(!help.contains(&Action::StepDiscriminator));
        let only_d = [Ability::Step(StepPart::Discriminator)];
        assert!(footer(Screen::Run, &only_d, Lang::En).contains("d step D/G"));
    }

    #[test]
    fn t_and_k_turn_the_sampler_only_on_a_run_that_has_one() {
        let lm = Ability::of(&[], &[Knob::Temperature, Knob::TopK]);
        for (c, a) in [
            ('t', Action::Cooler),
            ('T', Action::Warmer),
            ('k', Action::FewerTopK),
            ('K', Action::MoreTopK),
        ] {
            assert_eq!(action_for(Screen::Run, NONE, &key(KeyCode::Char(c))), None);
            assert_eq!(
                action_for(Screen::Run, &lm, &key(KeyCode::Char(c))),
                Some(a)
            );
        }
        assert_eq!(
            action_for(Screen::Browser, &lm, &key(KeyCode::Char('k'))),
            Some(Action::Up),
            "k still moves up in the browser"
        );
        let f = footer(Screen::Run, &lm, Lang::En);
        assert!(f.contains("t/T temperature · k/K top-k"), "{f}");
        assert!(!footer(Screen::Run, BOTH, Lang::En).contains("temperature"));
    }
}
