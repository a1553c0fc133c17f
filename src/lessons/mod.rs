//! Lesson files: YAML in, a validated `Lesson` out.
//!
//! A lesson is read in one pass that collects every error it can find (unknown keys with a
//! "did you mean", wrong types, values out of range, sizes that would exhaust memory), each
//! placed at its file, line and column. Only a lesson without errors becomes a `Lesson`, so the
//! rest of the program never sees an invalid one. This module never writes a lesson file.
//!
//! Before any of that, the file must be a small regular file of UTF-8 text (`read`), nested no
//! deeper than a lesson needs (`prescan`), and one YAML document whose keys each appear once
//! (`tree`): those problems are found before the YAML parser could stall or word them badly.

pub mod overrides;
pub mod prescan;
pub mod read;
pub mod registry;
pub mod tree;

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_yaml::Value;

pub use crate::config::error::{LessonError, LessonErrors};
pub use crate::config::spec::{I18nText, Optimizer, Schedule, TrainSpec, ViewSpec};
pub use overrides::Override;

use crate::config::parse::{self, Ctx};
use crate::config::spec;
use crate::data::DataSpec;
use crate::models::ModelSpec;

/// The course's chapters: number, English and Chinese name.
pub const CHAPTERS: &[(u32, &str, &str)] = &[
    (1, "ChatGPT and language models", "ChatGPT 与语言模型"),
    (2, "Regression", "回归"),
    (3, "Classification", "分类"),
    (4, "Image generators", "图像生成模型"),
    (5, "Diffusion models", "扩散模型"),
];

/// Lessons may not plan to use more memory than this (checked before anything is allocated).
pub const MEMORY_LIMIT_BYTES: u64 = 4 << 30;

const TOP_KEYS: &[&str] = &[
    "id", "chapter", "order", "title", "summary", "model", "data", "train", "view",
];

/// A lesson that passed every check. Build one with [`Lesson::load`] or [`Lesson::from_text`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Lesson {
    pub id: String,
    pub chapter: u32,
    pub order: u32,
    pub title: I18nText,
    pub summary: I18nText,
    pub model: ModelSpec,
    pub data: DataSpec,
    pub train: TrainSpec,
    pub view: ViewSpec,
    #[serde(skip)]
    path: PathBuf,
}

impl Lesson {
    /// Reads and validates a lesson file, with `--set` overrides applied on top.
    pub fn load(path: &Path, overrides: &[Override]) -> Result<Lesson, LessonErrors> {
        let text = read::read_lesson_text(path)?;
        Lesson::from_text(path, &text, overrides)
    }

    /// Validates lesson text; `path` is only used in messages and to find the file again.
    pub fn from_text(
        path: &Path,
        text: &str,
        overrides: &[Override],
    ) -> Result<Lesson, LessonErrors> {
        let mut ctx = Ctx::new(path, text);
        let mut root = yaml_tree(path, text)?;
        if !root.is_mapping() {
            let message = if root.is_null() {
                "the file is empty: a lesson is a mapping of keys (id, title, model, …)".to_string()
            } else {
                format!(
                    "a lesson file must be a mapping of keys (id, title, model, …), not {}",
                    parse::show_value(&root)
                )
            };
            return Err(LessonError::file(
                path,
                message,
                "start from one of the files in lessons/",
            )
            .into());
        }
        for o in overrides {
            match o.apply(&mut root) {
                Ok(()) => {
                    ctx.overridden.insert(o.key.clone());
                }
                Err(msg) => ctx.errors.push(
                    LessonError::key(
                        path,
                        &o.key,
                        Some(o.raw.clone()),
                        msg,
                        "give a key path such as train.lr=0.01",
                    )
                    .tap_override(),
                ),
            }
        }
        let lesson = check_root(&mut ctx, &root, path);
        let mut errors = ctx.errors;
        if errors.is_empty()
            && let Some(lesson) = lesson
        {
            return Ok(lesson);
        }
        errors.sort_by_key(|e| (e.line.unwrap_or(usize::MAX), e.column.unwrap_or(0)));
        Err(LessonErrors(errors))
    }

