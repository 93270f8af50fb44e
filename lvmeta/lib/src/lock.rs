//! VG and global locking behind a trait, so local `flock` locking, an in-memory one for tests
//! and (later) the clvmd-rs socket client are interchangeable.
//!
//! Order: the global lock (PV/VG name space, lvm's GLLK) is taken before any VG lock.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use nix::fcntl::{Flock, FlockArg};

/// Shared for reads (PR), exclusive for writes (EX).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Shared,
    Exclusive,
}

/// What is locked: one VG's metadata, or the global PV/VG name space.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LockTarget {
    Global,
    Vg(String),
}

impl std::fmt::Display for LockTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LockTarget::Global => write!(f, "global lock"),
            LockTarget::Vg(vg) => write!(f, "lock for VG {vg}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot create lock directory {dir}: {source}")]
    LockDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot take {target} ({file}): {source}")]
    Acquire {
        target: LockTarget,
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{target} is held elsewhere and was not waited for")]
    Busy { target: LockTarget },
    #[error("invalid VG name {name:?} for a lock")]
    BadName { name: String },
    /// A shared VG without the cluster lock daemon (lvm2 without lvmlockd).
    #[error("VG {vg} has lock type {lock_type}: it needs the cluster lock daemon (clvmd-rs)")]
    NeedsCluster { vg: String, lock_type: String },
    /// A cluster lock refused because another node holds it (lvm2 says "held by other
    /// host"; the cluster lock daemon knows which).
    #[error("{what} is locked by {holder}")]
    HeldElsewhere { what: String, holder: String },
    /// The cluster lock manager failed (daemon unreachable, lockspace not started, ...).
    #[error("{what}: {message}")]
    Cluster { what: String, message: String },
}

/// A held lock; dropping it releases the lock.
pub trait HeldLock: Send {
    fn target(&self) -> &LockTarget;
    fn mode(&self) -> LockMode;
    /// Tells the lock manager the VG seqno just committed under this lock (a DLM lock value
    /// block carries it to other nodes); local managers ignore it.
    fn note_committed_seqno(&mut self, _seqno: u64) {}
    /// Tells the lock manager the VG was removed under this lock (lvm2 sets `VBF_REMOVED` in
    /// the DLM lock value block so other nodes learn it); local managers ignore it.
    fn note_removed(&mut self) {}
    /// Tells the lock manager the commit under this lock only added LVs of their own (no
    /// existing LV, PV or name changed): no node has device-mapper tables to reload, so a
    /// cluster lock manager need not announce it (the lock value block still carries the
    /// seqno). Local managers ignore it.
    fn note_only_added_lvs(&mut self) {}
    /// Tells the lock manager this command could not write any metadata copy of the VG
    /// (`error`); `policy` is the VG's own `halvm_dgfail_*` setting (`dgdisable`, `leave`).
    /// A cluster lock manager applies its metadata-loss policy; local managers ignore it.
    fn note_metadata_lost(&mut self, _error: &str, _policy: Option<&str>) {}
    /// This command could write no metadata copy of the VG: a cluster lock manager has
    /// another node write `req.text` as the commit while this lock is held EX. `Some(Ok)`:
    /// written, by the node named; `Some(Err)`: not written, why (the manager applied its
    /// metadata-loss policy); `None`: this manager carries nothing (local locks), and
    /// [`HeldLock::note_metadata_lost`] follows.
    fn carry_commit(&mut self, _req: &CarryRequest<'_>) -> Option<Result<String, String>> {
        None
    }
    /// The VG seqno last committed under this lock as the lock manager knows it when granted
    /// (a DLM lock value block); None when it does not know (local locks, a lost LVB).
    fn committed_seqno(&self) -> Option<u64> {
        None
    }
}

/// A commit another node may write for this command ([`HeldLock::carry_commit`]).
#[derive(Debug, Clone, Copy)]
pub struct CarryRequest<'a> {
    pub vg_uuid: &'a str,
    /// The seqno on disk the commit follows (the text's is one more).
    pub disk_seqno: u64,
    /// The complete metadata text, as this command would have written it.
    pub text: &'a str,
    /// Why this command wrote no copy.
    pub error: &'a str,
    /// The VG's own `halvm_dgfail_*` setting (`dgdisable`, `leave`).
    pub policy: Option<&'a str>,
}

