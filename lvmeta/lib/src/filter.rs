//! lvm `devices/filter` semantics: a list of `a<d>regex<d>` (accept) and `r<d>regex<d>` (reject)
//! patterns with any delimiter `<d>`; the first pattern that matches a device path decides;
//! a device no pattern matches is accepted.

use regex::Regex;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("invalid filter entry {entry:?}: {reason}")]
    Syntax { entry: String, reason: String },
}

#[derive(Debug, Clone)]
struct Rule {
    accept: bool,
    re: Regex,
}

#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    rules: Vec<Rule>,
}

impl DeviceFilter {
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, FilterError> {
        let mut rules = Vec::with_capacity(entries.len());
        for e in entries {
            let entry = e.as_ref();
            let err = |reason: &str| FilterError::Syntax {
                entry: entry.to_string(),
                reason: reason.to_string(),
            };
            let mut chars = entry.chars();
            let accept = match chars.next() {
                Some('a') => true,
                Some('r') => false,
                _ => return Err(err("must start with 'a' (accept) or 'r' (reject)")),
            };
            let delim = chars.next().ok_or_else(|| err("missing delimiter"))?;
            let rest = chars.as_str();
            let body = rest
                .strip_suffix(delim)
                .ok_or_else(|| err("missing closing delimiter"))?;
            let re = Regex::new(body).map_err(|e| err(&format!("bad regex: {e}")))?;
            rules.push(Rule { accept, re });
        }
        Ok(DeviceFilter { rules })
    }

    /// True when the device path passes the filter.
    pub fn accepts(&self, path: &str) -> bool {
        for r in &self.rules {
            if r.re.is_match(path) {
                return r.accept;
            }
        }
        true
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_match_wins() {
        let f = DeviceFilter::parse(&["a|^/dev/loop1$|", "r|loop|", "a|.*|"]).unwrap();
        assert!(f.accepts("/dev/loop1"));
        assert!(!f.accepts("/dev/loop2"));
        assert!(f.accepts("/dev/sda"));
    }

    #[test]
    fn no_match_accepts_and_other_delimiters() {
        let f = DeviceFilter::parse(&["r/sd[a-c]/"]).unwrap();
        assert!(!f.accepts("/dev/sdb"));
        assert!(f.accepts("/dev/vda"));
        assert!(DeviceFilter::parse::<&str>(&[]).unwrap().accepts("/dev/x"));
    }

    #[test]
    fn syntax_errors() {
        for bad in ["x|a|", "a", "a|abc", "r|(|"] {
            assert!(DeviceFilter::parse(&[bad]).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn reject_all_rejects_everything(p in "/dev/[a-z0-9]{1,10}") {
            let f = DeviceFilter::parse(&["r|.*|"]).unwrap();
            prop_assert!(!f.accepts(&p));
        }
        #[test]
        fn parse_never_panics(s in ".{0,20}") {
            let _ = DeviceFilter::parse(&[s]);
        }
    }
}
