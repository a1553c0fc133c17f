//! The lessons found in a directory: valid ones and broken ones side by side.
//!
//! The browser lists both; a broken lesson is shown with its errors, never hidden.

use std::path::{Path, PathBuf};

use super::{Lesson, LessonErrors};

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
    entries.sort_by_key(Entry::sort_key);
    Ok(entries)
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
    let entries = scan(dir)
        .map_err(|e| format!("cannot read the lessons directory {}: {e}", dir.display()))?;
    for e in &entries {
        if let Entry::Ok(l) = e
            && l.id == name
        {
            return Ok(l.path().to_path_buf());
        }
        let stem = e
            .path()
            .file_stem()
            .map(|s| s.to_string_lossy().to_string());
        if stem.as_deref() == Some(name) {
            return Ok(e.path().to_path_buf());
        }
    }
    let ids: Vec<String> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Ok(l) => Some(l.id.clone()),
            _ => None,
        })
        .collect();
    let hint = match super::parse::did_you_mean(name, &ids) {
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