/// A shared VG as the cluster lock daemons see it (one view from any node): per LV UUID the
/// nodes where it is active and how (`node1:ex`, `node2:sh`, or the DLM mode under an
/// activation mode), and the VG's activation modes (`node1:ew`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    pub lvs: std::collections::HashMap<String, Vec<String>>,
    pub modes: Vec<String>,
}

/// An LV suspended on every node by [`LockManager::suspend_lv_everywhere`].
pub trait SuspendedLv: Send {
    /// After the commit: every node loads the new tables and resumes; an error says which
    /// node did not (or that the nodes disagree on the size).
    fn resume(self: Box<Self>) -> Result<(), LockError>;
}

/// A lock guard as returned by a [`LockManager`].
pub struct LockGuard(Box<dyn HeldLock>);

impl LockGuard {
    pub fn new(inner: Box<dyn HeldLock>) -> Self {
        LockGuard(inner)
    }
    pub fn target(&self) -> &LockTarget {
        self.0.target()
    }
    pub fn mode(&self) -> LockMode {
        self.0.mode()
    }
    pub fn note_committed_seqno(&mut self, seqno: u64) {
        self.0.note_committed_seqno(seqno)
    }
    pub fn note_removed(&mut self) {
        self.0.note_removed()
    }
    pub fn note_only_added_lvs(&mut self) {
        self.0.note_only_added_lvs()
    }
    pub fn note_metadata_lost(&mut self, error: &str, policy: Option<&str>) {
        self.0.note_metadata_lost(error, policy)
    }
    pub fn carry_commit(&mut self, req: &CarryRequest<'_>) -> Option<Result<String, String>> {
        self.0.carry_commit(req)
    }
    pub fn committed_seqno(&self) -> Option<u64> {
        self.0.committed_seqno()
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LockGuard({}, {:?})", self.target(), self.mode())
    }
}

/// Takes VG and global locks. Blocking: a call returns once the lock is granted.
pub trait LockManager: Send + Sync {
    fn lock(&self, target: &LockTarget, mode: LockMode) -> Result<LockGuard, LockError>;

    fn lock_vg(&self, vg: &str, mode: LockMode) -> Result<LockGuard, LockError> {
        self.lock(&LockTarget::Vg(vg.to_string()), mode)
    }
    fn lock_global(&self, mode: LockMode) -> Result<LockGuard, LockError> {
        self.lock(&LockTarget::Global, mode)
    }

    /// Takes LV `lv_uuid`'s activation lock (`Exclusive`: lvm's -aey, `Shared`: -asy). It is
    /// held by the lock manager, not by this process, until [`LockManager::unlock_lv`]; only a
    /// cluster lock manager has such locks.
    fn lock_lv(
        &self,
        vg: &str,
        _lv_uuid: &str,
        _lv_name: &str,
        _mode: LockMode,
    ) -> Result<(), LockError> {
        Err(LockError::NeedsCluster {
            vg: vg.to_string(),
            lock_type: "dlm".into(),
        })
    }

    /// Stops VG `vg`'s lockspace on this host once the VG is removed (lvm2's vgremove of a
    /// shared VG leaves it); nothing to do for a local manager.
    fn vg_removed(&self, _vg: &str) -> Result<(), LockError> {
        Ok(())
    }

    /// Holds (or with `Off` releases) VG `vg`'s VxVM activation mode on this node (clvmd-rs's
    /// per-VG mode lock: sr = CR, sw = CW, ro = PR, ew = PW, whose DLM compatibility is
    /// VxVM's conflict table). A conflict names the node holding the other mode.
    fn set_vg_mode(&self, vg: &str, _mode: halvm_config::ActivationMode) -> Result<(), LockError> {
        Err(LockError::NeedsCluster {
            vg: vg.to_string(),
            lock_type: "dlm".into(),
        })
    }

    /// An LV's activation lock in the mode that goes with VG activation mode `mode` (ew: PW,
    /// sw and ro: PR, sr: CR), held like [`LockManager::lock_lv`]'s.
    fn lock_lv_for_mode(
        &self,
        vg: &str,
        _lv_uuid: &str,
        _lv_name: &str,
        _mode: halvm_config::ActivationMode,
    ) -> Result<(), LockError> {
        Err(LockError::NeedsCluster {
            vg: vg.to_string(),
            lock_type: "dlm".into(),
        })
    }

