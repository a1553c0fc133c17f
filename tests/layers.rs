//! The program's layers depend one way: each top-level module of `src/` uses only modules
//! below it in [`LAYERS`], so there is no cycle among them. The check reads the source for
//! `crate::<module>` paths (test code included), so a new upward use fails here with the file
//! that made it.

use std::path::{Path, PathBuf};

/// Lowest first. A module may use the ones before it, never one after it.
const LAYERS: &[&str] = &[
    "clock",
    "i18n",
    "input_error",
    "linalg",
    "tensor",
    "nn",
    "metrics",
    "visual",
    "config",
    "data",
    "models",
    "lessons",
    "run",
    "saves",
    "bench",
    "ui",
    "cli",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file names with `crate::`.
fn uses(text: &str) -> Vec<String> {
    text.match_indices("crate::")
        .map(|(i, _)| {
            text[i + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|m| LAYERS.contains(&m.as_str()))
        .collect()
}

#[test]
fn every_top_level_module_is_in_the_layer_list() {
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if ["lib", "main"].contains(&name.as_str()) {
            continue;
        }
        assert!(
            LAYERS.contains(&name.as_str()),
            "src/{name} is not placed in tests/layers.rs's LAYERS"
        );
    }
}

#[test]
fn no_module_uses_one_above_it() {
    let mut upward = Vec::new();
    for (rank, layer) in LAYERS.iter().enumerate() {
        let dir = src().join(layer);
        let mut files = Vec::new();
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(src().join(format!("{layer}.rs")));
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for used in uses(&text) {
                let used_rank = LAYERS.iter().position(|l| *l == used).unwrap();
                if used_rank > rank {
                    let shown = file.strip_prefix(src()).unwrap().display().to_string();
                    upward.push(format!("src/{shown} ({layer}) uses {used}"));
                }
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "uses that point up:\n{}",
        upward.join("\n")
    );
}