    /// Reads the lesson's data file, if it has one, and reports its problems as lesson errors
    /// (file, line, column). Replays do not call this: they need no data.
    pub fn check_data(&self) -> Result<(), LessonErrors> {
        self.data.check_file(self.model.data_shape()).map_err(|e| {
            let hint = if matches!(self.data, crate::data::DataSpec::Text(_)) {
                "fix the text file, or point data.path at another (any UTF-8 text will do)"
            } else {
                "fix the CSV file; README.md lists the columns each lesson expects"
            };
            let mut err = LessonError::key(
                &e.file,
                "data.path",
                e.column.as_ref().map(|(_, name)| name.clone()),
                e.message.clone(),
                hint,
            );
            err.line = e.line.map(|l| l as usize);
            err.column = e.column.as_ref().map(|(c, _)| *c);
            LessonErrors(vec![err])
        })
    }

    /// Loads a lesson and, when that succeeds, checks its data file too.
    pub fn load_checked(path: &Path, overrides: &[Override]) -> Result<Lesson, LessonErrors> {
        let lesson = Lesson::load(path, overrides)?;
        lesson.check_data()?;
        Ok(lesson)
    }

    /// The file this lesson was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lesson with every default filled in, as YAML that `from_text` reads back.
    pub fn to_resolved_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_default()
    }

    /// The chapter's name in a language.
    pub fn chapter_name(&self, lang: crate::i18n::Lang) -> &'static str {
        chapter_name(self.chapter, lang)
    }
}

/// The YAML tree of a lesson file as written (no validation), read with the same checks as
/// [`Lesson::load`]: a regular file under the size cap, UTF-8, not nested too deeply, one
/// document, no duplicate keys.
pub fn read_yaml(path: &Path) -> Result<Value, LessonErrors> {
    let text = read::read_lesson_text(path)?;
    yaml_tree(path, &text)
}

/// Text to tree, refusing deep nesting before the YAML parser (quadratic in the depth) runs.
fn yaml_tree(path: &Path, text: &str) -> Result<Value, LessonErrors> {
    if let Some(position) = prescan::too_deep(text, prescan::MAX_DEPTH) {
        return Err(LessonError::file(
            path,
            format!(
                "the values here are nested more than {} levels deep; a lesson needs a few",
                prescan::MAX_DEPTH
            ),
            "close the brackets `[` `{` or indent less: the lesson reference in README.md shows each section's shape",
        )
        .at(Some(position))
        .into());
    }
    tree::read_tree(path, text)
}

/// The name of chapter `n`.
pub fn chapter_name(n: u32, lang: crate::i18n::Lang) -> &'static str {
    CHAPTERS
        .iter()
        .find(|c| c.0 == n)
        .map(|c| lang.pick(c.1, c.2))
        .unwrap_or("?")
}

trait TapOverride {
    fn tap_override(self) -> Self;
}
impl TapOverride for LessonError {
    fn tap_override(mut self) -> Self {
        self.from_override = true;
        self
    }
}

