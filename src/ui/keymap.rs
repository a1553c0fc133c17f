//! Every key the TUI understands, in one table: the input handler and the help overlay both
//! read it, so the help can never disagree with the keys.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

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
    Stop,
    Rerun,
    RerunNewSeed,
    Edit,
    Focus,
    LrUp,
    LrDown,
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

/// The action a key press asks for on a screen. Ctrl-C quits from anywhere.
pub fn action_for(screen: Screen, key: &KeyEvent) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    KEYMAP
        .iter()
        .find(|b| b.screens.contains(&screen) && b.codes.contains(&key.code))
        .map(|b| b.action)
}

/// The bindings shown in the help for a screen.
pub fn bindings_for(screen: Screen) -> impl Iterator<Item = &'static Binding> {
    KEYMAP.iter().filter(move |b| b.screens.contains(&screen))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn space_pauses_a_run_and_plays_a_replay() {
        assert_eq!(
            action_for(Screen::Run, &key(KeyCode::Char(' '))),
            Some(Action::PauseResume)
        );
        assert_eq!(
            action_for(Screen::Replay, &key(KeyCode::Char(' '))),
            Some(Action::PauseResume)
        );
    }

    #[test]
    fn q_quits_the_browser_but_only_goes_back_from_a_run() {
        assert_eq!(
            action_for(Screen::Browser, &key(KeyCode::Char('q'))),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(Screen::Run, &key(KeyCode::Char('q'))),
            Some(Action::Back)
        );
    }

    #[test]
    fn no_key_means_two_things_on_one_screen() {
        for screen in [Screen::Browser, Screen::Run, Screen::Replay] {
            let mut seen = Vec::new();
            for b in bindings_for(screen) {
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
        assert_eq!(action_for(Screen::Run, &k), Some(Action::Quit));
    }
}