    /// Where the VG's LVs are active and its activation modes, cluster-wide; None when this
    /// lock manager has no cluster or cannot say.
    fn cluster_view(&self, _vg: &str) -> Option<ClusterView> {
        None
    }

    /// Cluster-wide atomic change of an LV (a resize): suspends it on every node that has it
    /// active, before the commit; [`SuspendedLv::resume`] after the commit makes every node
    /// load its tables from the new metadata and resume. Dropping the guard without resuming
    /// (the commit failed) makes every node reload from disk (the old metadata). Needs the VG
    /// lock held exclusively. None: this lock manager has no cluster (nothing to do).
    fn suspend_lv_everywhere(
        &self,
        _vg: &str,
        _lv_uuid: &str,
        _lv_name: &str,
    ) -> Result<Option<Box<dyn SuspendedLv>>, LockError> {
        Ok(None)
    }

    /// Releases an activation lock taken by [`LockManager::lock_lv`] (here or by an earlier
    /// process on this host).
    fn unlock_lv(&self, vg: &str, _lv_uuid: &str, _lv_name: &str) -> Result<(), LockError> {
        Err(LockError::NeedsCluster {
            vg: vg.to_string(),
            lock_type: "dlm".into(),
        })
    }
}

/// Local locking with lvm2's files and protocol (lvm2's `lib/locking/file_locking.c` and
/// `lib/misc/lvm-flock.c`), so lvm2 and lvmeta on one host exclude each other: `flock(2)` on
/// `<dir>/V_<vg>` and `<dir>/P_global`, opened `O_CREAT|O_APPEND|O_RDWR` mode 0777.
///
/// lvm2 unlinks a lock file when it unlocks it and nobody else holds it; a process that
/// opened the file before the unlink would then lock an inode no longer at the path, so after
/// each `flock` the locked file is checked to still be the one at the path (same device and
/// inode), else the lock is retried on the new file. With `prioritise_write_locks` (lvm2's
/// default) a writer first takes `<file>:aux` exclusively, so readers queue behind it.
#[derive(Debug, Clone)]
pub struct FlockLocking {
    dir: PathBuf,
    prioritise_writes: bool,
}

impl FlockLocking {
    /// Uses `dir`, creating it if missing.
    pub fn new(dir: impl Into<PathBuf>) -> Result<Self, LockError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|source| LockError::LockDir {
            dir: dir.clone(),
            source,
        })?;
        Ok(FlockLocking {
            dir,
            prioritise_writes: true,
        })
    }

    /// lvm.conf `global/prioritise_write_locks`.
    pub fn prioritise_writes(mut self, on: bool) -> Self {
        self.prioritise_writes = on;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn file_for(&self, target: &LockTarget) -> Result<PathBuf, LockError> {
        Ok(match target {
            LockTarget::Global => self.dir.join("P_global"),
            LockTarget::Vg(vg) => {
                if vg.is_empty() || vg.contains('/') || vg.starts_with('.') {
                    return Err(LockError::BadName { name: vg.clone() });
                }
                self.dir.join(format!("V_{vg}"))
            }
        })
    }
}

fn same_file(path: &Path, f: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), f.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// lvm2's `_do_flock`: open, lock, and retry until the locked file is the one at the path.
fn do_flock(target: &LockTarget, file: &Path, mode: LockMode) -> Result<Flock<File>, LockError> {
    use std::os::unix::fs::OpenOptionsExt;
    let acquire = |source: std::io::Error| LockError::Acquire {
        target: target.clone(),
        file: file.to_path_buf(),
        source,
    };
    loop {
        let f = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o777)
            .open(file)
            .map_err(acquire)?;
        let arg = match mode {
            LockMode::Shared => FlockArg::LockShared,
            LockMode::Exclusive => FlockArg::LockExclusive,
        };
        let locked = Flock::lock(f, arg).map_err(|(_, e)| acquire(e.into()))?;
        if same_file(file, &locked) {
            return Ok(locked);
        }
        // Unlinked (or replaced) by its previous holder while we waited: lock the new one.
        log::debug!(
            "lock file {} replaced while waiting; retrying",
            file.display()
        );
    }
}

