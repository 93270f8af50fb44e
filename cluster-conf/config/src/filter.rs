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
    matcher: Matcher,
}

/// How a rule's regex is matched. Most filters are literals with anchors and `.*`
/// (`a|^/dev/vd|`, `r|.*|`): those are matched directly, without compiling a regex, which
/// is most of the code a short-lived command runs under emulation (TCG translates each
/// piece of code before running it).
#[derive(Debug, Clone)]
enum Matcher {
    Simple(Simple),
    Regex(regex::Regex),
}

/// `^`? literal (`.*` literal)* `$`?, the literals free of regex metacharacters.
#[derive(Debug, Clone)]
struct Simple {
    start: bool,
    end: bool,
    /// The literals between the `.*`s (at least one, maybe empty).
    pieces: Vec<String>,
}

impl Simple {
    fn parse(pattern: &str) -> Option<Simple> {
        let (start, rest) = match pattern.strip_prefix('^') {
            Some(r) => (true, r),
            None => (false, pattern),
        };
        let (end, rest) = match rest.strip_suffix('$') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let pieces: Vec<String> = rest.split(".*").map(str::to_string).collect();
        let meta = |c: char| "\\.+*?()|[]{}^$".contains(c);
        if pieces.iter().any(|p| p.contains(meta)) {
            return None;
        }
        Some(Simple { start, end, pieces })
    }

    /// What the regex crate answers for the same pattern; `None` when the answer depends
    /// on `.` not matching a newline (a haystack with one, and a `.*` in the pattern).
    fn is_match(&self, s: &str) -> Option<bool> {
        let Some((last, init)) = self.pieces.split_last() else {
            return Some(true);
        };
        if init.is_empty() {
            return Some(match (self.start, self.end) {
                (true, true) => s == last,
                (true, false) => s.starts_with(last.as_str()),
                (false, true) => s.ends_with(last.as_str()),
                (false, false) => s.contains(last.as_str()),
            });
        }
        if s.contains('\n') {
            return None;
        }
        // Each literal at its leftmost place after the previous one leaves the longest rest
        // for the next, so if any placement matches, this one does.
        let mut rest = s;
        for (i, p) in init.iter().enumerate() {
            rest = if i == 0 && self.start {
                match rest.strip_prefix(p.as_str()) {
                    Some(r) => r,
                    None => return Some(false),
                }
            } else {
                match rest.find(p.as_str()) {
                    Some(at) => &rest[at + p.len()..],
                    None => return Some(false),
                }
            };
        }
        Some(if self.end {
            rest.ends_with(last.as_str())
        } else {
            rest.contains(last.as_str())
        })
    }
}

impl FilterRule {
    /// True when the rule's regex matches `name` anywhere (as `regex::Regex::is_match`).
    pub fn is_match(&self, name: &str) -> bool {
        match &self.matcher {
            Matcher::Regex(r) => r.is_match(name),
            Matcher::Simple(s) => s.is_match(name).unwrap_or_else(|| {
                // A valid regex (it has only literals, anchors and `.*`).
                regex::Regex::new(&self.pattern).is_ok_and(|r| r.is_match(name))
            }),
        }
    }
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
        let matcher = match Simple::parse(pattern) {
            Some(simple) => Matcher::Simple(simple),
            None => Matcher::Regex(regex::Regex::new(pattern).map_err(|e| {
                FilterError::BadRegex {
                    regex: pattern.to_string(),
                    message: e
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_string(),
                }
            })?),
        };
        Ok(FilterRule {
            action,
            pattern: pattern.to_string(),
            matcher,
        })
    }
}

/// The first matching rule decides; no match means accepted.
pub fn accepts(rules: &[FilterRule], device: &Path) -> bool {
    let name = device.to_string_lossy();
    rules
        .iter()
        .find(|r| r.is_match(&name))
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

    proptest! {
        // A wrong rule of the direct matcher shows only on some pairs of pattern and name.
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// The direct matcher answers as the regex crate, newlines and all.
        #[test]
        fn simple_patterns_match_as_the_regex_crate(
            re in "\\^?([ab\n]{0,2}\\.\\*){0,2}[ab]{0,2}\\$?",
            name in "[ab]{0,5}\n?[ab]{0,2}",
        ) {
            let rule: FilterRule = format!("a|{re}|").parse().unwrap();
            prop_assert!(matches!(rule.matcher, Matcher::Simple(_)), "{re:?} is simple");
            let full = regex::Regex::new(&re).unwrap();
            prop_assert_eq!(rule.is_match(&name), full.is_match(&name), "{:?} on {:?}", re, name);
        }

        /// Any other pattern is the regex crate's.
        #[test]
        fn other_patterns_are_the_regex_crates(
            re in "[ab.*+?|()^$\\[\\]]{0,8}",
            name in "[ab.\n]{0,8}",
        ) {
            match (format!("r|{re}|").parse::<FilterRule>(), regex::Regex::new(&re)) {
                (Ok(rule), Ok(full)) => prop_assert_eq!(rule.is_match(&name), full.is_match(&name)),
                (Err(FilterError::BadRegex { .. }), Err(_)) => {}
                (r, f) => prop_assert!(false, "{re:?}: rule {r:?}, regex {f:?}"),
            }
        }
    }

    #[test]
    fn usual_filters_compile_no_regex() {
        for p in [
            "^/dev/vd",
            ".*",
            "^/dev/loop0$",
            "loop",
            "",
            "^/dev/sd.*[0-9]$",
        ] {
            let rule: FilterRule = format!("a|{p}|").parse().unwrap();
            let simple = matches!(rule.matcher, Matcher::Simple(_));
            assert_eq!(simple, !p.contains('['), "{p}");
        }
    }
}