fn check_root(ctx: &mut Ctx, root: &Value, path: &Path) -> Option<Lesson> {
    let map = root.as_mapping()?;
    for (key, written) in map {
        let name = key
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| parse::show_value(key));
        if !TOP_KEYS.contains(&name.as_str()) {
            let allowed: Vec<String> = TOP_KEYS.iter().map(|s| s.to_string()).collect();
            let hint = match parse::did_you_mean(&name, &allowed) {
                Some(best) => format!(
                    "did you mean `{best}`? Allowed keys here: {}",
                    allowed.join(", ")
                ),
                None => format!("allowed keys here: {}", allowed.join(", ")),
            };
            ctx.error(
                &name,
                Some(parse::show_value(written)),
                format!("unknown key `{name}`"),
                hint,
            );
        }
    }
    let get = |k: &str| map.get(Value::String(k.to_string()));
    let required = |ctx: &mut Ctx, k: &str| -> Option<Value> {
        match get(k) {
            Some(v) => Some(v.clone()),
            None => {
                ctx.error(
                    k,
                    None,
                    format!("the key `{k}` is missing"),
                    "every lesson needs id, chapter, order, title, summary and model",
                );
                None
            }
        }
    };

    let id: Option<String> = required(ctx, "id").and_then(|v| ctx.typed("id", &v));
    let id = id.filter(|id| {
        let ok = !id.is_empty()
            && id.len() <= 48
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            ctx.error(
                "id",
                Some(format!("{id:?}")),
                "a lesson id is 1 to 48 lowercase letters, digits and dashes",
                "write it like `regression-gd`",
            );
        }
        ok
    });
    let chapter: Option<u32> = required(ctx, "chapter").and_then(|v| ctx.typed("chapter", &v));
    let chapter =
        chapter.filter(|c| ctx.check_range("chapter", *c, 1, CHAPTERS.len() as u32, "the chapter"));
    let order: Option<u32> = required(ctx, "order").and_then(|v| ctx.typed("order", &v));
    let order =
        order.filter(|o| ctx.check_range("order", *o, 1, 99, "the order within the chapter"));
    let title: Option<I18nText> = required(ctx, "title").and_then(|v| ctx.typed("title", &v));
    let summary: Option<I18nText> = required(ctx, "summary").and_then(|v| ctx.typed("summary", &v));
    for (key, text) in [("title", &title), ("summary", &summary)] {
        if let Some(t) = text {
            for (lang, s) in [("en", &t.en), ("zh", &t.zh)] {
                if s.trim().is_empty() {
                    ctx.error(
                        &format!("{key}.{lang}"),
                        Some("\"\"".into()),
                        "this text is empty",
                        "write the text in both English (en) and Chinese (zh)",
                    );
                }
            }
        }
    }

    // Each section is read even when another is broken, so every error shows at once.
    let model = required(ctx, "model").and_then(|v| ModelSpec::parse(ctx, &v));
    let train_file: Option<spec::TrainFile> = match get("train") {
        None | Some(Value::Null) => Some(spec::TrainFile::default()),
        Some(v) => ctx.typed("train", v),
    };
    let view_file: Option<spec::ViewFile> = match get("view") {
        None | Some(Value::Null) => Some(spec::ViewFile::default()),
        Some(v) => ctx.typed("view", v),
    };
    let model = model?;
    let lesson_dir = path.parent().unwrap_or(Path::new("."));
    let data = DataSpec::parse(
        ctx,
        get("data"),
        model.default_data(),
        model.data_shape(),
        lesson_dir,
    );
    let train = train_file.and_then(|t| t.check(ctx, &model.train_defaults()));
    let view = view_file.and_then(|v| v.check(ctx, model.panels()));

    let (data, train) = (data?, train?);
    let plan = model.memory(&data, &train);
    let need = plan.total();
    if need > MEMORY_LIMIT_BYTES {
        let (key, value) = plan
            .driver()
            .map(|p| (p.key.clone(), p.value.clone()))
            .unwrap_or_default();
        ctx.error(
            &key,
            Some(value),
            format!(
                "these sizes would need about {:.1} GiB of memory ({}), more than the {} GiB a lesson may use",
                need as f64 / (1u64 << 30) as f64,
                plan.describe(),
                MEMORY_LIMIT_BYTES >> 30
            ),
            match plan.keys_by_size().iter().find(|k| **k != key) {
                Some(next) => format!("make `{key}` smaller, or `{next}`"),
                None => format!("make `{key}` smaller"),
            },
        );
        return None;
    }
    Some(Lesson {
        id: id?,
        chapter: chapter?,
        order: order?,
        title: title?,
        summary: summary?,
        model,
        data,
        train,
        view: view?,
        path: path.to_path_buf(),
    })
}
