//! libdlm_lt behind [`Dlm`]/[`DlmLockspace`].

use std::ffi::CString;
use std::io;
use std::ptr;

use dlm_sys as sys;

use crate::{
    Conversion, Dlm, DlmError, DlmLockspace, Flags, Granted, Joined, LockId, LockspaceName, Lvb,
    Mode, Outcome, ResourceName,
};

/// The kernel's DLM through libdlm_lt.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealDlm;

impl Dlm for RealDlm {
    fn join(&self, name: &LockspaceName) -> Result<Joined, DlmError> {
        let (ls, existed) = Lockspace::join(name)?;
        Ok(Joined {
            ls: Box::new(ls),
            existed,
        })
    }

    fn joined_here(&self) -> Result<Vec<LockspaceName>, DlmError> {
        joined_in(std::path::Path::new(SYSFS_LOCKSPACES))
    }
}

/// The kernel's DLM has a directory here per lockspace joined on this node (fs/dlm/lockspace.c:
/// one kobject per lockspace in the `dlm` kset of /sys/kernel).
pub const SYSFS_LOCKSPACES: &str = "/sys/kernel/dlm";

/// The lockspaces listed in `dir`; none when it does not exist (no DLM module loaded).
pub fn joined_in(dir: &std::path::Path) -> Result<Vec<LockspaceName>, DlmError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(DlmError::List {
                dir: dir.display().to_string(),
                source,
            })
        }
    };
    let mut names: Vec<LockspaceName> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| LockspaceName::new(&n).ok())
        .collect();
    names.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    Ok(names)
}

/// A joined lockspace. Dropping closes the handle (persistent locks become orphans, the
/// lockspace stays joined); [`DlmLockspace::release`] leaves it.
#[derive(Debug)]
pub struct Lockspace {
    name: LockspaceName,
    cname: CString,
    h: sys::dlm_lshandle_t,
}

// SAFETY: a libdlm_lt handle has no thread affinity; it must only not be used by two threads at
// once, which `&mut self` on every call and the absence of `Sync` guarantee.
unsafe impl Send for Lockspace {}

impl Lockspace {
    /// Creates the lockspace exclusively (`DLM_LSFL_NEWEXCL`, mode 0600, as lvmlockd); when it
    /// exists already (a previous daemon died holding it) opens it instead. Returns whether it
    /// existed. Blocks until dlm_controld has joined the lockspace cluster-wide.
    pub fn join(name: &LockspaceName) -> Result<(Self, bool), DlmError> {
        let cname = CString::new(name.as_str()).expect("validated names hold no NUL");
        let err = |source| DlmError::Join {
            name: name.to_string(),
            source,
        };
        // SAFETY: `cname` is a valid NUL-terminated string alive for the call.
        let h = unsafe { sys::dlm_new_lockspace(cname.as_ptr(), 0o600, sys::DLM_LSFL_NEWEXCL) };
        if !h.is_null() {
            return Ok((Self::wrap(name, cname, h), false));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(err(e));
        }
        // SAFETY: as above.
        let h = unsafe { sys::dlm_open_lockspace(cname.as_ptr()) };
        if h.is_null() {
            return Err(err(io::Error::last_os_error()));
        }
        Ok((Self::wrap(name, cname, h), true))
    }

    fn wrap(name: &LockspaceName, cname: CString, h: sys::dlm_lshandle_t) -> Self {
        Lockspace {
            name: name.clone(),
            cname,
            h,
        }
    }

    /// The lockspace's device fd (readable when a completion is pending).
    pub fn fd(&self) -> i32 {
        // SAFETY: `self.h` is a live handle (non-null until release, which consumes self).
        unsafe { sys::dlm_ls_get_fd(self.h) }
    }

    fn call_err(&self, op: &'static str, res: &ResourceName, source: io::Error) -> DlmError {
        DlmError::Call {
            op,
            lockspace: self.name.to_string(),
            resource: res.to_string(),
            source,
        }
    }

    /// One synchronous `dlm_ls_lock_wait`; maps EAGAIN/ENOENT (in the return or in
    /// `sb_status`) to outcomes.
    fn lock_wait(
        &mut self,
        op: &'static str,
        res: &ResourceName,
        mode: Mode,
        raw_flags: u32,
        lkid: u32,
        lvb_in: Option<&Lvb>,
    ) -> Result<Outcome, DlmError> {
        let want_lvb = raw_flags & sys::LKF_VALBLK != 0;
        let mut lvb: Lvb = lvb_in.copied().unwrap_or([0; sys::DLM_LVB_LEN]);
        let lvbptr = if want_lvb {
            lvb.as_mut_ptr().cast()
        } else {
            ptr::null_mut()
        };
        let mut lksb = lksb(lkid, lvbptr);
        let name = res.as_str().as_bytes();
        // SAFETY: `self.h` is live; `lksb` and the 32-byte `lvb` it points to outlive this
        // synchronous call, which returns only after the completion was dispatched; `name`
        // is `name.len()` (<= 64) readable bytes; parent, bast and range are unused.
        let rv = unsafe {
            sys::dlm_ls_lock_wait(
                self.h,
                crate::raw_mode(mode),
                &mut lksb,
                raw_flags,
                name.as_ptr().cast(),
                name.len() as libc::c_uint,
                0,
                ptr::null_mut(),
                None,
                ptr::null_mut(),
            )
        };
        let status = if rv != 0 {
            io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO)
        } else {
            lksb.sb_status
        };
        match status {
            0 => Ok(Outcome::Granted(Granted {
                lkid: LockId(lksb.sb_lkid),
                lvb: want_lvb.then_some(lvb),
                lvb_invalid: lksb.sb_flags & sys::DLM_SBF_VALNOTVALID != 0,
            })),
            libc::EAGAIN => Ok(Outcome::WouldBlock),
            libc::ENOENT if raw_flags & sys::LKF_ORPHAN != 0 => Ok(Outcome::NoOrphan),
            e => Err(self.call_err(op, res, io::Error::from_raw_os_error(e))),
        }
    }
}

