//! How deeply a lesson's YAML nests, measured before the YAML parser sees the text.
//!
//! The parser takes time quadratic in the nesting depth (100,000 levels under one key took
//! 33 s, and delayed `mllab list` and the browser as long), while a real lesson nests four or
//! five levels. This scan reads the text once, line by line, in linear time, and stops at the
//! first place deeper than [`MAX_DEPTH`]. It counts block collections by their columns (a key
//! or a `- ` item opens one where none was open at that column) and flow collections by their
//! brackets `[` `{`, skipping comments, quoted text and block scalars (`|`, `>`), so a
//! bracket in prose is not counted. It only has to be right about nesting far beyond any
//! lesson's; the YAML parser still judges the syntax.

/// Deepest nesting of collections a lesson may have.
pub const MAX_DEPTH: usize = 64;

/// Where the text first nests deeper than `max` collections: 1-based line and column.
pub fn too_deep(text: &str, max: usize) -> Option<(usize, usize)> {
    let mut scan = Scan::default();
    for (i, line) in text.lines().enumerate() {
        if let Some(column) = scan.line(line, max) {
            return Some((i + 1, column));
        }
    }
    None
}

#[derive(Default)]
struct Scan {
    /// Columns of the block collections open at the current line, innermost last.
    blocks: Vec<usize>,
    /// Open `[` and `{`.
    flow: usize,
    /// Inside quoted text that goes on past the end of a line: its quote character.
    quote: Option<u8>,
    /// Inside a block scalar: the indentation of the line that opened it.
    block_scalar: Option<usize>,
}

impl Scan {
    /// Reads one line; returns the column (1-based) where the depth first passes `max`.
    fn line(&mut self, line: &str, max: usize) -> Option<usize> {
        let bytes = line.as_bytes();
        let indent = bytes.iter().take_while(|&&b| b == b' ').count();
        if let Some(parent) = self.block_scalar {
            if indent > parent || line.trim().is_empty() {
                return None;
            }
            self.block_scalar = None;
        }
        if self.flow > 0 || self.quote.is_some() {
            return self.lex(bytes, 0, self.flow > 0, max);
        }
        let rest = &line[indent..];
        if rest.is_empty() || rest.starts_with('#') {
            return None;
        }
        if indent == 0 && (is_marker(rest, "---") || is_marker(rest, "...")) {
            self.blocks.clear();
            return None;
        }
        while self.blocks.last().is_some_and(|&c| c > indent) {
            self.blocks.pop();
        }
        let mut at = indent;
        loop {
            let rest = &bytes[at..];
            let item = rest.first().is_some_and(|&b| b == b'-' || b == b'?')
                && rest.get(1).is_none_or(|&b| b == b' ');
            let key = if item { None } else { key_end(rest) };
            if !item && key.is_none() {
                break;
            }
            self.open_block(at);
            if self.blocks.len() > max {
                return Some(at + 1);
            }
            match key {
                None => at = skip_spaces(bytes, at + 1),
                Some(value) => {
                    at = skip_spaces(bytes, at + value);
                    break;
                }
            }
        }
        match bytes.get(at) {
            Some(b'|') | Some(b'>') => {
                self.block_scalar = Some(indent);
                None
            }
            Some(b'[') | Some(b'{') | Some(b'"') | Some(b'\'') => self.lex(bytes, at, true, max),
            // A plain scalar: brackets inside it are text.
            _ => None,
        }
    }

    fn open_block(&mut self, column: usize) {
        if self.blocks.last() != Some(&column) {
            self.blocks.push(column);
        }
    }

    /// Reads flow syntax and quoted text from `at` to the end of the line.
    fn lex(
        &mut self,
        bytes: &[u8],
        mut at: usize,
        mut node_start: bool,
        max: usize,
    ) -> Option<usize> {
        while at < bytes.len() {
            let b = bytes[at];
            if let Some(q) = self.quote {
                if q == b'"' && b == b'\\' {
                    at += 2;
                    continue;
                }
                if b == q {
                    if q == b'\'' && bytes.get(at + 1) == Some(&b'\'') {
                        at += 2;
                        continue;
                    }
                    self.quote = None;
                    node_start = false;
                }
                at += 1;
                continue;
            }
            match b {
                b'#' if at == 0 || bytes[at - 1] == b' ' || bytes[at - 1] == b'\t' => return None,
                b'[' | b'{' => {
                    self.flow += 1;
                    if self.blocks.len() + self.flow > max {
                        return Some(at + 1);
                    }
                    node_start = true;
                }
                b']' | b'}' => {
                    self.flow = self.flow.saturating_sub(1);
                    node_start = false;
                }
                b',' => node_start = true,
                b':' if bytes.get(at + 1).is_none_or(|&n| n == b' ') => node_start = true,
                b'"' | b'\'' if node_start => self.quote = Some(b),
                b' ' | b'\t' => {}
                _ => node_start = false,
            }
            if self.flow == 0 && self.quote.is_none() && !node_start {
                // Back in block context after the collection or text closed: the rest is a
                // comment or an error the parser will name.
                return None;
            }
            at += 1;
        }
        None
    }
}

/// `---` or `...` alone or followed by a space.
fn is_marker(rest: &str, marker: &str) -> bool {
    rest.strip_prefix(marker)
        .is_some_and(|after| after.is_empty() || after.starts_with([' ', '\t']))
}

/// For `key: value` (plain or quoted key), the offset just past the colon.
fn key_end(rest: &[u8]) -> Option<usize> {
    let first = *rest.first()?;
    if matches!(first, b'[' | b'{' | b'#' | b'|' | b'>') {
        return None;
    }
    let mut at = 0;
    if first == b'"' || first == b'\'' {
        at = 1 + rest[1..].iter().position(|&b| b == first)? + 1;
    }
    while at < rest.len() {
        match rest[at] {
            b':' if rest.get(at + 1).is_none_or(|&b| b == b' ' || b == b'\t') => {
                return Some(at + 1);
            }
            b'#' if at > 0 && rest[at - 1] == b' ' => return None,
            _ => at += 1,
        }
    }
    None
}

fn skip_spaces(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at) == Some(&b' ') {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lesson_nests_a_few_levels() {
        let text = "id: x\nmodel:\n  kind: ddpm\n  channels: [16, 32, 32]\ntitle: {en: a, zh: b}\n";
        assert_eq!(too_deep(text, 3), None);
        assert_eq!(too_deep(text, 1), Some((3, 3)));
    }

    #[test]
    fn flow_brackets_count_across_lines() {
        let text = "a: [[\n  [[1]]]]\n";
        assert_eq!(too_deep(text, 5), None);
        assert_eq!(too_deep(text, 4), Some((2, 4)));
    }

    #[test]
    fn list_items_on_one_line_count_each() {
        assert_eq!(too_deep("- - - - a\n", 4), None);
        assert_eq!(too_deep("- - - - a\n", 3), Some((1, 7)));
    }

    #[test]
    fn brackets_in_prose_comments_and_quotes_do_not_count() {
        let text = "a: see [[[[ this\nb: |\n  [[[[[[\nc: \"[[[[\" # [[[[\nd: it's [[[[\n";
        assert_eq!(too_deep(text, 1), None);
    }

    #[test]
    fn deep_indentation_counts() {
        let mut text = String::new();
        for i in 0..10 {
            text += &format!("{}k{i}:\n", " ".repeat(i));
        }
        assert_eq!(too_deep(&text, 10), None);
        assert_eq!(too_deep(&text, 9), Some((10, 10)));
    }
}
