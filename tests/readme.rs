//! The README's *Models* section says what the code does: for every registered kind, the
//! panels it lists are the ones the family declares, the optimizer it marks as the default
//! (with its learning rate and steps) is the family's, and every key default written as a
//! value (a number, a word, a list) is the default a lesson gets when it leaves the key out.
//! Defaults described in words ("the largest degree", "T") are left to the prose.

use std::path::Path;

use mllab::lessons::Lesson;
use mllab::models::KINDS;
use serde_yaml::Value;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The README's paragraph and key table for `kind`, up to the next kind.
fn section<'a>(text: &'a str, kind: &str) -> &'a str {
    let start = text
        .find(&format!("**`kind: {kind}`**"))
        .unwrap_or_else(|| panic!("the README has no section for kind `{kind}`"));
    let rest = &text[start + 4..];
    let end = rest
        .find("**`kind: ")
        .or_else(|| rest.find("\n### "))
        .unwrap_or(rest.len());
    &text[start..start + 4 + end]
}

/// The lesson a file gets with nothing but `model: {kind: KIND}`.
fn defaults_of(kind: &str) -> Lesson {
    let text = format!(
        "id: t\nchapter: 2\norder: 1\ntitle: {{en: t, zh: t}}\nsummary: {{en: t, zh: t}}\nmodel: {{kind: {kind}}}\n"
    );
    Lesson::from_text(Path::new("defaults.yaml"), &text, &[])
        .unwrap_or_else(|e| panic!("{kind} with every default: {e:?}"))
}

/// Text outside parentheses: "`loss` (with `mmd`), `fit`" → "`loss` , `fit`".
fn outside_parentheses(s: &str) -> String {
    let mut depth = 0usize;
    s.chars()
        .filter(|&c| {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => return depth == 0,
            }
            false
        })
        .collect()
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Sequence(x), Value::Sequence(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        _ => a == b,
    }
}

#[test]
fn the_readme_lists_each_kinds_declared_panels() {
    let text = readme();
    for kind in KINDS {
        let s = section(&text, kind);
        let after = &s[s.find("Panels:").expect("a Panels: sentence")..];
        let listed = &after[..after.find("Optimizer").unwrap_or(after.len())];
        let named = backticked(&outside_parentheses(listed));
        let declared = defaults_of(kind).model.panels();
        assert_eq!(
            named, declared,
            "{kind}: the README's panels vs the family's"
        );
    }
}

#[test]
fn the_readme_names_each_kinds_default_optimizer_rate_and_steps() {
    let text = readme();
    for kind in KINDS {
        let s = section(&text, kind).replace('\n', " ");
        let lesson = defaults_of(kind);
        let t = &lesson.train;
        let opt = serde_yaml::to_value(t.optimizer).unwrap();
        let opt = opt.as_str().unwrap();
        let marked = s
            .find(&format!("`{opt}` (default"))
            .unwrap_or_else(|| panic!("{kind}: the README does not mark `{opt}` as the default"));
        let note = &s[marked..marked + s[marked..].find(')').unwrap()];
        assert!(
            note.contains(&format!("{} steps", t.steps))
                || note.contains(&format!("{} steps", group(t.steps))),
            "{kind}: {note} vs {} steps",
            t.steps
        );
        let lr = serde_yaml::to_string(&t.lr).unwrap();
        let lr = lr.trim();
        assert!(
            note.contains(&format!("lr {lr}")) || note.contains(&format!("lr {}", t.lr)),
            "{kind}: {note} vs lr {}",
            t.lr
        );
    }
}

fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn every_key_default_the_readme_writes_as_a_value_is_the_codes() {
    let text = readme();
    let mut compared = 0;
    for kind in KINDS {
        let s = section(&text, kind);
        let model = serde_yaml::to_value(&defaults_of(kind).model).unwrap();
        for row in s.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            // "`width`, `blocks` | 512, 3": two keys in one row.
            let keys: Vec<&str> = cells[1].split(", ").map(|k| k.trim_matches('`')).collect();
            // "50 (the lesson: 100)": the default is what comes before the parenthesis.
            let cell = cells[2].split(" (").next().unwrap().trim();
            let written: Vec<&str> = if keys.len() > 1 {
                cell.split(", ").collect()
            } else {
                vec![cell]
            };
            assert_eq!(keys.len(), written.len(), "{kind}: {row}");
            for (key, written) in keys.into_iter().zip(written) {
                let written = written.trim_matches('`');
                let actual = model.get(key);
                if written == "absent" {
                    assert!(
                        actual.is_none_or(Value::is_null),
                        "{kind}: the README says {key} is absent by default; the code sets it"
                    );
                    compared += 1;
                    continue;
                }
                let Ok(value) = serde_yaml::from_str::<Value>(written) else {
                    continue;
                };
                // A default in words ("the largest degree", "T") is prose, not a value.
                if matches!(&value, Value::String(w) if w.contains(' ') || w.len() == 1) {
                    continue;
                }
                let actual = actual.unwrap_or_else(|| {
                    panic!("{kind}: the README lists `{key}`, which the spec lacks")
                });
                assert!(
                    same(&value, actual),
                    "{kind}: the README says {key} defaults to {written}; the code says {}",
                    serde_yaml::to_string(actual).unwrap().trim()
                );
                compared += 1;
            }
        }
    }
    assert!(compared >= 20, "only {compared} defaults were compared");
}