/// lvm2's `_undo_flock`: unlocks, and unlinks the file if nobody else holds it (an
/// exclusive lock taken without waiting proves that) and it is still the one at the path.
fn undo_flock(file: &Path, held: Flock<File>) {
    let Ok(f) = held.unlock() else { return };
    if let Ok(mine) = Flock::lock(f, FlockArg::LockExclusiveNonblock) {
        if same_file(file, &mine) {
            if let Err(e) = std::fs::remove_file(file) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    log::debug!("unlink {}: {e}", file.display());
                }
            }
        }
    }
}

struct FlockHeld {
    target: LockTarget,
    mode: LockMode,
    file: PathBuf,
    lock: Option<Flock<File>>,
}

impl HeldLock for FlockHeld {
    fn target(&self) -> &LockTarget {
        &self.target
    }
    fn mode(&self) -> LockMode {
        self.mode
    }
}

impl Drop for FlockHeld {
    fn drop(&mut self) {
        if let Some(l) = self.lock.take() {
            undo_flock(&self.file, l);
        }
    }
}

impl LockManager for FlockLocking {
    fn lock(&self, target: &LockTarget, mode: LockMode) -> Result<LockGuard, LockError> {
        let file = self.file_for(target)?;
        let lock = if self.prioritise_writes {
            // lvm2's `_do_write_priority_flock`: a writer keeps the aux lock until it holds
            // the main one; a reader only passes through it.
            let mut aux_name = file.clone().into_os_string();
            aux_name.push(":aux");
            let aux_file = PathBuf::from(aux_name);
            let aux = do_flock(target, &aux_file, LockMode::Exclusive)?;
            match mode {
                LockMode::Exclusive => {
                    let main = do_flock(target, &file, mode);
                    undo_flock(&aux_file, aux);
                    main?
                }
                LockMode::Shared => {
                    undo_flock(&aux_file, aux);
                    do_flock(target, &file, mode)?
                }
            }
        } else {
            do_flock(target, &file, mode)?
        };
        Ok(LockGuard::new(Box::new(FlockHeld {
            target: target.clone(),
            mode,
            file,
            lock: Some(lock),
        })))
    }
}

/// Shared holders and exclusive flag per target, with a condvar for waiters.
type LockTable = (Mutex<HashMap<LockTarget, (usize, bool)>>, Condvar);

/// In-memory locking for unit tests: same semantics (many shared or one exclusive), blocking.
#[derive(Clone, Default)]
pub struct MemLocking {
    state: Arc<LockTable>,
}

impl MemLocking {
    pub fn new() -> Self {
        Self::default()
    }

    /// (shared holders, exclusive held) for a target; for assertions in tests.
    pub fn holders(&self, target: &LockTarget) -> (usize, bool) {
        let map = self.state.0.lock().expect("lock table poisoned");
        map.get(target).copied().unwrap_or((0, false))
    }
}

struct MemHeld {
    target: LockTarget,
    mode: LockMode,
    state: Arc<LockTable>,
}

impl HeldLock for MemHeld {
    fn target(&self) -> &LockTarget {
        &self.target
    }
    fn mode(&self) -> LockMode {
        self.mode
    }
}

impl Drop for MemHeld {
    fn drop(&mut self) {
        let (m, cv) = &*self.state;
        let mut map = m.lock().expect("lock table poisoned");
        if let Some(e) = map.get_mut(&self.target) {
            match self.mode {
                LockMode::Shared => e.0 -= 1,
                LockMode::Exclusive => e.1 = false,
            }
        }
        cv.notify_all();
    }
}

