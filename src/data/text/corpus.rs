//! The built-in corpus: sentences about a small village, written by a grammar in English,
//! Chinese or both, so that the language lessons need no download.
//!
//! The village is fixed: eight people, each with a home, a pet of a colour and a favourite
//! food ([`WORLD`]). The seed only changes which sentences are written and in what order, so
//! every corpus tells the same facts, which a model can learn (and which the assistant of
//! `chatgpt-pipeline` is asked about). Sentences state facts, walk through a day, or ask and
//! answer a question about them ("q: where does mia live? a: near the mill.").

use rand::{Rng, RngExt, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

use crate::config::parse::Ctx;

/// Which language the corpus is written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Zh,
    /// Paragraphs in both, alternating.
    Both,
}

/// `data: {source: corpus, language: en, chars: 200000, val_fraction: 0.1, seed: 1}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorpusSpec {
    /// `en` (default), `zh` or `both`.
    #[serde(default)]
    pub language: Language,
    /// About how many characters to write; default 200,000; 2,000 ..= 20,000,000.
    #[serde(default = "default_chars")]
    pub chars: usize,
    /// The held-out share, from the end; default 0.1; 0.01 ..= 0.5.
    #[serde(default = "super::default_val_fraction")]
    pub val_fraction: f64,
    /// Seed of the sentences; default: the run's `train.seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

fn default_chars() -> usize {
    200_000
}

/// The corpus may be at most this long.
pub const MAX_CHARS: usize = 20_000_000;

impl Default for CorpusSpec {
    fn default() -> Self {
        CorpusSpec {
            language: Language::En,
            chars: default_chars(),
            val_fraction: super::DEFAULT_VAL_FRACTION,
            seed: None,
        }
    }
}

impl CorpusSpec {
    pub fn check(self, ctx: &mut Ctx) -> Option<CorpusSpec> {
        let mut ok = ctx.check_range(
            "data.chars",
            self.chars,
            2_000,
            MAX_CHARS,
            "the corpus length in characters",
        );
        ok &= super::check_val_fraction(ctx, self.val_fraction);
        ok.then_some(self)
    }

    /// Its name in messages.
    pub fn name(&self) -> &'static str {
        match self.language {
            Language::En => "the built-in English corpus",
            Language::Zh => "the built-in Chinese corpus",
            Language::Both => "the built-in English and Chinese corpus",
        }
    }
}

/// One villager and the facts about them, in both languages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Person {
    pub name: (&'static str, &'static str),
    pub home: (&'static str, &'static str),
    pub pet: (&'static str, &'static str),
    pub colour: (&'static str, &'static str),
    pub food: (&'static str, &'static str),
}

const fn p(
    name: (&'static str, &'static str),
    home: (&'static str, &'static str),
    pet: (&'static str, &'static str),
    colour: (&'static str, &'static str),
    food: (&'static str, &'static str),
) -> Person {
    Person {
        name,
        home,
        pet,
        colour,
        food,
    }
}

/// The village: (English, Chinese) for every fact.
pub const WORLD: [Person; 8] = [
    p(
        ("mia", "小米"),
        ("the mill", "磨坊"),
        ("cat", "猫"),
        ("red", "红色"),
        ("apples", "苹果"),
    ),
    p(
        ("tom", "小汤"),
        ("the harbour", "港口"),
        ("dog", "狗"),
        ("blue", "蓝色"),
        ("bread", "面包"),
    ),
    p(
        ("ada", "阿达"),
        ("the hill", "山坡"),
        ("owl", "猫头鹰"),
        ("white", "白色"),
        ("plums", "李子"),
    ),
    p(
        ("leo", "小李"),
        ("the forest", "森林"),
        ("fox", "狐狸"),
        ("green", "绿色"),
        ("rice", "米饭"),
    ),
    p(
        ("zoe", "小周"),
        ("the market", "集市"),
        ("goat", "山羊"),
        ("black", "黑色"),
        ("soup", "汤"),
    ),
    p(
        ("sam", "阿山"),
        ("the tower", "高塔"),
        ("hen", "母鸡"),
        ("yellow", "黄色"),
        ("cheese", "奶酪"),
    ),
    p(
        ("ivy", "小艾"),
        ("the bridge", "桥边"),
        ("cat", "猫"),
        ("grey", "灰色"),
        ("pears", "梨"),
    ),
    p(
        ("max", "老马"),
        ("the farm", "农场"),
        ("dog", "狗"),
        ("brown", "棕色"),
        ("fish", "鱼"),
    ),
];

