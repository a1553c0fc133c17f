//! Interface language: English or Chinese, chosen from `LANG` and toggled with `L`.
//!
//! Owns only the choice of language and the tiny helper that picks one of two strings.
//! Lesson prose carries both languages itself (see `lessons::I18nText`).

use serde::{Deserialize, Serialize};

/// The language the interface speaks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Lang {
    #[default]
    En,
    Zh,
}

impl Lang {
    /// Chinese when `LANG` (or `LC_ALL`, `LC_MESSAGES`) starts with `zh`, English otherwise.
    pub fn from_env() -> Lang {
        for key in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(value) = std::env::var(key) {
                if value.is_empty() {
                    continue;
                }
                return Lang::from_locale(&value);
            }
        }
        Lang::En
    }

    /// Reads a locale string such as `zh_CN.UTF-8` or `en_US.UTF-8`.
    pub fn from_locale(locale: &str) -> Lang {
        if locale.to_ascii_lowercase().starts_with("zh") {
            Lang::Zh
        } else {
            Lang::En
        }
    }

    /// The other language.
    pub fn toggled(self) -> Lang {
        match self {
            Lang::En => Lang::Zh,
            Lang::Zh => Lang::En,
        }
    }

    /// Picks the string for this language.
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chinese_locale_selects_chinese() {
        assert_eq!(Lang::from_locale("zh_CN.UTF-8"), Lang::Zh);
        assert_eq!(Lang::from_locale("zh_TW"), Lang::Zh);
    }

    #[test]
    fn any_other_locale_selects_english() {
        assert_eq!(Lang::from_locale("en_US.UTF-8"), Lang::En);
        assert_eq!(Lang::from_locale("C"), Lang::En);
        assert_eq!(Lang::from_locale("de_DE"), Lang::En);
    }

    #[test]
    fn toggling_twice_returns_to_the_start() {
        assert_eq!(Lang::En.toggled().toggled(), Lang::En);
        assert_eq!(Lang::En.toggled(), Lang::Zh);
    }
}
