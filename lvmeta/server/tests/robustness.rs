//! lvmeta-server under bad clients and signals: garbage, truncated and oversized frames and
//! clients that go away leave it serving; a killed worker is reported, never rerun; Ctrl-C
//! reaches the worker; SIGTERM waits for the command running; --max bounds the commands
//! running at once; a server whose binary was replaced on disk refuses; non-root clients are
//! refused (root_*).

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{paused_pid, Server, Side, LVMC, LVMETA};
use lvmeta_forward::codec::{self, Frame, Request};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A side with PVs d0, d1 in VG vg.
fn vg_side(dir: &std::path::Path) -> Side {
    let side = Side::new(dir);
    for args in [
        &["pvcreate", "d0", "d1"][..],
        &["vgcreate", "vg", "d0", "d1"],
    ] {
        let o = side.run(LVMETA, "0", args, &[]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    side
}

fn lv_names(side: &Side) -> String {
    let o = side.run(
        LVMETA,
        "0",
        &["lvs", "--noheadings", "-o", "lv_name", "vg"],
        &[],
    );
    String::from_utf8_lossy(&o.stdout).replace(' ', "")
}

/// `lvmc lvcreate -n NAME` paused before its commit: the client and the pid that runs it.
fn paused_lvcreate(side: &Side, lvmc: &str, server: &Server, name: &str) -> (Child, i32) {
    let pause = side.dir.join("pause");
    let env = format!("before-commit:{}", pause.display());
    let socket = server.socket();
    let client = side
        .command(
            lvmc,
            socket.to_str().unwrap(),
            &["lvcreate", "-an", "-Zn", "-n", name, "-L", "4m", "vg"],
            &[("HALVM_TEST_PAUSE", &env)],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = paused_pid(&pause);
    assert_eq!(
        common::parent_of(pid),
        Some(server.pid()),
        "a worker runs it"
    );
    (client, pid)
}

fn wait_exit(c: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let t = Instant::now();
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            return st;
        }
        assert!(t.elapsed() < limit, "client still running after {limit:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn gone(pid: i32) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(10) {
        // A zombie is gone too: its parent (the server) reaps it.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(s) if s[s.rfind(')').unwrap() + 2..].starts_with('Z') => return true,
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    false
}

fn wait_log(server: &Server, want: &str) {
    let t = Instant::now();
    while !server.log().contains(want) {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{want:?} not in the server's log:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One command through a lone lvmc (it cannot run anything locally) succeeds.
fn serves(server: &Server, side: &Side, lvmc: &str) {
    let o = side.run(lvmc, server.socket().to_str().unwrap(), &["vgs", "vg"], &[]);
    assert!(
        o.status.success(),
        "{}\nserver log:\n{}",
        String::from_utf8_lossy(&o.stderr),
        server.log()
    );
}

fn request_bytes() -> Vec<u8> {
    codec::encode(&Frame::Request(Request {
        argv: vec!["lvmeta".into(), "vgs".into()],
        env: vec![b"A=b".to_vec()],
        umask: 0o022,
    }))
    .unwrap()
}

#[test]
fn bad_frames_and_vanishing_clients_leave_the_server_serving() {
    let top = tempfile::tempdir().unwrap();
    let side = vg_side(top.path());
    let lvmc = common::lone_lvmc(top.path());
    let lvmc = lvmc.to_str().unwrap();
    let mut server = Server::start(&[]);
    let req = request_bytes();
    let mut oversized = req[..codec::HEADER_LEN].to_vec();
    oversized[8..12].copy_from_slice(&(codec::MAX_FRAME as u32).to_le_bytes());
    oversized.extend(std::iter::repeat_n(0u8, 4096));
    let mut signal_first = codec::encode(&Frame::Signal(2)).unwrap();
    signal_first.extend_from_slice(&req);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "garbage",
            b"GET / HTTP/1.0\r\n\r\n".to_vec(),
            "not an lvmeta-server frame",
        ),
        ("truncated", req[..req.len() - 3].to_vec(), "truncated"),
        ("oversized", oversized, "over the limit"),
        (
            "a signal first",
            signal_first,
            "where a request was expected",
        ),
        // A whole request but no SCM_RIGHTS fds (plain write).
        ("no fds", req.clone(), "carried 0 fds"),
    ];
    for (what, bytes, logged) in cases {
        let mut s = UnixStream::connect(server.socket()).unwrap();
        s.write_all(&bytes).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        // The worker accepts, reads, logs and closes: EOF after its Accepted.
        // (ECONNRESET instead of EOF when it closed with bytes of ours unread.)
        let mut back = Vec::new();
        if let Err(e) = s.read_to_end(&mut back) {
            assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{what}: {e}");
        }
        assert_eq!(
            codec::decode(&back).map(|(f, _)| f),
            Ok(Frame::Accepted),
            "{what}"
        );
        wait_log(&server, logged);
        serves(&server, &side, lvmc);
    }
    // A client that sends nothing (as one probing whether a server runs): no warning.
    let before = server.log();
    let s = UnixStream::connect(server.socket()).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    let _ = (&s).read_to_end(&mut back);
    drop(s);
    drop(UnixStream::connect(server.socket()).unwrap());
    serves(&server, &side, lvmc);
    assert_eq!(
        server.log(),
        before,
        "a silent client is not worth a warning"
    );
    // A client that goes away in the middle of its request.
    let mut s = UnixStream::connect(server.socket()).unwrap();
    s.write_all(&req[..20]).unwrap();
    drop(s);
    serves(&server, &side, lvmc);
    // Many at once: the pool refills.
    for _ in 0..10 {
        drop(UnixStream::connect(server.socket()).unwrap());
    }
    serves(&server, &side, lvmc);
    assert!(server.alive(), "{}", server.log());
    assert!(!server.log().contains("killed by"), "{}", server.log());
}

#[test]
fn a_killed_worker_fails_the_client_with_exit_5_and_is_never_rerun() {
    let top = tempfile::tempdir().unwrap();
    let side = vg_side(top.path());
    let server = Server::start(&[]);
    // The lvmc that could run lvmeta locally: it must not.
    let (mut client, worker) = paused_lvcreate(&side, LVMC, &server, "a");
    kill(Pid::from_raw(worker), Signal::SIGKILL).unwrap();
    let st = wait_exit(&mut client, Duration::from_secs(20));
    let mut err = String::new();
    client
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(st.code(), Some(5), "{err}");
    assert!(err.contains("ended without an exit status"), "{err}");
    // A local rerun would have paused again, writing its own pid.
    let pause = std::fs::read_to_string(side.dir.join("pause")).unwrap();
    assert_eq!(pause, format!("before-commit {worker}\n"));
    assert_eq!(lv_names(&side), "", "nothing committed");
    wait_log(
        &server,
        &format!("worker {worker} (running a command) was killed by SIGKILL"),
    );
    std::fs::remove_file(side.dir.join("pause")).unwrap();
    serves(&server, &side, LVMC);
}

#[test]
fn ctrl_c_on_lvmc_interrupts_the_worker() {
    let top = tempfile::tempdir().unwrap();
    let side = vg_side(top.path());
    let server = Server::start(&[]);
    let (mut client, worker) = paused_lvcreate(&side, LVMC, &server, "a");
    kill(Pid::from_raw(client.id() as i32), Signal::SIGINT).unwrap();
    let st = wait_exit(&mut client, Duration::from_secs(20));
    // As a local lvmeta hit by Ctrl-C: ended by SIGINT.
    assert_eq!(st.signal(), Some(Signal::SIGINT as i32), "{st:?}");
    assert!(gone(worker));
    wait_log(
        &server,
        &format!("worker {worker} (running a command) was killed by SIGINT"),
    );
    let _ = std::fs::remove_file(side.dir.join("pause"));
    assert_eq!(lv_names(&side), "", "interrupted before its commit");
}

#[test]
fn a_client_that_dies_hangs_up_its_worker() {
    let top = tempfile::tempdir().unwrap();
    let side = vg_side(top.path());
    let server = Server::start(&[]);
    let (mut client, worker) = paused_lvcreate(&side, LVMC, &server, "a");
    client.kill().unwrap();
    client.wait().unwrap();
    assert!(gone(worker));
    wait_log(
        &server,
        &format!("worker {worker} (running a command) was killed by SIGHUP"),
    );
    let _ = std::fs::remove_file(side.dir.join("pause"));
    assert_eq!(lv_names(&side), "");
}

#[test]
fn a_client_that_dies_before_reading_its_answer_hangs_up_its_worker_too() {
    use std::os::fd::AsRawFd;
    let top = tempfile::tempdir().unwrap();
    let side = vg_side(top.path());
    let server = Server::start(&[]);
    let pause = side.dir.join("pause");
    let devs: Vec<String> = (0..common::DISKS).map(|i| format!("d{i}")).collect();
    let argv = [
        "lvmeta",
        "lvcreate",
        "--devices",
        &devs.join(","),
        "--lock-dir",
        "locks",
        "-an",
        "-Zn",
        "-n",
        "a",
        "-L",
        "4m",
        "vg",
    ];
    let env = [
        "HALVM_CONFIG=none.toml".to_string(),
        "LVM_SYSTEM_DIR=lvm".to_string(),
        format!("HALVM_TEST_PAUSE=before-commit:{}", pause.display()),
    ];
    let bytes = codec::encode(&Frame::Request(Request {
        argv: argv.iter().map(|a| a.to_string()).collect(),
        env: env.iter().map(|e| e.as_bytes().to_vec()).collect(),
        umask: 0o022,
    }))
    .unwrap();
    // A client that sends its request (with its stdin, stdout, stderr and directory) and
    // never reads a byte: the worker's `Accepted` waits unread in its socket.
    let s = UnixStream::connect(server.socket()).unwrap();
    let null = std::fs::File::open("/dev/null").unwrap();
    let dir = std::fs::File::open(&side.dir).unwrap();
    let fds = [
        null.as_raw_fd(),
        null.as_raw_fd(),
        null.as_raw_fd(),
        dir.as_raw_fd(),
    ];
    nix::sys::socket::sendmsg::<()>(
        s.as_raw_fd(),
        &[std::io::IoSlice::new(&bytes)],
        &[nix::sys::socket::ControlMessage::ScmRights(&fds)],
        nix::sys::socket::MsgFlags::empty(),
        None,
    )
    .unwrap();
    let worker = paused_pid(&pause);
    // Closed with unread bytes, the connection is reset, not ended: the worker reads
    // ECONNRESET, which means the client is gone all the same.
    drop(s);
    assert!(gone(worker), "the worker outlived its client");
    wait_log(
        &server,
        &format!("worker {worker} (running a command) was killed by SIGHUP"),
    );
    let _ = std::fs::remove_file(&pause);
    assert_eq!(lv_names(&side), "");
}

#[test]
fn sigterm_waits_for_the_running_command() {
    let top = tempfile::tempdir().unwrap();
    let side = vg_side(top.path());
    let mut server = Server::start(&[]);
    let (mut client, worker) = paused_lvcreate(&side, LVMC, &server, "a");
    kill(Pid::from_raw(server.pid()), Signal::SIGTERM).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.alive(), "stopped under a running command");
    assert!(!server.socket().exists(), "new clients find no socket");
    // The idle children are gone; the busy one is not.
    assert_eq!(server.children(), vec![worker]);
    std::fs::remove_file(side.dir.join("pause")).unwrap();
    assert!(wait_exit(&mut client, Duration::from_secs(20)).success());
    assert!(server.terminate(Duration::from_secs(20)).success());
    assert_eq!(lv_names(&side), "a\n");
}

/// Whether `-vv`'s lines say VG vg's metadata text was taken as parsed before.
fn vg_as_parsed(stderr: &[u8]) -> bool {
    String::from_utf8_lossy(stderr)
        .lines()
        .any(|l| l.contains("VG vg: metadata text") && l.ends_with("as parsed before"))
}

#[test]
fn a_text_parsed_ahead_is_taken_only_while_the_disk_holds_it() {
    let top = tempfile::tempdir().unwrap();
    let side = vg_side(top.path());
    let server = Server::start(&[]);
    let sock = server.socket().display().to_string();
    let lvmc = common::lone_lvmc(top.path());
    let lvmc = lvmc.to_str().unwrap();
    let ok = |o: std::process::Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o
    };
    // The commit's text goes to the server, which parses it once idle and forks children
    // that start with it: soon a command takes it instead of parsing.
    ok(side.run(
        lvmc,
        &sock,
        &["lvcreate", "-an", "-Zn", "-n", "a", "-L", "4m", "vg"],
        &[],
    ));
    let t = Instant::now();
    loop {
        let o = ok(side.run(lvmc, &sock, &["lvs", "-vv", "vg"], &[]));
        if vg_as_parsed(&o.stderr) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no command took the parsed text:\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&o.stderr),
            server.log()
        );
        // Quiet for longer than the server waits before it parses (100 ms).
        std::thread::sleep(Duration::from_millis(250));
    }
    // Changed behind the server's back (lvmeta run directly reports nothing): the text on
    // disk is another, so it is parsed, and the change shows.
    ok(side.run(
        LVMETA,
        "0",
        &["lvcreate", "-an", "-Zn", "-n", "b", "-L", "4m", "vg"],
        &[],
    ));
    let o = ok(side.run(
        lvmc,
        &sock,
        &["lvs", "-vv", "--noheadings", "-o", "lv_name", "vg"],
        &[],
    ));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!vg_as_parsed(&o.stderr), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).replace(' ', ""),
        "a\nb\n"
    );
    // Reads report what they parsed: that text too is soon taken.
    let t = Instant::now();
    loop {
        let o = ok(side.run(
            lvmc,
            &sock,
            &["lvs", "-vv", "--noheadings", "-o", "lv_name", "vg"],
            &[],
        ));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).replace(' ', ""),
            "a\nb\n"
        );
        if vg_as_parsed(&o.stderr) {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "{}", server.log());
        // Quiet for longer than the server waits before it parses (100 ms).
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn configuration_parsed_ahead_is_taken_only_while_the_files_hold_it() {
    let top = tempfile::tempdir().unwrap();
    let side = vg_side(top.path());
    std::fs::write(
        side.dir.join("lvm/lvm.conf"),
        "backup { backup = 0 archive = 0 }\n",
    )
    .unwrap();
    let server = Server::start(&[]);
    let sock = server.socket().display().to_string();
    let lvmc = common::lone_lvmc(top.path());
    let lvmc = lvmc.to_str().unwrap();
    let lvs = || side.run(lvmc, &sock, &["lvs", "-vv", "vg"], &[]);
    // A command reports the files it parsed; soon the server's children start with them.
    let t = Instant::now();
    loop {
        let o = lvs();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let err = String::from_utf8_lossy(&o.stderr);
        if err.contains("none.toml: as parsed before")
            && err.contains("lvm.conf in lvm: as parsed before")
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no command took the parsed configuration:\n{err}\nserver log:\n{}",
            server.log()
        );
        // Quiet for longer than the server waits before it parses (100 ms).
        std::thread::sleep(Duration::from_millis(250));
    }
    // Changed: the very next command reads the new files, never what was parsed before.
    std::fs::write(
        side.dir.join("lvm/lvm.conf"),
        "backup { backup = 0 archive = 0 }\ndevices { global_filter = [ \"r|.*|\" ] }\n",
    )
    .unwrap();
    let o = lvs();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success(),
        "every device filtered out, yet:\n{err}"
    );
    assert!(err.contains("Volume group \"vg\" not found"), "{err}");
    assert!(!err.contains("lvm.conf in lvm: as parsed before"), "{err}");
    std::fs::write(side.dir.join("none.toml"), "[locking\n").unwrap();
    let o = lvs();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("none.toml"), "the bad file is named:\n{err}");
}

