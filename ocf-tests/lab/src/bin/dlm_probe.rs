//! halvm-dlm-probe: takes one DLM lock through libdlm, for the lab's lock tests.
//!
//!   halvm-dlm-probe LOCKSPACE RESOURCE ex|pr [--noqueue] [--hold] [--timeout SECS]
//!
//! Exit: 0 granted (and released unless --hold; with --hold it prints `granted` and waits to be
//! killed, which releases the lock), 2 not granted under --noqueue (EAGAIN), 3 timed out while
//! queued, 1 error. Debian's dlm tools have no lock command, hence this helper.

use std::ffi::{c_char, c_int, c_void, CString};
use std::io::Write;
use std::time::{Duration, Instant};

/// `struct dlm_lksb` from <libdlm.h>.
#[repr(C)]
struct DlmLksb {
    sb_status: c_int,
    sb_lkid: u32,
    sb_flags: c_char,
    sb_lvbptr: *mut c_char,
}

type LsHandle = *mut c_void;

const LKM_PRMODE: u32 = 3;
const LKM_EXMODE: u32 = 5;
const LKF_NOQUEUE: u32 = 0x0000_0001;

#[link(name = "dlm")]
extern "C" {
    fn dlm_create_lockspace(name: *const c_char, mode: libc::mode_t) -> LsHandle;
    fn dlm_ls_pthread_init(ls: LsHandle) -> c_int;
    fn dlm_ls_lock_wait(
        ls: LsHandle,
        mode: u32,
        lksb: *mut DlmLksb,
        flags: u32,
        name: *const c_void,
        namelen: u32,
        parent: u32,
        bastarg: *mut c_void,
        bastaddr: Option<extern "C" fn(*mut c_void)>,
        range: *mut c_void,
    ) -> c_int;
    fn dlm_ls_unlock_wait(ls: LsHandle, lkid: u32, flags: u32, lksb: *mut DlmLksb) -> c_int;
}

fn fail(msg: String) -> ! {
    eprintln!("halvm-dlm-probe: {msg}");
    std::process::exit(1);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let timeout = args
        .iter()
        .position(|a| a == "--timeout")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse::<u64>().ok());
    let timeout_value = timeout.map(|t| t.to_string());
    let pos: Vec<&String> = pos
        .into_iter()
        .filter(|p| Some(*p) != timeout_value.as_ref())
        .collect();
    if pos.len() != 3 {
        eprintln!(
            "usage: halvm-dlm-probe LOCKSPACE RESOURCE ex|pr [--noqueue] [--hold] [--timeout SECS]"
        );
        std::process::exit(2);
    }
    let mode = match pos[2].as_str() {
        "ex" => LKM_EXMODE,
        "pr" => LKM_PRMODE,
        m => fail(format!("unknown mode {m}")),
    };
    let flags = if flag("--noqueue") { LKF_NOQUEUE } else { 0 };
    if let Some(secs) = timeout {
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(secs));
            eprintln!("halvm-dlm-probe: not granted within {secs} s");
            std::process::exit(3);
        });
    }
    let ls_name = CString::new(pos[0].as_str()).unwrap_or_else(|_| fail("NUL in lockspace".into()));
    let resource = pos[1].as_bytes();
    let started = Instant::now();

    // SAFETY: `ls_name` is a valid NUL-terminated string that outlives the call.
    let ls = unsafe { dlm_create_lockspace(ls_name.as_ptr(), 0o600) };
    if ls.is_null() {
        fail(format!(
            "create lockspace {}: {}",
            pos[0],
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `ls` is the non-null handle just returned by dlm_create_lockspace; the threaded
    // libdlm needs this before dlm_ls_lock_wait can complete.
    if unsafe { dlm_ls_pthread_init(ls) } != 0 {
        fail(format!("pthread init: {}", std::io::Error::last_os_error()));
    }
    let mut lksb = DlmLksb {
        sb_status: 0,
        sb_lkid: 0,
        sb_flags: 0,
        sb_lvbptr: std::ptr::null_mut(),
    };
    // SAFETY: `ls` is a valid handle; `lksb` is a live, exclusively borrowed lksb for the whole
    // (synchronous) call; `resource` points to `resource.len()` readable bytes; the unused
    // parent/bast/range arguments are zero/NULL as libdlm documents.
    let rv = unsafe {
        dlm_ls_lock_wait(
            ls,
            mode,
            &mut lksb,
            flags,
            resource.as_ptr().cast(),
            resource.len() as u32,
            0,
            std::ptr::null_mut(),
            None,
            std::ptr::null_mut(),
        )
    };
    if rv != 0 {
        fail(format!("lock: {}", std::io::Error::last_os_error()));
    }
    if lksb.sb_status == libc::EAGAIN {
        println!("busy {} {}", pos[1], pos[2]);
        std::process::exit(2);
    }
    if lksb.sb_status != 0 {
        fail(format!(
            "lock status {}",
            std::io::Error::from_raw_os_error(lksb.sb_status)
        ));
    }
    println!(
        "granted {} {} after {} ms",
        pos[1],
        pos[2],
        started.elapsed().as_millis()
    );
    let _ = std::io::stdout().flush();
    if flag("--hold") {
        loop {
            std::thread::park();
        }
    }
    // SAFETY: `ls` and the granted lock id in `lksb` are valid; `lksb` is live for the call.
    if unsafe { dlm_ls_unlock_wait(ls, lksb.sb_lkid, 0, &mut lksb) } != 0 {
        fail(format!("unlock: {}", std::io::Error::last_os_error()));
    }
}
