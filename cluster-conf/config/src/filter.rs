//! LVM `devices/filter` entries: `a` or `r`, a separator, a regex, the closing separator.
//!
//! As in lvm2's `_extract_pattern`: the separator is any character, except that `(`, `[` and
//! `{` close with `)`, `]` and `}`; the regex is everything between the opening separator and
//! the last character, which must be the closing separator (so `a|sd[ab]|1|` is the regex
//! `sd[ab]|1`). The first rule that matches decides; an unmatched device is accepted.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// Accept or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterAction {
    Accept,
    Reject,
}

/// Why a filter entry is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("filter entry must begin with 'a' (accept) or 'r' (reject), found {found:?}")]
    BadAction { found: Option<char> },
    #[error("filter entry has no separator after '{action}'")]
    NoSeparator { action: char },
    #[error("filter entry must end with the separator '{expected}'")]
    Unterminated { expected: char },
    #[error("invalid regex {regex:?}: {message}")]
    BadRegex { regex: String, message: String },
}

/// One parsed entry.
#[derive(Debug, Clone)]
pub struct FilterRule {
    pub action: FilterAction,
    /// The regex text between the separators.
    pub pattern: String,
    pub regex: regex::Regex,
}

impl PartialEq for FilterRule {
    fn eq(&self, other: &Self) -> bool {
        self.action == other.action && self.pattern == other.pattern
    }
}

impl fmt::Display for FilterRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = match self.action {
            FilterAction::Accept => 'a',
            FilterAction::Reject => 'r',
        };
        write!(f, "{a}|{}|", self.pattern)
    }
}

/// The closing separator for an opening one.
pub fn closing_separator(open: char) -> char {
    match open {
        '(' => ')',
        '[' => ']',
        '{' => '}',
        c => c,
    }
}

impl FromStr for FilterRule {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, FilterError> {
        let mut chars = s.chars();
        let action = match chars.next() {
            Some('a') => FilterAction::Accept,
            Some('r') => FilterAction::Reject,
            found => return Err(FilterError::BadAction { found }),
        };
        let action_char = s.chars().next().unwrap_or('a');
        let Some(open) = chars.next() else {
            return Err(FilterError::NoSeparator {
                action: action_char,
            });
        };
        let close = closing_separator(open);
        let rest = chars.as_str();
        let Some(pattern) = rest.strip_suffix(close) else {
            return Err(FilterError::Unterminated { expected: close });
        };
        let regex = regex::Regex::new(pattern).map_err(|e| FilterError::BadRegex {
            regex: pattern.to_string(),
            message: e
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string(),
        })?;
        Ok(FilterRule {
            action,
            pattern: pattern.to_string(),
            regex,
        })
    }
}

/// The first matching rule decides; no match means accepted.
pub fn accepts(rules: &[FilterRule], device: &Path) -> bool {
    let name = device.to_string_lossy();
    rules
        .iter()
        .find(|r| r.regex.is_match(&name))
        .is_none_or(|r| r.action == FilterAction::Accept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_lvm_forms() {
        let r: FilterRule = "a|^/dev/loop0$|".parse().unwrap();
        assert_eq!(r.action, FilterAction::Accept);
        assert_eq!(r.pattern, "^/dev/loop0$");
        let r: FilterRule = "r(.*)".parse().unwrap();
        assert_eq!(r.action, FilterAction::Reject);
        assert_eq!(r.pattern, ".*");
        let r: FilterRule = "a[sd[ab]]".parse().unwrap();
        assert_eq!(r.pattern, "sd[ab]");
        let r: FilterRule = "a{x}".parse().unwrap();
        assert_eq!(r.pattern, "x");
        let r: FilterRule = "a#/dev/sd.*#".parse().unwrap();
        assert_eq!(r.pattern, "/dev/sd.*");
        // lvm trims only the last character: inner separators stay in the regex.
        let r: FilterRule = "a|sda|sdb|".parse().unwrap();
        assert_eq!(r.pattern, "sda|sdb");
        let r: FilterRule = "a||".parse().unwrap();
        assert_eq!(r.pattern, "");
    }

    #[test]
    fn rejects_bad_entries() {
        assert_eq!(
            "x|a|".parse::<FilterRule>().unwrap_err(),
            FilterError::BadAction { found: Some('x') }
        );
        assert_eq!(
            "".parse::<FilterRule>().unwrap_err(),
            FilterError::BadAction { found: None }
        );
        assert_eq!(
            "a".parse::<FilterRule>().unwrap_err(),
            FilterError::NoSeparator { action: 'a' }
        );
        assert_eq!(
            "a|foo".parse::<FilterRule>().unwrap_err(),
            FilterError::Unterminated { expected: '|' }
        );
        assert_eq!(
            "a(foo(".parse::<FilterRule>().unwrap_err(),
            FilterError::Unterminated { expected: ')' }
        );
        assert!(matches!(
            "a|sd[a|".parse::<FilterRule>().unwrap_err(),
            FilterError::BadRegex { .. }
        ));
    }

    #[test]
    fn first_match_decides() {
        let rules: Vec<FilterRule> = ["a|^/dev/loop0$|", "r|.*|"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert!(accepts(&rules, Path::new("/dev/loop0")));
        assert!(!accepts(&rules, Path::new("/dev/loop1")));
        assert!(!accepts(&rules, Path::new("/dev/sda")));
        let only_reject: Vec<FilterRule> = vec!["r|^/dev/sda|".parse().unwrap()];
        assert!(accepts(&only_reject, Path::new("/dev/sdb")));
        assert!(accepts(&[], Path::new("/dev/anything")));
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = s.parse::<FilterRule>();
        }

        #[test]
        fn round_trips_plain_regexes(re in "\\^?[a-z/0-9]{0,15}(\\.\\*)?\\$?", accept in any::<bool>()) {
            let text = format!("{}|{}|", if accept { 'a' } else { 'r' }, re);
            let rule: FilterRule = text.parse().unwrap();
            prop_assert_eq!(rule.pattern.as_str(), re.as_str());
            prop_assert_eq!(rule.to_string(), text);
        }
    }
}
