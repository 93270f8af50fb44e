//! Raw bindings to `libdlm_lt` (`<libdlm.h>`, the non-threaded libdlm).
//!
//! Nothing here is safe to call directly; the `halvm-dlm` crate wraps it. Only the calls the
//! daemon needs plus their close relatives are declared. In `libdlm_lt` the `_wait` calls
//! complete by reading the lockspace fd in the calling thread, so one thread at a time may use
//! a lockspace handle.

#![allow(non_camel_case_types)]

use libc::{c_char, c_int, c_uint, c_void, mode_t};

/// Length of a lock value block.
pub const DLM_LVB_LEN: usize = 32;
/// Longest lockspace name, in bytes (without the NUL).
pub const DLM_LOCKSPACE_LEN: usize = 64;
/// Longest resource name, in bytes.
pub const DLM_RESNAME_MAXLEN: usize = 64;

/// `sb_flags` bits.
pub const DLM_SBF_DEMOTED: c_char = 0x01;
pub const DLM_SBF_VALNOTVALID: c_char = 0x02;
pub const DLM_SBF_ALTMODE: c_char = 0x04;

/// `dlm_new_lockspace` flags.
pub const DLM_LSFL_TIMEWARN: u32 = 0x0000_0002;
pub const DLM_LSFL_FS: u32 = 0x0000_0004;
pub const DLM_LSFL_NEWEXCL: u32 = 0x0000_0008;

/// Lock modes.
pub const LKM_NLMODE: u32 = 0;
pub const LKM_CRMODE: u32 = 1;
pub const LKM_CWMODE: u32 = 2;
pub const LKM_PRMODE: u32 = 3;
pub const LKM_PWMODE: u32 = 4;
pub const LKM_EXMODE: u32 = 5;

/// Lock flags.
pub const LKF_NOQUEUE: u32 = 0x0000_0001;
pub const LKF_CANCEL: u32 = 0x0000_0002;
pub const LKF_CONVERT: u32 = 0x0000_0004;
pub const LKF_VALBLK: u32 = 0x0000_0008;
pub const LKF_QUECVT: u32 = 0x0000_0010;
pub const LKF_IVVALBLK: u32 = 0x0000_0020;
pub const LKF_CONVDEADLK: u32 = 0x0000_0040;
pub const LKF_PERSISTENT: u32 = 0x0000_0080;
pub const LKF_NODLCKWT: u32 = 0x0000_0100;
pub const LKF_NODLCKBLK: u32 = 0x0000_0200;
pub const LKF_EXPEDITE: u32 = 0x0000_0400;
pub const LKF_NOQUEUEBAST: u32 = 0x0000_0800;
pub const LKF_HEADQUE: u32 = 0x0000_1000;
pub const LKF_NOORDER: u32 = 0x0000_2000;
pub const LKF_ORPHAN: u32 = 0x0000_4000;
pub const LKF_ALTPR: u32 = 0x0000_8000;
pub const LKF_ALTCW: u32 = 0x0001_0000;
pub const LKF_FORCEUNLOCK: u32 = 0x0002_0000;
pub const LKF_TIMEOUT: u32 = 0x0004_0000;
pub const LKF_WAIT: u32 = 0x8000_0000;

/// Extra status codes besides errno values.
pub const ECANCEL: c_int = 0x10001;
pub const EUNLOCK: c_int = 0x10002;
pub const EINPROG: c_int = 0x10003;

/// `struct dlm_lksb`.
#[repr(C)]
#[derive(Debug)]
pub struct dlm_lksb {
    pub sb_status: c_int,
    pub sb_lkid: u32,
    pub sb_flags: c_char,
    pub sb_lvbptr: *mut c_char,
}

/// `dlm_lshandle_t`.
pub type dlm_lshandle_t = *mut c_void;

pub type dlm_astfn = Option<unsafe extern "C" fn(astarg: *mut c_void)>;

extern "C" {
    pub fn dlm_kernel_version(maj: *mut u32, min: *mut u32, patch: *mut u32) -> c_int;
    pub fn dlm_library_version(maj: *mut u32, min: *mut u32, patch: *mut u32);

    pub fn dlm_create_lockspace(name: *const c_char, mode: mode_t) -> dlm_lshandle_t;
    pub fn dlm_new_lockspace(name: *const c_char, mode: mode_t, flags: u32) -> dlm_lshandle_t;
    pub fn dlm_open_lockspace(name: *const c_char) -> dlm_lshandle_t;
    pub fn dlm_release_lockspace(name: *const c_char, ls: dlm_lshandle_t, force: c_int) -> c_int;
    pub fn dlm_close_lockspace(ls: dlm_lshandle_t) -> c_int;
    pub fn dlm_ls_get_fd(ls: dlm_lshandle_t) -> c_int;
    pub fn dlm_dispatch(fd: c_int) -> c_int;

    pub fn dlm_ls_unlock(
        ls: dlm_lshandle_t,
        lkid: u32,
        flags: u32,
        lksb: *mut dlm_lksb,
        astarg: *mut c_void,
    ) -> c_int;
    pub fn dlm_ls_unlock_wait(
        ls: dlm_lshandle_t,
        lkid: u32,
        flags: u32,
        lksb: *mut dlm_lksb,
    ) -> c_int;
    pub fn dlm_ls_purge(ls: dlm_lshandle_t, nodeid: c_int, pid: c_int) -> c_int;
}

