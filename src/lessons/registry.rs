//! The lessons found in a directory: valid ones and broken ones side by side.
//!
//! The browser lists both; a broken lesson is shown with its errors, never hidden. Two files
//! with the same `id` are both broken: the id names the lesson's saves folder and what `run`
//! picks, so neither may be chosen silently over the other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Lesson, LessonError, LessonErrors};

/// One `*.yaml` file under the lessons directory.
#[derive(Clone, Debug)]
pub enum Entry {
    Ok(Box<Lesson>),
    Broken { path: PathBuf, errors: LessonErrors },
}

impl Entry {
    pub fn path(&self) -> &Path {
        match self {
            Entry::Ok(l) => l.path(),
            Entry::Broken { path, .. } => path,
        }
    }

    /// Sort key: chapter, order, then file name; broken files go to the end.
    fn sort_key(&self) -> (u32, u32, String) {
        let name = self
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        match self {
            Entry::Ok(l) => (l.chapter, l.order, name),
            Entry::Broken { .. } => (u32::MAX, 0, name),
        }
    }
}

/// Reads every `.yaml`/`.yml` file in `dir` (not recursive), sorted by chapter and order.
pub fn scan(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut entries = load_all(dir)?;
    let shared = shared_ids(&entries);
    for entry in &mut entries {
        if let Entry::Ok(l) = entry
            && let Some(paths) = shared.get(&l.id)
        {
            let others: Vec<&PathBuf> = paths.iter().filter(|p| *p != l.path()).collect();
            *entry = Entry::Broken {
                path: l.path().to_path_buf(),
                errors: LessonErrors(vec![same_id_error(l, &others)]),
            };
        }
    }
    entries.sort_by_key(Entry::sort_key);
    Ok(entries)
}

/// Every lesson file of `dir`, each checked on its own.
fn load_all(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for item in std::fs::read_dir(dir)? {
        let path = item?.path();
        let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        if !is_yaml || !path.is_file() {
            continue;
        }
        entries.push(match Lesson::load_checked(&path, &[]) {
            Ok(l) => Entry::Ok(Box::new(l)),
            Err(errors) => Entry::Broken { path, errors },
        });
    }
    // Sorted by file name, so that messages list the files in the same order every time.
    entries.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(entries)
}

/// The ids that more than one valid lesson has, with their files.
fn shared_ids(entries: &[Entry]) -> BTreeMap<String, Vec<PathBuf>> {
    let mut by_id: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for e in entries {
        if let Entry::Ok(l) = e {
            by_id
                .entry(l.id.clone())
                .or_default()
                .push(l.path().to_path_buf());
        }
    }
    by_id.retain(|_, paths| paths.len() > 1);
    by_id
}

fn same_id_error(lesson: &Lesson, others: &[&PathBuf]) -> LessonError {
    let others: Vec<String> = others.iter().map(|p| p.display().to_string()).collect();
    let line = super::read::read_lesson_text(lesson.path())
        .ok()
        .and_then(|text| crate::config::locate::locate(&text, &["id"]));
    LessonError::key(
        lesson.path(),
        "id",
        Some(format!("{:?}", lesson.id)),
        format!(
            "the id `{}` is also the id of {}; lessons with one id would share a saves folder",
            lesson.id,
            others.join(" and ")
        ),
        "give each lesson its own id (and keep the file name the same as the id)",
    )
    .at(line)
}

/// Finds a lesson by file path or by id among the files in `dir`.
pub fn resolve(name: &str, dir: &Path) -> Result<PathBuf, String> {
    let as_path = Path::new(name);
    if as_path.is_file() {
        return Ok(as_path.to_path_buf());
    }
    if let Ok(meta) = std::fs::metadata(as_path)
        && !meta.is_dir()
    {
        // A named pipe or a device: loading it says what it is, without reading it.
        return Ok(as_path.to_path_buf());
    }
    let mut entries = load_all(dir)
        .map_err(|e| format!("cannot read the lessons directory {}: {e}", dir.display()))?;
    let shared = shared_ids(&entries);
    entries.sort_by_key(Entry::sort_key);
    let refuse_shared = |id: &str| -> Result<(), String> {
        match shared.get(id) {
            Some(paths) => {
                let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                Err(format!(
                    "the lesson id `{id}` is used by {} files: {}. Give each lesson its own id",
                    paths.len(),
                    paths.join(" and ")
                ))
            }
            None => Ok(()),
        }
    };
    refuse_shared(name)?;
    for e in &entries {
        if let Entry::Ok(l) = e
            && l.id == name
        {
            return Ok(l.path().to_path_buf());
        }
    }
    for e in &entries {
        let stem = e
            .path()
            .file_stem()
            .map(|s| s.to_string_lossy().to_string());
        if stem.as_deref() == Some(name) {
            if let Entry::Ok(l) = e {
                refuse_shared(&l.id)?;
            }
            return Ok(e.path().to_path_buf());
        }
    }
    let ids: Vec<String> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Ok(l) if !shared.contains_key(&l.id) => Some(l.id.clone()),
            _ => None,
        })
        .collect();
    let hint = match crate::config::parse::did_you_mean(name, &ids) {
        Some(best) => format!(" Did you mean `{best}`?"),
        None => String::new(),
    };
    Err(format!(
        "no lesson file or id `{name}` in {}.{hint} Known lessons: {}",
        dir.display(),
        if ids.is_empty() {
            "none".to_string()
        } else {
            ids.join(", ")
        }
    ))
}