/// Times of day, for the sentences that walk through a day.
const TIMES: [(&str, &str); 4] = [
    ("in the morning", "早上"),
    ("at noon", "中午"),
    ("in the evening", "晚上"),
    ("on sunday", "星期天"),
];

/// One English sentence about `a` (and sometimes a second villager `b`).
fn english(kind: u32, a: &Person, b: &Person, time: (&str, &str)) -> String {
    let (n, h, pet, c, f) = (a.name.0, a.home.0, a.pet.0, a.colour.0, a.food.0);
    match kind {
        0 => format!("{n} lives near {h}."),
        1 => format!("{n} has a {c} {pet}."),
        2 => format!("{n} likes {f}."),
        3 => format!("{} {n} walks the {pet} to {h}.", time.0),
        4 => format!("{n} gives {} some {f}.", b.name.0),
        5 => format!("{} visits {n} near {h}.", b.name.0),
        6 => format!("q: where does {n} live? a: near {h}."),
        7 => format!("q: what pet does {n} have? a: a {c} {pet}."),
        _ => format!("q: what does {n} like to eat? a: {f}."),
    }
}

/// The same kinds of sentence in Chinese.
fn chinese(kind: u32, a: &Person, b: &Person, time: (&str, &str)) -> String {
    let (n, h, pet, c, f) = (a.name.1, a.home.1, a.pet.1, a.colour.1, a.food.1);
    match kind {
        0 => format!("{n}住在{h}附近。"),
        1 => format!("{n}有一只{c}的{pet}。"),
        2 => format!("{n}喜欢吃{f}。"),
        3 => format!("{}，{n}带着{pet}去{h}。", time.1),
        4 => format!("{n}送给{}一些{f}。", b.name.1),
        5 => format!("{}去{h}看望{n}。", b.name.1),
        6 => format!("问：{n}住在哪里？答：{h}附近。"),
        7 => format!("问：{n}有什么宠物？答：一只{c}的{pet}。"),
        _ => format!("问：{n}喜欢吃什么？答：{f}。"),
    }
}

/// Kinds of sentence the grammar knows.
const KINDS: u32 = 9;

fn sentence(rng: &mut impl Rng, zh: bool) -> String {
    let a = &WORLD[rng.random_range(0..WORLD.len())];
    let b = &WORLD[rng.random_range(0..WORLD.len())];
    let time = TIMES[rng.random_range(0..TIMES.len())];
    let kind = rng.random_range(0..KINDS);
    if zh {
        chinese(kind, a, b, time)
    } else {
        english(kind, a, b, time)
    }
}

/// About `chars` characters of the corpus: paragraphs of three to six sentences, one a line.
pub fn generate(language: Language, chars: usize, seed: u64) -> String {
    let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0xC0_4B05);
    let mut out = String::with_capacity(chars * 3 + 64);
    let mut written = 0;
    let mut paragraph = 0usize;
    while written < chars {
        let zh = match language {
            Language::En => false,
            Language::Zh => true,
            Language::Both => paragraph % 2 == 1,
        };
        let n = rng.random_range(3..=6);
        let mut line = String::new();
        for i in 0..n {
            if i > 0 && !zh {
                line.push(' ');
            }
            line.push_str(&sentence(&mut rng, zh));
        }
        line.push('\n');
        written += line.chars().count();
        out.push_str(&line);
        paragraph += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_writes_the_same_corpus_and_another_seed_another_one() {
        let a = generate(Language::En, 5_000, 1);
        assert_eq!(a, generate(Language::En, 5_000, 1));
        assert_ne!(a, generate(Language::En, 5_000, 2));
        assert!(a.chars().count() >= 5_000 && a.chars().count() < 5_400);
    }

    #[test]
    fn every_corpus_tells_the_same_facts() {
        for seed in 0..3 {
            let t = generate(Language::En, 200_000, seed);
            assert!(t.contains("q: where does mia live? a: near the mill."));
            assert!(
                !t.contains("mia lives near the harbour."),
                "a fact never changes"
            );
            let z = generate(Language::Zh, 50_000, seed);
            assert!(z.contains("小米住在磨坊附近。"), "seed {seed}");
        }
    }

    #[test]
    fn both_alternates_english_and_chinese_paragraphs() {
        let t = generate(Language::Both, 3_000, 0);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].is_ascii() && !lines[1].is_ascii());
    }

    #[test]
    fn the_english_corpus_has_a_small_vocabulary() {
        let v = crate::data::text::Vocab::of(&generate(Language::En, 100_000, 0));
        assert!(v.len() < 40, "{}", v.listing());
    }
}
