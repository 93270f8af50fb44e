//! The one safe door to the Linux DLM.
//!
//! [`Lockspace`] wraps a `libdlm_lt` lockspace handle; [`MemDlm`] is an in-memory DLM with the
//! kernel's compatibility matrix, persistent locks, orphans and lock value blocks, so the
//! daemon's driver and its tests run without a kernel. Both sit behind [`Dlm`] and
//! [`DlmLockspace`].
//!
//! Calls are synchronous: the daemon gives each lockspace its own thread (libdlm_lt allows one
//! caller per lockspace at a time), as lvmlockd does.

mod mem;
mod names;
mod real;

pub use mem::{Holder, MemDlm, MemLockspace, MemNode};
pub use names::{LockspaceName, NameError, ResourceName};
pub use real::{Lockspace, RealDlm};

/// The lock modes are the protocol's (one definition; this crate only maps them to libdlm's
/// values, in [`raw_mode`]).
pub use clvmd_proto::Mode;

/// The `LKM_*MODE` value of a mode.
pub fn raw_mode(mode: Mode) -> u32 {
    match mode {
        Mode::Nl => dlm_sys::LKM_NLMODE,
        Mode::Cr => dlm_sys::LKM_CRMODE,
        Mode::Cw => dlm_sys::LKM_CWMODE,
        Mode::Pr => dlm_sys::LKM_PRMODE,
        Mode::Pw => dlm_sys::LKM_PWMODE,
        Mode::Ex => dlm_sys::LKM_EXMODE,
    }
}

/// The `LKF_*` flags the daemon uses; each maps to exactly one libdlm bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    pub noqueue: bool,
    pub valblk: bool,
    pub persistent: bool,
    pub expedite: bool,
}

impl Flags {
    pub fn raw(self) -> u32 {
        let mut f = 0;
        if self.noqueue {
            f |= dlm_sys::LKF_NOQUEUE;
        }
        if self.valblk {
            f |= dlm_sys::LKF_VALBLK;
        }
        if self.persistent {
            f |= dlm_sys::LKF_PERSISTENT;
        }
        if self.expedite {
            f |= dlm_sys::LKF_EXPEDITE;
        }
        f
    }
}

/// A lock value block (32 bytes).
pub type Lvb = [u8; dlm_sys::DLM_LVB_LEN];

/// The DLM's id of one lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LockId(pub u32);

/// A conversion of held lock `lkid` to `mode` ([`DlmLockspace::convert`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion<'a> {
    pub lkid: LockId,
    pub mode: Mode,
    pub flags: Flags,
    /// Stored when `flags.valblk` and the lock was held in a write mode.
    pub lvb: Option<&'a Lvb>,
}

impl<'a> Conversion<'a> {
    /// A conversion that stores no LVB.
    pub fn to(lkid: LockId, mode: Mode, flags: Flags) -> Conversion<'a> {
        Conversion {
            lkid,
            mode,
            flags,
            lvb: None,
        }
    }

    pub fn with_lvb(self, lvb: &'a Lvb) -> Conversion<'a> {
        Conversion {
            lvb: Some(lvb),
            ..self
        }
    }
}

/// A granted lock: its id and, when `valblk` was asked, the LVB read at grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    pub lkid: LockId,
    pub lvb: Option<Lvb>,
    /// `DLM_SBF_VALNOTVALID`: the LVB was lost in recovery.
    pub lvb_invalid: bool,
}

/// The answer to a lock, convert or adopt request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Granted(Granted),
    /// EAGAIN: `NOQUEUE` and an incompatible lock is held; for adoption, the orphan exists in
    /// another mode.
    WouldBlock,
    /// ENOENT on adoption: no orphan of that name.
    NoOrphan,
}

#[derive(Debug, thiserror::Error)]
pub enum DlmError {
    #[error("cannot join DLM lockspace {name}: {source} (is dlm_controld running?)")]
    Join {
        name: String,
        source: std::io::Error,
    },
    #[error("cannot leave DLM lockspace {name}: {source}")]
    Leave {
        name: String,
        source: std::io::Error,
    },
    #[error("DLM {op} of {resource} in {lockspace} failed: {source}")]
    Call {
        op: &'static str,
        lockspace: String,
        resource: String,
        source: std::io::Error,
    },
    #[error("cannot list the DLM lockspaces in {dir}: {source}")]
    List { dir: String, source: std::io::Error },
    #[error("lockspace {name} is already joined here")]
    AlreadyJoined { name: String },
    #[error("unknown lock id {lkid} in {lockspace}")]
    UnknownLock { lockspace: String, lkid: u32 },
}

/// One joined lockspace. Dropping it closes the handle: non-persistent locks go, persistent
/// locks stay as orphans and the lockspace stays joined (a restarted daemon adopts both);
/// [`DlmLockspace::release`] leaves for good.
pub trait DlmLockspace: Send {
    fn name(&self) -> &LockspaceName;
    /// A new lock on `res`.
    fn lock(&mut self, res: &ResourceName, mode: Mode, flags: Flags) -> Result<Outcome, DlmError>;
    /// Converts a lock held on `res`.
    fn convert(&mut self, res: &ResourceName, to: Conversion<'_>) -> Result<Outcome, DlmError>;
    /// Removes the lock entirely.
    fn unlock(&mut self, res: &ResourceName, lkid: LockId) -> Result<(), DlmError>;
    /// Takes over an orphaned persistent lock held in `mode` (`PERSISTENT|ORPHAN`).
    fn adopt(&mut self, res: &ResourceName, mode: Mode) -> Result<Outcome, DlmError>;
    /// Leaves the lockspace (`dlm_release_lockspace(force=1)`): every lock here goes.
    fn release(self: Box<Self>) -> Result<(), DlmError>;
}

/// A joined lockspace, and whether it was joined already (left by a daemon that died; its
/// persistent locks may wait as orphans).
pub struct Joined {
    pub ls: Box<dyn DlmLockspace>,
    pub existed: bool,
}

/// Joins lockspaces: a new one exclusively (`DLM_LSFL_NEWEXCL`), or the one a previous daemon
/// left joined.
pub trait Dlm: Send + Sync {
    fn join(&self, name: &LockspaceName) -> Result<Joined, DlmError>;
    /// The lockspaces this node has joined now, whoever joined them: at startup, the ones a
    /// daemon that died left behind (with its activation locks as orphans).
    fn joined_here(&self) -> Result<Vec<LockspaceName>, DlmError>;
}
