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

/// DLM lock modes, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// Null: holds a place (and the LVB), excludes nothing.
    Nl,
    /// Concurrent read.
    Cr,
    /// Concurrent write.
    Cw,
    /// Protected read.
    Pr,
    /// Protected write.
    Pw,
    /// Exclusive.
    Ex,
}

impl Mode {
    pub const ALL: [Mode; 6] = [Mode::Nl, Mode::Cr, Mode::Cw, Mode::Pr, Mode::Pw, Mode::Ex];

    /// The `LKM_*MODE` value.
    pub fn raw(self) -> u32 {
        match self {
            Mode::Nl => dlm_sys::LKM_NLMODE,
            Mode::Cr => dlm_sys::LKM_CRMODE,
            Mode::Cw => dlm_sys::LKM_CWMODE,
            Mode::Pr => dlm_sys::LKM_PRMODE,
            Mode::Pw => dlm_sys::LKM_PWMODE,
            Mode::Ex => dlm_sys::LKM_EXMODE,
        }
    }

    /// The kernel's compatibility matrix (fs/dlm `__dlm_compat_matrix`).
    pub fn compatible(self, other: Mode) -> bool {
        use Mode::*;
        match (self, other) {
            (Nl, _) | (_, Nl) => true,
            (Cr, m) | (m, Cr) => m != Ex,
            (Cw, m) | (m, Cw) => m == Cw,
            (Pr, m) | (m, Pr) => m == Pr,
            _ => false,
        }
    }

    /// Whether releasing (or down-converting from) this mode writes the LVB.
    pub fn writes_lvb(self) -> bool {
        matches!(self, Mode::Pw | Mode::Ex)
    }

    pub fn name(self) -> &'static str {
        match self {
            Mode::Nl => "NL",
            Mode::Cr => "CR",
            Mode::Cw => "CW",
            Mode::Pr => "PR",
            Mode::Pw => "PW",
            Mode::Ex => "EX",
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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
    /// Converts `lkid` to `mode`; with `flags.valblk` and a write-mode holder, `lvb` is stored.
    fn convert(
        &mut self,
        res: &ResourceName,
        lkid: LockId,
        mode: Mode,
        flags: Flags,
        lvb: Option<&Lvb>,
    ) -> Result<Outcome, DlmError>;
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

#[cfg(test)]
mod tests {
    use super::Mode::{self, *};

    #[test]
    fn compatibility_matrix_is_the_kernels() {
        // Rows/columns NL CR CW PR PW EX, from fs/dlm/lock.c __dlm_compat_matrix.
        let m = [
            [1, 1, 1, 1, 1, 1],
            [1, 1, 1, 1, 1, 0],
            [1, 1, 1, 0, 0, 0],
            [1, 1, 0, 1, 0, 0],
            [1, 1, 0, 0, 0, 0],
            [1, 0, 0, 0, 0, 0],
        ];
        for (i, a) in Mode::ALL.iter().enumerate() {
            for (j, b) in Mode::ALL.iter().enumerate() {
                assert_eq!(a.compatible(*b), m[i][j] == 1, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn vxvm_activation_table_is_the_matrix() {
        // DESIGN.md: held in rows, asked in columns: ew ro sr sw; sr=CR sw=CW ro=PR ew=PW.
        let modes = [Pw, Pr, Cr, Cw];
        let table = [
            [false, false, true, false],
            [false, true, true, false],
            [true, true, true, true],
            [false, false, true, true],
        ];
        for (i, held) in modes.iter().enumerate() {
            for (j, asked) in modes.iter().enumerate() {
                assert_eq!(held.compatible(*asked), table[i][j], "{held} vs {asked}");
            }
        }
    }
}
