//! An in-memory DLM for many simulated nodes in one process: the kernel's compatibility
//! matrix, NOQUEUE, conversions, lock value blocks (written on release from PW/EX, invalid
//! after the writer's node dies), persistent locks that become orphans when their process goes,
//! and orphan adoption. It never queues: a request that would wait is an error, because the
//! daemon only ever asks with NOQUEUE (or for NL, which is always granted).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{
    Conversion, Dlm, DlmError, DlmLockspace, Flags, Granted, Joined, LockId, LockspaceName, Lvb,
    Mode, Outcome, ResourceName,
};

#[derive(Debug, Clone)]
struct MemLock {
    id: u32,
    node: u32,
    /// The process instance holding it; `None` for an orphan.
    owner: Option<u64>,
    mode: Mode,
    persistent: bool,
}

#[derive(Debug, Default)]
struct Res {
    locks: Vec<MemLock>,
    lvb: Lvb,
    lvb_invalid: bool,
}

#[derive(Debug, Default)]
struct Space {
    members: BTreeSet<u32>,
    res: BTreeMap<String, Res>,
}

#[derive(Debug, Default)]
struct Cluster {
    next_id: u32,
    next_instance: u64,
    spaces: BTreeMap<String, Space>,
    /// Nodes that cannot join (no dlm_controld), for tests of that error.
    down: BTreeSet<u32>,
}

/// One DLM shared by every simulated node.
#[derive(Debug, Clone, Default)]
pub struct MemDlm {
    inner: Arc<Mutex<Cluster>>,
}

/// A holder as [`MemDlm::holders`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub node: u32,
    pub mode: Mode,
    pub orphan: bool,
}

impl MemDlm {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, Cluster> {
        self.inner.lock().expect("MemDlm poisoned")
    }

    /// A new process (daemon instance) on `node`.
    pub fn node(&self, node: u32) -> MemNode {
        let mut c = self.state();
        c.next_instance += 1;
        MemNode {
            dlm: self.clone(),
            node,
            instance: c.next_instance,
        }
    }

    /// Marks `node` as having no DLM (joins fail) or back.
    pub fn set_down(&self, node: u32, down: bool) {
        let mut c = self.state();
        if down {
            c.down.insert(node);
        } else {
            c.down.remove(&node);
        }
    }

    /// The node died and was fenced: every lock it held goes, orphans included; an LVB whose
    /// writer died is marked invalid (`DLM_SBF_VALNOTVALID`), as the kernel's recovery does.
    pub fn crash_node(&self, node: u32) {
        let mut c = self.state();
        for space in c.spaces.values_mut() {
            space.members.remove(&node);
            for r in space.res.values_mut() {
                if r.locks
                    .iter()
                    .any(|l| l.node == node && l.mode.writes_lvb())
                {
                    r.lvb_invalid = true;
                }
                r.locks.retain(|l| l.node != node);
            }
        }
    }