impl LockManager for MemLocking {
    fn lock(&self, target: &LockTarget, mode: LockMode) -> Result<LockGuard, LockError> {
        let (m, cv) = &*self.state;
        let mut map = m.lock().expect("lock table poisoned");
        loop {
            let e = map.entry(target.clone()).or_insert((0, false));
            let free = match mode {
                LockMode::Shared => !e.1,
                LockMode::Exclusive => !e.1 && e.0 == 0,
            };
            if free {
                match mode {
                    LockMode::Shared => e.0 += 1,
                    LockMode::Exclusive => e.1 = true,
                }
                break;
            }
            map = cv.wait(map).expect("lock table poisoned");
        }
        Ok(LockGuard::new(Box::new(MemHeld {
            target: target.clone(),
            mode,
            state: self.state.clone(),
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    fn exclusive_excludes(mgr: Arc<dyn LockManager>) {
        let inside = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let mut threads = Vec::new();
        for _ in 0..4 {
            let (mgr, inside, max) = (mgr.clone(), inside.clone(), max.clone());
            threads.push(std::thread::spawn(move || {
                for _ in 0..5 {
                    let _g = mgr.lock_vg("vg0", LockMode::Exclusive).unwrap();
                    let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    max.fetch_max(n, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(max.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn mem_exclusive_excludes() {
        exclusive_excludes(Arc::new(MemLocking::new()));
    }

    #[test]
    fn flock_exclusive_excludes_across_open_files() {
        let dir = tempfile::tempdir().unwrap();
        let mgr = FlockLocking::new(dir.path().join("locks")).unwrap();
        exclusive_excludes(Arc::new(mgr.clone()));
        exclusive_excludes(Arc::new(mgr.prioritise_writes(false)));
    }

    #[test]
    fn mem_shared_coexist_and_release() {
        let m = MemLocking::new();
        let a = m.lock_vg("vg", LockMode::Shared).unwrap();
        let b = m.lock_vg("vg", LockMode::Shared).unwrap();
        assert_eq!(m.holders(&LockTarget::Vg("vg".into())), (2, false));
        drop(a);
        drop(b);
        let _c = m.lock_vg("vg", LockMode::Exclusive).unwrap();
        assert_eq!(m.holders(&LockTarget::Vg("vg".into())), (0, true));
        let _g = m.lock_global(LockMode::Exclusive).unwrap();
        assert_eq!(m.holders(&LockTarget::Global), (0, true));
    }

    #[test]
    fn flock_shared_blocks_exclusive_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let mgr = FlockLocking::new(dir.path()).unwrap();
        let held = mgr.lock_global(LockMode::Shared).unwrap();
        let _other_shared = mgr.lock_global(LockMode::Shared).unwrap();
        let mgr2 = mgr.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let _g = mgr2.lock_global(LockMode::Exclusive).unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        drop(held);
        drop(_other_shared);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        t.join().unwrap();
    }

    /// lvm2 unlinks a lock file on unlock; a waiter that opened it before must notice that
    /// the file it locked is gone and lock the new one, or two holders would not exclude
    /// each other.
    #[test]
    fn flock_rechecks_the_file_after_locking() {
        let dir = tempfile::tempdir().unwrap();
        let mgr = FlockLocking::new(dir.path())
            .unwrap()
            .prioritise_writes(false);
        let path = dir.path().join("V_vg");
        let first = mgr.lock_vg("vg", LockMode::Exclusive).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let m2 = mgr.clone();
        let t = std::thread::spawn(move || {
            let g = m2.lock_vg("vg", LockMode::Exclusive).unwrap();
            tx.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(200));
            drop(g);
        });
        std::thread::sleep(Duration::from_millis(100));
        assert!(rx.try_recv().is_err(), "waiter must wait");
        drop(first);
        // As lvm2's unlock did: the file is unlinked; the waiter locked the old inode.
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        // A third party (lvm2) creating and locking the file at the path now must be
        // excluded by the waiter's lock, i.e. the waiter holds the file that is at the path.
        let f = std::fs::OpenOptions::new().read(true).open(&path).unwrap();
        assert!(
            Flock::lock(f, FlockArg::LockExclusiveNonblock).is_err(),
            "the lock held is on the file at the path"
        );
        t.join().unwrap();
        assert!(
            !path.exists(),
            "the last holder unlinks the file, as lvm2 does"
        );
    }

    /// With lvm2's write priority: the aux file is taken and released around the main lock.
    #[test]
    fn flock_write_priority_uses_lvm2s_aux_file() {
        let dir = tempfile::tempdir().unwrap();
        let mgr = FlockLocking::new(dir.path()).unwrap();
        let g = mgr.lock_vg("vg", LockMode::Exclusive).unwrap();
        assert!(dir.path().join("V_vg").exists());
        assert!(
            !dir.path().join("V_vg:aux").exists(),
            "aux released and unlinked"
        );
        drop(g);
        assert!(!dir.path().join("V_vg").exists());
        exclusive_excludes(Arc::new(mgr));
    }

    #[test]
    fn flock_rejects_path_like_names() {
        let dir = tempfile::tempdir().unwrap();
        let mgr = FlockLocking::new(dir.path()).unwrap();
        assert!(matches!(
            mgr.lock_vg("../x", LockMode::Shared),
            Err(LockError::BadName { .. })
        ));
    }
}
