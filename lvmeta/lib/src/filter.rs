//! lvm's device filters (`devices/global_filter`, then `devices/filter`) over device paths.
//!
//! The entries are parsed by `halvm_config::filter` (the one parser of lvm's filter syntax,
//! shared with `halvm.toml`'s validation): `a` or `r`, a separator, a regex, the closing
//! separator (`(`, `[`, `{` close with `)`, `]`, `}`). In each list the first matching rule
//! decides and an unmatched device is accepted; a device must pass both lists, as in lvm2.

pub use halvm_config::filter::{FilterAction, FilterError, FilterRule};

#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    global: Vec<FilterRule>,
    rules: Vec<FilterRule>,
}

fn parse_list<S: AsRef<str>>(entries: &[S]) -> Result<Vec<FilterRule>, FilterError> {
    entries.iter().map(|e| e.as_ref().parse()).collect()
}

fn list_accepts(rules: &[FilterRule], path: &str) -> bool {
    halvm_config::filter::accepts(rules, std::path::Path::new(path))
}

impl DeviceFilter {
    /// `devices/filter` alone.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, FilterError> {
        Ok(DeviceFilter {
            global: Vec::new(),
            rules: parse_list(entries)?,
        })
    }

    /// `devices/global_filter` and `devices/filter`.
    pub fn with_global<S: AsRef<str>, T: AsRef<str>>(
        global: &[S],
        filter: &[T],
    ) -> Result<Self, FilterError> {
        Ok(DeviceFilter {
            global: parse_list(global)?,
            rules: parse_list(filter)?,
        })
    }

    /// True when the device path passes both lists.
    pub fn accepts(&self, path: &str) -> bool {
        list_accepts(&self.global, path) && list_accepts(&self.rules, path)
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.global.is_empty()
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

    /// The defect of issue 12: `a(loop)` loaded in halvm.toml but lvmeta's own parser
    /// (which wanted `(` to close the entry) refused it, so lvmeta exited 3.
    #[test]
    fn bracket_separators_close_like_lvm2() {
        let f = DeviceFilter::parse(&["a(loop)", "r{.*}"]).unwrap();
        assert!(f.accepts("/dev/loop3"));
        assert!(!f.accepts("/dev/sda"));
        let f = DeviceFilter::parse(&["a[^/dev/vd]", "r|.*|"]).unwrap();
        assert!(f.accepts("/dev/vdb"));
        // Whatever halvm.toml accepts, the scan accepts.
        for e in ["a(loop)", "a[sd[ab]]", "r{x}", "a#/dev/sd.*#", "a|sda|sdb|"] {
            assert!(e.parse::<FilterRule>().is_ok());
            assert!(DeviceFilter::parse(&[e]).is_ok(), "{e}");
        }
    }

    #[test]
    fn global_filter_applies_first() {
        let f = DeviceFilter::with_global(&["r|^/dev/sda|"], &["a|.*|"]).unwrap();
        assert!(!f.accepts("/dev/sda1"));
        assert!(f.accepts("/dev/sdb"));
        let f = DeviceFilter::with_global(&["a|.*|"], &["r|loop|"]).unwrap();
        assert!(!f.accepts("/dev/loop0"));
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
        /// One parser: an entry halvm.toml's validation accepts is one the scan accepts.
        #[test]
        fn config_and_scan_agree(s in "[ar][|(\\[{#/][a-z^$.*/]{0,8}[|)\\]}#/]") {
            prop_assert_eq!(s.parse::<FilterRule>().is_ok(), DeviceFilter::parse(&[&s]).is_ok());
        }
    }
}