    /// Granted locks on a resource.
    pub fn holders(&self, ls: &str, res: &str) -> Vec<Holder> {
        let c = self.state();
        c.spaces
            .get(ls)
            .and_then(|s| s.res.get(res))
            .map(|r| {
                r.locks
                    .iter()
                    .map(|l| Holder {
                        node: l.node,
                        mode: l.mode,
                        orphan: l.owner.is_none(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Panics if two incompatible locks are granted on one resource anywhere.
    pub fn assert_compatible(&self) {
        let c = self.state();
        for (ls, space) in &c.spaces {
            for (name, r) in &space.res {
                for (i, a) in r.locks.iter().enumerate() {
                    for b in &r.locks[i + 1..] {
                        assert!(
                            a.mode.compatible(b.mode),
                            "{ls}/{name}: node {} holds {} while node {} holds {}",
                            a.node,
                            a.mode,
                            b.node,
                            b.mode
                        );
                    }
                }
            }
        }
    }

    /// The LVB of a resource.
    pub fn lvb(&self, ls: &str, res: &str) -> Option<Lvb> {
        let c = self.state();
        c.spaces.get(ls)?.res.get(res).map(|r| r.lvb)
    }
}

/// One daemon process on one node.
#[derive(Debug, Clone)]
pub struct MemNode {
    dlm: MemDlm,
    node: u32,
    instance: u64,
}

impl MemNode {
    pub fn node_id(&self) -> u32 {
        self.node
    }
}

impl Dlm for MemNode {
    fn join(&self, name: &LockspaceName) -> Result<Joined, DlmError> {
        let mut c = self.dlm.state();
        if c.down.contains(&self.node) {
            return Err(DlmError::Join {
                name: name.to_string(),
                source: io::Error::from_raw_os_error(libc::ENOENT),
            });
        }
        let space = c.spaces.entry(name.to_string()).or_default();
        let existed = !space.members.insert(self.node);
        Ok(Joined {
            ls: Box::new(MemLockspace {
                dlm: self.dlm.clone(),
                node: self.node,
                instance: self.instance,
                name: name.clone(),
                released: false,
            }),
            existed,
        })
    }

    fn joined_here(&self) -> Result<Vec<LockspaceName>, DlmError> {
        let c = self.dlm.state();
        Ok(c.spaces
            .iter()
            .filter(|(_, s)| s.members.contains(&self.node))
            .filter_map(|(n, _)| LockspaceName::new(n).ok())
            .collect())
    }
}

/// A lockspace joined by one [`MemNode`].
#[derive(Debug)]
pub struct MemLockspace {
    dlm: MemDlm,
    node: u32,
    instance: u64,
    name: LockspaceName,
    released: bool,
}

impl MemLockspace {
    fn err(&self, op: &'static str, res: &ResourceName, kind: io::Error) -> DlmError {
        DlmError::Call {
            op,
            lockspace: self.name.to_string(),
            resource: res.to_string(),
            source: kind,
        }
    }

    fn would_wait(&self, op: &'static str, res: &ResourceName) -> DlmError {
        self.err(
            op,
            res,
            io::Error::new(
                io::ErrorKind::WouldBlock,
                "the in-memory DLM does not queue requests (use NOQUEUE)",
            ),
        )
    }
}

fn grant(r: &Res, lkid: u32, flags: Flags) -> Outcome {
    Outcome::Granted(Granted {
        lkid: LockId(lkid),
        lvb: flags.valblk.then_some(r.lvb),
        lvb_invalid: flags.valblk && r.lvb_invalid,
    })
}

impl DlmLockspace for MemLockspace {
    fn name(&self) -> &LockspaceName {
        &self.name
    }

    fn lock(&mut self, res: &ResourceName, mode: Mode, flags: Flags) -> Result<Outcome, DlmError> {
        let mut c = self.dlm.state();
        c.next_id += 1;
        let id = c.next_id;
        let space = c.spaces.get_mut(self.name.as_str()).expect("joined");
        let r = space.res.entry(res.to_string()).or_default();
        if !r.locks.iter().all(|l| l.mode.compatible(mode)) {
            drop(c);
            return if flags.noqueue {
                Ok(Outcome::WouldBlock)
            } else {
                Err(self.would_wait("lock", res))
            };
        }
        r.locks.push(MemLock {
            id,
            node: self.node,
            owner: Some(self.instance),
            mode,
            persistent: flags.persistent,
        });
        Ok(grant(r, id, flags))
    }

    fn convert(&mut self, res: &ResourceName, to: Conversion<'_>) -> Result<Outcome, DlmError> {
        let Conversion {
            lkid,
            mode,
            flags,
            lvb,
        } = to;
        let mut c = self.dlm.state();
        let space = c.spaces.get_mut(self.name.as_str()).expect("joined");
        let r = space.res.entry(res.to_string()).or_default();
        let Some(i) = r
            .locks
            .iter()
            .position(|l| l.id == lkid.0 && l.owner == Some(self.instance))
        else {
            drop(c);
            return Err(DlmError::UnknownLock {
                lockspace: self.name.to_string(),
                lkid: lkid.0,
            });
        };
        let others_ok = r
            .locks
            .iter()
            .enumerate()
            .all(|(j, l)| j == i || l.mode.compatible(mode));
        if !others_ok {
            drop(c);
            return if flags.noqueue {
                Ok(Outcome::WouldBlock)
            } else {
                Err(self.would_wait("convert", res))
            };
        }
        let old = r.locks[i].mode;
        if flags.valblk && old.writes_lvb() && mode < old {
            if let Some(v) = lvb {
                r.lvb = *v;
                r.lvb_invalid = false;
            }
        }
        r.locks[i].mode = mode;
        r.locks[i].persistent |= flags.persistent;
        Ok(grant(r, lkid.0, flags))
    }

    fn unlock(&mut self, res: &ResourceName, lkid: LockId) -> Result<(), DlmError> {
        let mut c = self.dlm.state();
        let space = c.spaces.get_mut(self.name.as_str()).expect("joined");
        let found = space.res.get_mut(res.as_str()).and_then(|r| {
            let i = r
                .locks
                .iter()
                .position(|l| l.id == lkid.0 && l.owner == Some(self.instance))?;
            r.locks.remove(i);
            Some(())
        });
        drop(c);
        found.ok_or(DlmError::UnknownLock {
            lockspace: self.name.to_string(),
            lkid: lkid.0,
        })
    }

    fn adopt(&mut self, res: &ResourceName, mode: Mode) -> Result<Outcome, DlmError> {
        let mut c = self.dlm.state();
        let space = c.spaces.get_mut(self.name.as_str()).expect("joined");
        let Some(r) = space.res.get_mut(res.as_str()) else {
            return Ok(Outcome::NoOrphan);
        };
        let orphan = r
            .locks
            .iter()
            .position(|l| l.node == self.node && l.owner.is_none());
        match orphan {
            None => Ok(Outcome::NoOrphan),
            Some(i) if r.locks[i].mode != mode => Ok(Outcome::WouldBlock),
            Some(i) => {
                r.locks[i].owner = Some(self.instance);
                Ok(grant(r, r.locks[i].id, Flags::default()))
            }
        }
    }

    fn release(mut self: Box<Self>) -> Result<(), DlmError> {
        self.released = true;
        let mut c = self.dlm.state();
        if let Some(space) = c.spaces.get_mut(self.name.as_str()) {
            space.members.remove(&self.node);
            for r in space.res.values_mut() {
                r.locks.retain(|l| l.node != self.node);
            }
        }
        Ok(())
    }
}

impl Drop for MemLockspace {
    /// The process closed the lockspace (or died): its persistent locks become orphans, the
    /// others go; the lockspace stays joined.
    fn drop(&mut self) {
        if self.released {
            return;
        }
        let Ok(mut c) = self.dlm.inner.lock() else {
            return;
        };
        if let Some(space) = c.spaces.get_mut(self.name.as_str()) {
            for r in space.res.values_mut() {
                r.locks
                    .retain(|l| l.owner != Some(self.instance) || l.persistent);
                for l in &mut r.locks {
                    if l.owner == Some(self.instance) {
                        l.owner = None;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ls() -> LockspaceName {
        LockspaceName::for_vg("vg").unwrap()
    }
    const NQ: Flags = Flags {
        noqueue: true,
        valblk: true,
        persistent: true,
        expedite: false,
    };

    fn granted(o: Outcome) -> Granted {
        match o {
            Outcome::Granted(g) => g,
            o => panic!("not granted: {o:?}"),
        }
    }

    #[test]
    fn ex_excludes_pr_on_another_node_and_lvb_travels() {
        let dlm = MemDlm::new();
        let mut a = dlm.node(1).join(&ls()).unwrap().ls;
        let mut b = dlm.node(2).join(&ls()).unwrap().ls;
        let r = ResourceName::vglk();
        let la = granted(a.lock(&r, Mode::Nl, Flags::default()).unwrap()).lkid;
        let lb = granted(b.lock(&r, Mode::Nl, Flags::default()).unwrap()).lkid;
        granted(a.convert(&r, Conversion::to(la, Mode::Ex, NQ)).unwrap());
        assert_eq!(
            b.convert(&r, Conversion::to(lb, Mode::Pr, NQ)).unwrap(),
            Outcome::WouldBlock
        );
        let v = [7u8; 32];
        a.convert(&r, Conversion::to(la, Mode::Nl, NQ).with_lvb(&v))
            .unwrap();
        let g = granted(b.convert(&r, Conversion::to(lb, Mode::Pr, NQ)).unwrap());
        assert_eq!(g.lvb, Some(v));
        assert!(!g.lvb_invalid);
        dlm.assert_compatible();
    }

    #[test]
    fn persistent_locks_become_orphans_and_are_adopted() {
        let dlm = MemDlm::new();
        let lv = ResourceName::lv("abcdef0123456789ABCDEF0123456789").unwrap();
        let j = dlm.node(1).join(&ls()).unwrap();
        assert!(!j.existed);
        let mut a = j.ls;
        let id = granted(a.lock(&lv, Mode::Nl, Flags::default()).unwrap()).lkid;
        a.convert(&lv, Conversion::to(id, Mode::Ex, NQ)).unwrap();
        drop(a); // the daemon is killed
        let h = dlm.holders("lvm_vg", lv.as_str());
        assert_eq!(
            h,
            vec![Holder {
                node: 1,
                mode: Mode::Ex,
                orphan: true
            }]
        );
        // another node is still refused
        let mut b = dlm.node(2).join(&ls()).unwrap().ls;
        let idb = granted(b.lock(&lv, Mode::Nl, Flags::default()).unwrap()).lkid;
        assert_eq!(
            b.convert(&lv, Conversion::to(idb, Mode::Ex, NQ)).unwrap(),
            Outcome::WouldBlock
        );
        // the restarted daemon finds the lockspace joined and adopts
        let j = dlm.node(1).join(&ls()).unwrap();
        assert!(j.existed);
        let mut a2 = j.ls;
        assert_eq!(a2.adopt(&lv, Mode::Pr).unwrap(), Outcome::WouldBlock);
        let g = granted(a2.adopt(&lv, Mode::Ex).unwrap());
        assert_eq!(a2.adopt(&lv, Mode::Ex).unwrap(), Outcome::NoOrphan);
        a2.unlock(&lv, g.lkid).unwrap();
        granted(b.convert(&lv, Conversion::to(idb, Mode::Ex, NQ)).unwrap());
    }

    #[test]
    fn crash_invalidates_the_lvb_of_a_dead_writer() {
        let dlm = MemDlm::new();
        let mut a = dlm.node(1).join(&ls()).unwrap().ls;
        let r = ResourceName::vglk();
        let id = granted(a.lock(&r, Mode::Nl, NQ).unwrap()).lkid;
        a.convert(&r, Conversion::to(id, Mode::Ex, NQ)).unwrap();
        dlm.crash_node(1);
        let mut b = dlm.node(2).join(&ls()).unwrap().ls;
        let g = granted(b.lock(&r, Mode::Pr, NQ).unwrap());
        assert!(g.lvb_invalid);
    }

    #[test]
    fn release_drops_everything_and_down_nodes_cannot_join() {
        let dlm = MemDlm::new();
        let mut a = dlm.node(1).join(&ls()).unwrap().ls;
        let r = ResourceName::vglk();
        a.lock(&r, Mode::Ex, NQ).unwrap();
        a.release().unwrap();
        assert!(dlm.holders("lvm_vg", "VGLK").is_empty());
        dlm.set_down(3, true);
        assert!(dlm.node(3).join(&ls()).is_err());
    }
}
