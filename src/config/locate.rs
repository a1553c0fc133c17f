//! Finds where a key path sits in the text of a YAML lesson file.
//!
//! The YAML parser gives positions for syntax and type errors, but a value that parses and is
//! still wrong (a negative learning rate) is found later, by the validators, on a tree that has
//! no positions. This module maps a key path such as `train.lr` back to its line and column by
//! reading the block structure of the file: keys nested by indentation, plus keys inside a
//! one-line flow mapping (`title: {en: …, zh: …}`). It never fails; it returns the deepest part
//! of the path that it could find, or nothing.

/// Line and column (both 1-based) of the deepest key of `path` found in `text`.
pub fn locate(text: &str, path: &[&str]) -> Option<(usize, usize)> {
    if path.is_empty() {
        return None;
    }
    // Stack of (indent, key) for the block mappings enclosing the current line.
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut best: Option<(usize, (usize, usize))> = None; // (matched depth, position)
    // While inside a block scalar (`key: |`), lines indented deeper than this are prose.
    let mut block_indent: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = strip_comment(raw);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with("---") {
            continue;
        }
        let mut indent = line.len() - trimmed.len();
        if let Some(b) = block_indent {
            if indent > b {
                continue;
            }
            block_indent = None;
        }
        let mut body = trimmed;
        // A list item "- key: value" opens a mapping two columns further in.
        while let Some(rest) = body.strip_prefix("- ") {
            indent += 2;
            body = rest.trim_start();
        }
        let Some((key, after)) = split_key(body) else {
            continue;
        };
        while stack.last().is_some_and(|(ind, _)| *ind >= indent) {
            stack.pop();
        }
        stack.push((indent, key.to_string()));
        let depth = matched_depth(&stack, path);
        if depth == stack.len() && depth > best.map_or(0, |b| b.0) {
            best = Some((depth, (i + 1, indent + 1)));
        }
        // Keys inside a flow mapping on this line: `title: {en: Hello, zh: 你好}`.
        if depth == stack.len()
            && depth < path.len()
            && let Some(col) = find_flow_key(line, indent + key.len(), path[depth])
            && depth + 1 > best.map_or(0, |b| b.0)
        {
            best = Some((depth + 1, (i + 1, col)));
        }
        let value = after.trim();
        if value.starts_with('|') || value.starts_with('>') {
            block_indent = Some(indent);
        }
    }
    best.map(|b| b.1)
}

/// How many leading segments of `path` the stack of keys matches (all of the stack, or 0).
fn matched_depth(stack: &[(usize, String)], path: &[&str]) -> usize {
    if stack.len() > path.len() {
        return 0;
    }
    for (level, (_, key)) in stack.iter().enumerate() {
        if key != path[level] {
            return 0;
        }
    }
    stack.len()
}

/// `key: rest` → (key, rest), with simple quoting removed.
fn split_key(body: &str) -> Option<(&str, &str)> {
    let colon = body.find(':')?;
    let after = &body[colon + 1..];
    if !(after.is_empty() || after.starts_with(' ') || after.starts_with('\t')) {
        return None;
    }
    let key = body[..colon].trim().trim_matches('"').trim_matches('\'');
    if key.is_empty() || key.contains(' ') && !body.starts_with('"') {
        return None;
    }
    Some((key, after))
}

/// Column (1-based) of `key:` inside a `{…}` on this line, searching after `from`.
fn find_flow_key(line: &str, from: usize, key: &str) -> Option<usize> {
    let rest = line.get(from..)?;
    let open = rest.find('{')?;
    let mut search = from + open + 1;
    while let Some(pos) = line.get(search..)?.find(key) {
        let start = search + pos;
        let before = line[..start].trim_end().chars().last();
        let after = line.get(start + key.len()..).unwrap_or("");
        if matches!(before, Some('{') | Some(',')) && after.trim_start().starts_with(':') {
            return Some(line[..start].chars().count() + 1);
        }
        search = start + key.len();
    }
    None
}

/// The line without a trailing `# comment` (a `#` inside quotes is kept).
fn strip_comment(line: &str) -> &str {
    let mut in_single = false;
    let mut in_double = false;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !in_double => in_single = !in_single,
            '"' if !in_single => in_double = !in_double,
            '#' if !in_single && !in_double && (prev == ' ' || prev == '\t' || i == 0) => {
                return &line[..i];
            }
            _ => {}
        }
        prev = c;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
id: demo            # a comment: with colon
title: {en: Hello, zh: 你好}
train:
  steps: 100
  lr: -0.5
model:
  kind: linear-regression
  layers:
    - width: 3
      act: relu
summary:
  en: |
    lr: this line is prose, not a key
";

    #[test]
    fn a_top_level_key_is_found_on_its_line() {
        assert_eq!(locate(DOC, &["id"]), Some((1, 1)));
    }

    #[test]
    fn a_nested_key_is_found_under_its_parent() {
        assert_eq!(locate(DOC, &["train", "lr"]), Some((5, 3)));
    }

    #[test]
    fn a_key_inside_a_flow_mapping_is_found_on_the_same_line() {
        assert_eq!(locate(DOC, &["title", "zh"]), Some((2, 20)));
    }

    #[test]
    fn a_missing_key_falls_back_to_its_deepest_parent() {
        assert_eq!(locate(DOC, &["train", "batch_size"]), Some((3, 1)));
    }

    #[test]
    fn keys_in_list_items_are_found() {
        assert_eq!(locate(DOC, &["model", "layers", "act"]), Some((10, 7)));
    }

    #[test]
    fn an_absent_path_gives_nothing() {
        assert_eq!(locate(DOC, &["nothing"]), None);
    }
}