/// Declares libdlm's lock requests: each takes the lockspace, mode, status block, flags, resource
/// name and parent lock (`<libdlm.h>`), then its own callback arguments.
macro_rules! lock_requests {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),* $(,)?);)*) => {
        extern "C" {
            $(
                $(#[$doc])*
                pub fn $name(
                    ls: dlm_lshandle_t,
                    mode: u32,
                    lksb: *mut dlm_lksb,
                    flags: u32,
                    name: *const c_void,
                    namelen: c_uint,
                    parent: u32,
                    $($arg: $ty),*
                ) -> c_int;
            )*
        }
    };
}

lock_requests! {
    /// Issues the request; `astaddr(astarg)` runs when `dlm_dispatch` reads its completion.
    fn dlm_ls_lock(astaddr: dlm_astfn, astarg: *mut c_void, bastaddr: dlm_astfn, range: *mut c_void);
    /// Issues the request and returns once it completed (`lksb` holds the status).
    fn dlm_ls_lock_wait(bastarg: *mut c_void, bastaddr: dlm_astfn, range: *mut c_void);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn lksb_layout_matches_libdlm_h_on_x86_64() {
        assert_eq!(offset_of!(dlm_lksb, sb_status), 0);
        assert_eq!(offset_of!(dlm_lksb, sb_lkid), 4);
        assert_eq!(offset_of!(dlm_lksb, sb_flags), 8);
        assert_eq!(offset_of!(dlm_lksb, sb_lvbptr), 16);
        assert_eq!(size_of::<dlm_lksb>(), 24);
        assert_eq!(align_of::<dlm_lksb>(), 8);
    }

    #[test]
    fn constants_match_the_header() {
        // Read the installed header so a drift in libdlm.h fails here, not in the lab.
        let h = std::fs::read_to_string("/usr/include/libdlm.h")
            .expect("/usr/include/libdlm.h missing: install libdlm-dev");
        let define = |name: &str| -> u64 {
            let line = h
                .lines()
                .find(|l| {
                    let mut w = l.split_whitespace();
                    w.next() == Some("#define") && w.next() == Some(name)
                })
                .unwrap_or_else(|| panic!("{name} not in libdlm.h"));
            let v = line.split_whitespace().nth(2).unwrap();
            match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
                None => v.parse().unwrap(),
            }
        };
        assert_eq!(define("DLM_LVB_LEN"), DLM_LVB_LEN as u64);
        assert_eq!(define("DLM_LOCKSPACE_LEN"), DLM_LOCKSPACE_LEN as u64);
        assert_eq!(define("DLM_RESNAME_MAXLEN"), DLM_RESNAME_MAXLEN as u64);
        assert_eq!(define("DLM_SBF_VALNOTVALID"), DLM_SBF_VALNOTVALID as u64);
        assert_eq!(define("DLM_LSFL_NEWEXCL"), DLM_LSFL_NEWEXCL as u64);
        for (n, v) in [
            ("LKM_NLMODE", LKM_NLMODE),
            ("LKM_CRMODE", LKM_CRMODE),
            ("LKM_CWMODE", LKM_CWMODE),
            ("LKM_PRMODE", LKM_PRMODE),
            ("LKM_PWMODE", LKM_PWMODE),
            ("LKM_EXMODE", LKM_EXMODE),
            ("LKF_NOQUEUE", LKF_NOQUEUE),
            ("LKF_CANCEL", LKF_CANCEL),
            ("LKF_CONVERT", LKF_CONVERT),
            ("LKF_VALBLK", LKF_VALBLK),
            ("LKF_PERSISTENT", LKF_PERSISTENT),
            ("LKF_EXPEDITE", LKF_EXPEDITE),
            ("LKF_ORPHAN", LKF_ORPHAN),
            ("LKF_FORCEUNLOCK", LKF_FORCEUNLOCK),
            ("LKF_WAIT", LKF_WAIT),
        ] {
            assert_eq!(define(n), v as u64, "{n}");
        }
    }

    #[test]
    fn library_links_and_reports_a_version() {
        let (mut a, mut b, mut c) = (0u32, 0u32, 0u32);
        // SAFETY: three valid, writable u32 out-pointers; the call only stores into them.
        unsafe { dlm_library_version(&mut a, &mut b, &mut c) };
        assert!(a >= 3, "libdlm_lt version {a}.{b}.{c}");
    }
}
