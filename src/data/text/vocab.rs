//! A character vocabulary: every distinct character of a text, sorted, each with an id. Text
//! outside it (a prompt with a character the model never saw) is an error that names the
//! character and lists what the model knows.

use serde::{Deserialize, Serialize};

/// Characters sorted by code point; a character's id is its index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocab {
    chars: Vec<char>,
}

/// How a character is shown in messages: itself, or a name for the invisible ones.
pub fn show_char(c: char) -> String {
    match c {
        '\n' => "⏎ (newline)".into(),
        '\t' => "⇥ (tab)".into(),
        ' ' => "␣ (space)".into(),
        c if c.is_control() => format!("U+{:04X}", c as u32),
        c => c.to_string(),
    }
}

impl Vocab {
    /// The characters of `text`.
    pub fn of(text: &str) -> Vocab {
        let mut chars: Vec<char> = text.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        Vocab { chars }
    }

    /// A vocabulary of exactly these characters (sorted and deduplicated).
    pub fn from_chars(chars: impl IntoIterator<Item = char>) -> Vocab {
        let mut chars: Vec<char> = chars.into_iter().collect();
        chars.sort_unstable();
        chars.dedup();
        Vocab { chars }
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    pub fn id(&self, c: char) -> Option<u32> {
        self.chars.binary_search(&c).ok().map(|i| i as u32)
    }

    pub fn char(&self, id: u32) -> char {
        self.chars.get(id as usize).copied().unwrap_or('\u{fffd}')
    }

    /// Ids of `text`, whose characters all come from this vocabulary.
    pub(crate) fn encode_known(&self, text: &str) -> Vec<u32> {
        text.chars().filter_map(|c| self.id(c)).collect()
    }

    /// Ids of `text`, or an error naming the first character the vocabulary lacks (`what`
    /// says whose text it is, e.g. "the prompt").
    pub fn encode(&self, text: &str, what: &str) -> Result<Vec<u32>, String> {
        text.chars()
            .enumerate()
            .map(|(i, c)| {
                self.id(c).ok_or_else(|| {
                    format!(
                        "{what}'s character {} (character {} of it) is not among the {} characters the model was trained on: {}. Write {what} with those characters only",
                        show_char(c),
                        i + 1,
                        self.len(),
                        self.listing()
                    )
                })
            })
            .collect()
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        ids.iter().map(|&i| self.char(i)).collect()
    }

    /// The characters as one line, the invisible ones named.
    pub fn listing(&self) -> String {
        self.chars
            .iter()
            .map(|&c| match c {
                '\n' => "⏎".to_string(),
                ' ' => "␣".to_string(),
                c if c.is_control() => format!("U+{:04X}", c as u32),
                c => c.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The characters as one string (for a weights file's metadata).
    pub fn to_text(&self) -> String {
        self.chars.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_code_point_order_and_round_trip() {
        let v = Vocab::of("hello, 世界");
        assert_eq!(v.len(), 8);
        let ids = v.encode("hello", "the prompt").unwrap();
        assert_eq!(v.decode(&ids), "hello");
        assert_eq!(
            (v.id(' '), v.id(',')),
            (Some(0), Some(1)),
            "' ' is 0x20, ',' 0x2C"
        );
    }

    #[test]
    fn a_character_the_model_never_saw_is_named_with_the_known_ones() {
        let v = Vocab::of("ab c\n");
        let e = v.encode("abz", "the prompt").unwrap_err();
        assert!(e.contains("character z (character 3 of it)"), "{e}");
        assert!(e.contains("⏎ ␣ a b c"), "{e}");
    }
}
