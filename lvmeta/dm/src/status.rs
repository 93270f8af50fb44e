//! Sync progress from dm-mirror and dm-raid status lines.

/// Regions (or sectors) in sync out of the total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncStatus {
    pub in_sync: u64,
    pub total: u64,
}

impl SyncStatus {
    pub fn percent(&self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            self.in_sync as f64 * 100.0 / self.total as f64
        }
    }
}

fn ratio(s: &str) -> Option<SyncStatus> {
    let (a, b) = s.split_once('/')?;
    Some(SyncStatus {
        in_sync: a.parse().ok()?,
        total: b.parse().ok()?,
    })
}

/// Parses a status line's parameters for its target: `mirror` (`2 253:1 253:2 8/8 1 AA 1 core`:
/// the ratio follows the devices) or `raid` (`raid1 2 AA 16384/16384 idle 0 0 -`). None for
/// other targets or a line it cannot read.
pub fn sync_percent(target: &str, params: &str) -> Option<SyncStatus> {
    let f: Vec<&str> = params.split_whitespace().collect();
    match target {
        "mirror" => {
            let n: usize = f.first()?.parse().ok()?;
            ratio(f.get(1 + n)?)
        }
        "raid" => ratio(f.get(3)?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_and_raid_status_lines() {
        let m = sync_percent("mirror", "2 253:1 253:2 3/8 1 AA 1 core").unwrap();
        assert_eq!((m.in_sync, m.total), (3, 8));
        assert!((m.percent() - 37.5).abs() < 1e-9);
        let r = sync_percent("raid", "raid1 2 AA 16384/16384 idle 0 0 -").unwrap();
        assert_eq!(r.percent(), 100.0);
        assert_eq!(sync_percent("linear", "8:0 0"), None);
        assert_eq!(sync_percent("mirror", "garbage"), None);
        assert_eq!(sync_percent("raid", "raid1 2 AA x/y"), None);
    }
}