/// Shared and private dirty kB of PID's private writable mappings (`rw-p` in
/// /proc/PID/smaps); None once it is gone.
fn writable_dirty_kb(pid: i32) -> Option<(u64, u64)> {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).ok()?;
    let (mut shared, mut private, mut writable) = (0, 0, false);
    for l in smaps.lines() {
        let mut f = l.split_whitespace();
        match (f.next(), f.next()) {
            (Some(range), Some(perms)) if range.contains('-') && !range.ends_with(':') => {
                writable = perms == "rw-p";
            }
            (Some(key @ ("Shared_Dirty:" | "Private_Dirty:")), Some(kb)) if writable => {
                let kb: u64 = kb.parse().unwrap();
                if key == "Shared_Dirty:" {
                    shared += kb;
                } else {
                    private += kb;
                }
            }
            _ => {}
        }
    }
    Some((shared, private))
}

#[test]
fn idle_children_copy_the_servers_memory_before_a_client_comes() {
    // A server with the metadata text of a VG parsed ahead: memory worth copying.
    let top = tempfile::tempdir().unwrap();
    let side = vg_side(top.path());
    let server = Server::start(&[]);
    let sock = server.socket().display().to_string();
    let lvmc = common::lone_lvmc(top.path());
    let o = side.run(lvmc.to_str().unwrap(), &sock, &["lvs", "vg"], &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Each idle child, once no client has come for 100 ms, write-faults the pages it shares
    // with the server: soon they are its own (private), none shared and dirty.
    let t = Instant::now();
    loop {
        let kids = server.children();
        // Children retired meanwhile (the server learnt the text) are left out.
        let shared: Vec<(i32, u64, u64)> = kids
            .iter()
            .filter_map(|&k| writable_dirty_kb(k).map(|(s, p)| (k, s, p)))
            .collect();
        if !shared.is_empty() && shared.iter().all(|&(_, s, p)| s <= 64 && p >= 256) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "idle children still share dirty memory with the server (pid, shared kB, private kB): {shared:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `THP_enabled` from /proc/PID/status (0: PR_SET_THP_DISABLE is set).
fn thp_enabled(pid: i32) -> String {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    st.lines()
        .find_map(|l| l.strip_prefix("THP_enabled:"))
        .unwrap_or_else(|| panic!("no THP_enabled in /proc/{pid}/status"))
        .trim()
        .to_string()
}

#[test]
fn commands_run_without_transparent_huge_pages() {
    // This test process has THP as the system says (it never asked otherwise) ...
    assert_eq!(thp_enabled(std::process::id() as i32), "1");
    let top = tempfile::tempdir().unwrap();
    let side = vg_side(top.path());
    let lvmc = common::lone_lvmc(top.path());
    let server = Server::start(&[]);
    // ... the server, and so every worker it forks, has it off, the one running a command too.
    assert_eq!(thp_enabled(server.pid()), "0");
    let (mut client, worker) = paused_lvcreate(&side, lvmc.to_str().unwrap(), &server, "t");
    assert_eq!(thp_enabled(worker), "0");
    std::fs::remove_file(side.dir.join("pause")).unwrap();
    assert!(wait_exit(&mut client, Duration::from_secs(20)).success());
}

#[test]
fn max_bounds_the_commands_running_at_once() {
    let top = tempfile::tempdir().unwrap();
    let side = vg_side(top.path());
    let lvmc = common::lone_lvmc(top.path());
    let lvmc = lvmc.to_str().unwrap();
    let server = Server::start(&["--idle", "1", "--max", "1"]);
    let (mut first, _) = paused_lvcreate(&side, lvmc, &server, "a");
    let socket = server.socket();
    let mut second = side
        .command(lvmc, socket.to_str().unwrap(), &["vgs", "vg"], &[])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(second.try_wait().unwrap().is_none(), "waits in the backlog");
    std::fs::remove_file(side.dir.join("pause")).unwrap();
    assert!(wait_exit(&mut first, Duration::from_secs(20)).success());
    assert!(wait_exit(&mut second, Duration::from_secs(20)).success());
}

#[test]
fn a_server_whose_binary_was_replaced_refuses_and_the_client_runs_lvmeta_itself() {
    // A copy of the server, started, then replaced on disk as a package upgrade does (a new
    // file renamed over the old path).
    let bin = tempfile::tempdir().unwrap();
    let exe = bin.path().join("lvmeta-server");
    common::copy_exe(std::path::Path::new(common::SERVER), &exe);
    let server = Server::start_exe(&exe, &[]);
    let side = vg_side(server.dir.path());
    let lone = common::lone_lvmc(bin.path());
    let lone = lone.to_str().unwrap();
    let sock = server.socket().display().to_string();
    serves(&server, &side, lone);
    let new = bin.path().join("lvmeta-server.new");
    common::copy_exe(std::path::Path::new(common::SERVER), &new);
    std::fs::rename(&new, &exe).unwrap();
    // Refused now: a lone lvmc has no lvmeta to fall back to ...
    let out = side.run(lone, &sock, &["vgs", "vg"], &[]);
    assert!(!out.status.success(), "the replaced server still served");
    wait_log(&server, "was replaced on disk");
    // ... and lvmc beside lvmeta runs the command itself.
    let out = side.run(
        LVMC,
        &sock,
        &["lvcreate", "-n", "after", "-L", "4m", "vg"],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lv_names(&side).contains("after"), "{}", lv_names(&side));
}

#[test]
fn root_non_root_client_is_refused_and_runs_lvmeta_itself() {
    halvm_testkit::require_root();
    // The server runs as root: --test-allow-own-uid (its own uid, 0) lets no one else in.
    let server = Server::start(&[]);
    // Open the socket's mode so that the server's own check is what refuses.
    use std::os::unix::fs::PermissionsExt;
    let open = |p: &std::path::Path, m| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    open(server.dir.path(), 0o755);
    open(&server.dir.path().join("run"), 0o755);
    open(&server.socket(), 0o666);
    use std::os::unix::process::CommandExt;
    let out = std::process::Command::new(LVMC)
        .arg("--version")
        .env("LVMETA_SERVER", server.socket())
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("lvmeta "));
    wait_log(&server, "refused a client with uid 65534");
    assert!(server.log().contains("root only"), "{}", server.log());
}

#[test]
fn root_a_client_in_another_mount_namespace_is_refused_and_runs_lvmeta_itself() {
    halvm_testkit::require_root();
    let unshare = halvm_testkit::require_tool("unshare", "util-linux");
    let server = Server::start(&[]);
    // The socket is reachable from the new namespace (a copy of this one's mounts), but
    // paths there need not mean the same files: refused.
    let out = std::process::Command::new(unshare)
        .args(["--mount", "--propagation", "private", LVMC, "--version"])
        .env("LVMETA_SERVER", server.socket())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("lvmeta "));
    wait_log(&server, "the client is in another mount namespace");
}