impl DlmLockspace for Lockspace {
    fn name(&self) -> &LockspaceName {
        &self.name
    }

    fn lock(&mut self, res: &ResourceName, mode: Mode, flags: Flags) -> Result<Outcome, DlmError> {
        self.lock_wait("lock", res, mode, flags.raw(), 0, None)
    }

    fn convert(&mut self, res: &ResourceName, to: Conversion<'_>) -> Result<Outcome, DlmError> {
        let raw_flags = to.flags.raw() | sys::LKF_CONVERT;
        self.lock_wait("convert", res, to.mode, raw_flags, to.lkid.0, to.lvb)
    }

    fn unlock(&mut self, res: &ResourceName, lkid: LockId) -> Result<(), DlmError> {
        let mut lksb = lksb(lkid.0, ptr::null_mut());
        // SAFETY: `self.h` is live and `lksb` outlives the synchronous call.
        let rv = unsafe { sys::dlm_ls_unlock_wait(self.h, lkid.0, 0, &mut lksb) };
        if rv != 0 {
            return Err(self.call_err("unlock", res, io::Error::last_os_error()));
        }
        match lksb.sb_status {
            0 | sys::EUNLOCK => Ok(()),
            e => Err(self.call_err("unlock", res, io::Error::from_raw_os_error(e))),
        }
    }

    /// The kernel answers an adopt in the write itself (the lock id, or EAGAIN/ENOENT) and
    /// queues no completion for it, so a `_wait` call would block for good: issue it without
    /// waiting, as lvmlockd does (`dlm_ls_lockx` with dummy callbacks).
    fn adopt(&mut self, res: &ResourceName, mode: Mode) -> Result<Outcome, DlmError> {
        let flags = sys::LKF_PERSISTENT | sys::LKF_ORPHAN;
        let mut lksb = lksb(0, ptr::null_mut());
        let name = res.as_str().as_bytes();
        // SAFETY: `self.h` is live; `lksb` outlives the call, which only writes the request
        // and stores the returned lock id in it; `name` is `name.len()` (<= 64) readable
        // bytes; the kernel refuses null callbacks, so a no-op one (never called for an adopt)
        // and a non-null argument are passed.
        let rv = unsafe {
            sys::dlm_ls_lock(
                self.h,
                crate::raw_mode(mode),
                &mut lksb,
                flags,
                name.as_ptr().cast(),
                name.len() as libc::c_uint,
                0,
                Some(no_ast),
                ptr::addr_of_mut!(lksb).cast(),
                Some(no_ast),
                ptr::null_mut(),
            )
        };
        if rv == 0 {
            return Ok(Outcome::Granted(Granted {
                lkid: LockId(lksb.sb_lkid),
                lvb: None,
                lvb_invalid: false,
            }));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EAGAIN) => Ok(Outcome::WouldBlock),
            Some(libc::ENOENT) => Ok(Outcome::NoOrphan),
            _ => Err(self.call_err("adopt", res, e)),
        }
    }

    fn release(mut self: Box<Self>) -> Result<(), DlmError> {
        let h = std::mem::replace(&mut self.h, ptr::null_mut());
        // SAFETY: `h` is the live handle, taken out of `self` so Drop will not close it again;
        // libdlm frees it whatever the result.
        let rv = unsafe { sys::dlm_release_lockspace(self.cname.as_ptr(), h, 1) };
        if rv != 0 {
            return Err(DlmError::Leave {
                name: self.name.to_string(),
                source: io::Error::last_os_error(),
            });
        }
        Ok(())
    }
}

/// A status block for lock `lkid` (0: a new lock) with `lvb` as its value block (or null).
fn lksb(lkid: u32, lvb: *mut libc::c_char) -> sys::dlm_lksb {
    sys::dlm_lksb {
        sb_status: 0,
        sb_lkid: lkid,
        sb_flags: 0,
        sb_lvbptr: lvb,
    }
}

/// The completion callback of an adopt (the kernel never calls it: no completion is queued).
extern "C" fn no_ast(_arg: *mut libc::c_void) {}

impl Drop for Lockspace {
    fn drop(&mut self) {
        if !self.h.is_null() {
            // SAFETY: `self.h` is a live handle not used after this.
            unsafe { sys::dlm_close_lockspace(self.h) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockspaces_joined_here_are_the_sysfs_directories() {
        let d = tempfile::tempdir().unwrap();
        assert!(joined_in(&d.path().join("absent")).unwrap().is_empty());
        for n in ["lvm_vg1", "lvm_global", "gfs2fs"] {
            std::fs::create_dir(d.path().join(n)).unwrap();
        }
        let names: Vec<String> = joined_in(d.path())
            .unwrap()
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(names, ["gfs2fs", "lvm_global", "lvm_vg1"]);
    }

    #[test]
    fn join_without_a_kernel_dlm_is_a_clear_error() {
        // The development kernel has no DLM: joining must fail with a message, not crash.
        if std::path::Path::new("/sys/kernel/config/dlm/cluster").exists() {
            panic!("this unit test expects a host without a running DLM (it runs in the lab)");
        }
        let e = RealDlm
            .join(&LockspaceName::new("halvm_unit").unwrap())
            .err()
            .expect("no DLM here");
        assert!(e.to_string().contains("halvm_unit"), "{e}");
    }
}
