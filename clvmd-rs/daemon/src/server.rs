//! The daemon's poll loop: the only place that does I/O for the core state machine.

use std::collections::BTreeMap;
use std::io::{ErrorKind as IoKind, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use clvmd_core::{ConnId, CpgMsg, Input, Node, NodeConfig, Output};
use clvmd_proto::{
    encode_frame, ErrorKind, FrameReader, Request, Response, MAX_REQUEST, MAX_RESPONSE,
    PROTOCOL_VERSION,
};
use halvm_dlm::{Dlm, RealDlm};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};

use crate::corosync::{self, Corosync};
use crate::dm::MakeDmExec;
use crate::workers::{Work, Workers};
use crate::DaemonError;

/// Answers buffered for a client that does not read them before it is dropped.
const MAX_UNREAD: usize = 4 * MAX_RESPONSE;

pub struct Options {
    pub socket: PathBuf,
    pub pidfile: PathBuf,
    pub foreground: bool,
    pub node_name: Option<String>,
    pub corosync: bool,
    pub debug: bool,
    pub log_file: Option<PathBuf>,
    /// Where dlm_controld publishes the cluster name ([`crate::CLUSTER_NAME_FILE`]).
    pub cluster_name_file: PathBuf,
    /// halvm.toml's policy.quorum_loss.
    pub quorum_loss: clvmd_core::QuorumLoss,
    /// halvm.toml's policy.detach.
    pub detach: clvmd_core::Detach,
    /// halvm.toml's policy.dg_failure.
    pub dg_failure: clvmd_proto::DgFailure,
    /// Where the quorum fence records what it froze ([`crate::FENCE_DIR`]).
    pub fence_dir: PathBuf,
}

const SYSLOG_SOCKET: &str = "/dev/log";

/// Starts the daemon: socket, daemonize, logging, corosync, loop. Returns in the parent
/// right after the fork (the socket is bound by then), and in the daemon on SIGTERM/SIGINT.
pub fn run(opts: Options) -> Result<(), DaemonError> {
    let listener = bind(&opts.socket)?;
    // A daemon that would log to syslog checks for it while its caller still sees errors:
    // after the fork, a failure would be silent.
    if !opts.foreground && opts.log_file.is_none() && !Path::new(SYSLOG_SOCKET).exists() {
        let _ = std::fs::remove_file(&opts.socket);
        return Err(DaemonError::Logging(format!(
            "no syslog socket ({SYSLOG_SOCKET}); use -f or --log-file"
        )));
    }
    if !opts.foreground && daemonize()? {
        return Ok(());
    }
    // After the fork: syslog lines carry the daemon's pid. Errors before this point reach
    // the caller's stderr.
    init_logging(&opts)?;
    lock_code();
    write_pidfile(&opts.pidfile)?;
    let result = serve(&opts, listener, Arc::new(RealDlm), false);
    let _ = std::fs::remove_file(&opts.pidfile);
    let _ = std::fs::remove_file(&opts.socket);
    result
}

/// Locks the daemon's file-backed mappings (its code and read-only data, and the libraries')
/// in memory, as corosync does with mlockall: a quorum freeze that first has to page in code it
/// never ran (from a slow or failing disk, or a node short of memory) reacts late, and a write
/// started meanwhile still lands. Anonymous memory (heap, thread stacks) is left alone: locking
/// it would commit every thread's whole stack. A failure is logged, not fatal.
pub fn lock_code() {
    let t = Instant::now();
    let maps = match std::fs::read_to_string("/proc/self/maps") {
        Ok(m) => m,
        Err(e) => {
            log::warn!("cannot lock the code in memory: /proc/self/maps: {e}");
            return;
        }
    };
    let (mut bytes, mut failed) = (0usize, None);
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else {
            continue;
        };
        // address perms offset dev inode path: file-backed ones have a path.
        if !f.nth(3).is_some_and(|p| p.starts_with('/')) || perms.starts_with("---") {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else {
            continue;
        };
        let Some(addr) = std::ptr::NonNull::new(a as *mut std::ffi::c_void) else {
            continue;
        };
        // SAFETY: mlock changes no memory contents; the range is one mapping of this process
        // as the kernel listed it (page aligned), and locking a range that went away meanwhile
        // fails with ENOMEM, which is only logged.
        match unsafe { nix::sys::mman::mlock(addr, b - a) } {
            Ok(()) => bytes += b - a,
            Err(e) => failed = Some(e),
        }
    }
    match failed {
        Some(e) => log::warn!(
            "locked {} KiB of code in memory, some mappings not: {e}",
            bytes / 1024
        ),
        None => log::info!(
            "locked {} KiB of code in memory in {} ms",
            bytes / 1024,
            t.elapsed().as_millis()
        ),
    }
}

/// Lines to stderr (`-f`) or to a file (`--log-file`).
struct LineLogger {
    level: log::LevelFilter,
    file: Option<std::sync::Mutex<std::fs::File>>,
}

impl log::Log for LineLogger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= self.level
    }
    fn log(&self, r: &log::Record) {
        if !self.enabled(r.metadata()) {
            return;
        }
        // Wall-clock milliseconds (UTC): the reaction times are read from these lines, beside
        // other nodes' and the host's.
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() % 86_400_000);
        let line = format!(
            "clvmd-rs[{}]: {:02}:{:02}:{:02}.{:03} {}: {}\n",
            std::process::id(),
            ms / 3_600_000,
            ms / 60_000 % 60,
            ms / 1000 % 60,
            ms % 1000,
            r.level(),
            r.args()
        );
        match &self.file {
            Some(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None => eprint!("{line}"),
        }
    }
    fn flush(&self) {}
}

/// Where syslog and journald read datagrams.
const DEV_LOG: &str = "/dev/log";

fn init_logging(opts: &Options) -> Result<(), DaemonError> {
    let level = if opts.debug {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    let logger: Box<dyn log::Log> = if opts.foreground {
        Box::new(LineLogger { level, file: None })
    } else if let Some(path) = &opts.log_file {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| DaemonError::Logging(format!("{}: {e}", path.display())))?;
        Box::new(LineLogger {
            level,
            file: Some(std::sync::Mutex::new(f)),
        })
    } else {
        // The datagrams are sent unconnected and dropped when nobody reads them: a daemon
        // without a syslog socket at start would log nothing, so it is refused then.
        let socket = Path::new(DEV_LOG);
        if !socket.exists() {
            return Err(DaemonError::Logging(format!(
                "no syslog socket ({DEV_LOG}); use -f or --log-file"
            )));
        }
        Box::new(
            halvm_syslog::Syslog::new("clvmd-rs", level)
                .with_facility(halvm_syslog::facility_code("daemon").expect("a known facility")),
        )
    };
    // A second call (tests running the server twice in one process) keeps the first logger.
    if log::set_boxed_logger(logger).is_ok() {
        log::set_max_level(level);
    }
    Ok(())
}

/// Binds the socket (mode 0600), replacing one a dead daemon left; refuses if a daemon answers.
pub fn bind(path: &Path) -> Result<UnixListener, DaemonError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| DaemonError::SocketDir {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(DaemonError::AlreadyRunning {
                path: path.to_path_buf(),
            });
        }
        // A socket left by a daemon that died.
        let _ = std::fs::remove_file(path);
    }
    let err = |source| DaemonError::Bind {
        path: path.to_path_buf(),
        source,
    };
    let l = UnixListener::bind(path).map_err(err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(err)?;
    l.set_nonblocking(true).map_err(err)?;
    Ok(l)
}

/// Forks; true in the parent. The child leaves the terminal's session and points its standard
/// streams at /dev/null.
fn daemonize() -> Result<bool, DaemonError> {
    use nix::unistd::{dup2, fork, setsid, ForkResult};
    // SAFETY: called before any thread, logger, corosync connection or lockspace exists (only
    // the listening socket, which is fork-safe), so the child may run anything.
    match unsafe { fork() }.map_err(DaemonError::Daemonize)? {
        ForkResult::Parent { .. } => return Ok(true),
        ForkResult::Child => {}
    }
    setsid().map_err(DaemonError::Daemonize)?;
    let _ = std::env::set_current_dir("/");
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| DaemonError::Daemonize(nix::Error::from_raw(e.raw_os_error().unwrap_or(0))))?;
    for fd in 0..=2 {
        dup2(null.as_raw_fd(), fd).map_err(DaemonError::Daemonize)?;
    }
    Ok(false)
}

fn write_pidfile(path: &Path) -> Result<(), DaemonError> {
    let err = |source| DaemonError::PidFile {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(path, format!("{}\n", std::process::id())).map_err(err)
}

fn read_cluster_name(file: &Path) -> Option<String> {
    let s = std::fs::read_to_string(file).ok()?;
    let s = s.trim();
    (!s.is_empty() && s.len() <= 64).then(|| s.to_string())
}

struct Conn {
    stream: UnixStream,
    reader: FrameReader,
    out: Vec<u8>,
    hello: bool,
    /// Close once `out` is flushed (after a protocol error).
    closing: bool,
    /// With the timing log on: the request being served and when it was read.
    asked: Option<(Instant, String)>,
}

/// How long a clean stop waits for `lvm_global` to be left.
const STOP_WAIT_MS: u64 = 10_000;

struct Server {
    node: Node,
    start: Instant,
    listener: UnixListener,
    conns: BTreeMap<ConnId, Conn>,
    next_conn: ConnId,
    workers: Workers,
    /// The device-mapper thread.
    dm_tx: std::sync::mpsc::Sender<(u64, clvmd_core::DmAction)>,
    done_rx: Receiver<Input>,
    wake_rx: UnixStream,
    corosync: Option<Corosync>,
    node_id: u32,
    cluster_name_file: PathBuf,
    fence_tx: std::sync::mpsc::Sender<crate::fence::Job>,
    /// The detach thread (policy.detach = global).
    detach_tx: std::sync::mpsc::Sender<crate::detach::Job>,
    /// The corosync connection failed: the daemon stays up (frozen VGs stay frozen, status
    /// says why) and sends nothing to the group any more.
    cluster_lost: bool,
    /// DLM calls handed to the lockspace threads and not yet completed.
    dlm_in_flight: usize,
    /// CPG messages held back while DLM calls are in flight (in order), and since when (ms).
    cpg_held: std::collections::VecDeque<CpgMsg>,
    cpg_held_since: u64,
    /// When corosync's quorum fd was last found readable (the reaction time's start).
    quorum_seen: Option<Instant>,
    /// dlm_controld's liveness (with corosync only: without it there is no dlm_controld).
    dlmc: Option<crate::dlmc::DlmControldWatch>,
    /// The timing log is on ([`crate::workers::TIMING_ENV`]).
    timing: bool,
}

/// The longest a CPG message waits for DLM calls in flight (a call can block for long while
/// the DLM recovers).
const CPG_HOLD_MS: u64 = 20;

/// Serves on `listener` until SIGTERM/SIGINT/SIGHUP. `dlm` is the kernel's in the daemon and
/// an in-memory one in tests; `assume_quorate` (tests only) stands in for corosync's quorum
/// when running without corosync.
pub fn serve(
    opts: &Options,
    listener: UnixListener,
    dlm: Arc<dyn Dlm>,
    assume_quorate: bool,
) -> Result<(), DaemonError> {
    serve_with(opts, listener, dlm, crate::dm::kernel_dm(), assume_quorate)
}

/// [`serve`] with a device-mapper executor of the caller's (tests: an in-memory one).
pub fn serve_with(
    opts: &Options,
    listener: UnixListener,
    dlm: Arc<dyn Dlm>,
    dm: MakeDmExec,
    assume_quorate: bool,
) -> Result<(), DaemonError> {
    // Signals are read from a signalfd; block them before any thread inherits the mask.
    let mut mask = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        mask.add(s);
    }
    mask.thread_block().map_err(DaemonError::Signals)?;
    let sigfd = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(DaemonError::Signals)?;

    // The loop's own plumbing (pipes, threads) failing to set up, reported with the socket.
    let set_up = |source| DaemonError::Bind {
        path: opts.socket.clone(),
        source,
    };
    let timing = crate::workers::timing_on();
    let (workers, done_rx, wake_rx) = Workers::new(dlm.clone()).map_err(set_up)?;
    let (done_tx, wake_tx) = workers.completions().map_err(set_up)?;
    let corosync = if opts.corosync {
        let wake = wake_tx.try_clone().map_err(set_up)?;
        Some(Corosync::connect(done_tx.clone(), wake, timing)?)
    } else {
        None
    };
    let node_id = corosync.as_ref().map_or(0, |c| c.node_id);
    let node_name = opts.node_name.clone().unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| format!("node{node_id}"))
    });
    // Lockspaces a daemon that died left joined hold its activation locks as orphans.
    let left_joined = dlm.joined_here().unwrap_or_else(|e| {
        log::error!("{e}");
        Vec::new()
    });
    let detach_tx = crate::detach::spawn(
        opts.socket.clone(),
        done_tx.clone(),
        wake_tx.try_clone().map_err(set_up)?,
    );
    let fencer = crate::fence::Fencer::new(opts.fence_dir.clone());
    let left_frozen = fencer.found();
    let dm_tx = crate::dm::spawn(dm, fencer.guard(), done_tx, wake_tx);
    log::info!(
        "clvmd-rs {} started: node {node_name} (id {node_id}), socket {}",
        env!("CARGO_PKG_VERSION"),
        opts.socket.display()
    );
    let fence_tx = workers.spawn_fence(fencer);
    let mut srv = Server {
        node: Node::new(NodeConfig {
            node_id,
            node_name,
            quorum_loss: opts.quorum_loss,
            detach: opts.detach,
            dg_failure: opts.dg_failure,
        }),
        start: Instant::now(),
        listener,
        conns: BTreeMap::new(),
        next_conn: 0,
        workers,
        dm_tx,
        done_rx,
        wake_rx,
        corosync,
        node_id,
        cluster_name_file: opts.cluster_name_file.clone(),
        fence_tx,
        detach_tx,
        cluster_lost: false,
        dlm_in_flight: 0,
        cpg_held: Default::default(),
        cpg_held_since: 0,
        quorum_seen: None,
        dlmc: opts
            .corosync
            .then(|| crate::dlmc::DlmControldWatch::new(crate::dlmc::DLMC_SOCK)),
        timing,
    };
    if let Some(w) = srv.dlmc.as_mut() {
        w.reconnect();
        let running = w.connected();
        if !running {
            log::error!("dlm_controld is not running (no connection to its control socket)");
        }
        srv.feed(Input::DlmControld { running })?;
    }
    if !left_frozen.is_empty() {
        srv.feed(Input::FrozenFound { vgs: left_frozen })?;
    }
    srv.feed(Input::ClusterName(read_cluster_name(
        &srv.cluster_name_file,
    )))?;
    if srv.corosync.is_none() {
        // A group of one; quorum unknown, so not quorate (unless a test says otherwise).
        srv.feed(Input::Membership {
            members: vec![node_id],
        })?;
        srv.feed(Input::Quorum {
            quorate: assume_quorate,
        })?;
    }
    for e in corosync::take_events() {
        srv.feed(e)?;
    }
    if !left_joined.is_empty() {
        srv.feed(Input::LockspacesFound { names: left_joined })?;
    }
    let result = srv.run(&sigfd);
    // Nothing resumes a frozen device on the way out: it stays suspended (or failing I/O)
    // with its record under the fence directory, and the next daemon keeps it so.
    for f in srv.node.status().frozen {
        log::warn!(
            "exiting with shared VG {} {} ({}); it stays so (record in {})",
            f.vg,
            f.state,
            f.how,
            opts.fence_dir.display()
        );
    }
    result
}

impl Server {
    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn feed(&mut self, input: Input) -> Result<(), DaemonError> {
        let now = self.now();
        let mut outs = self.node.step(now, input);
        // A fence order before anything else: it only queues work for the fence thread. Then
        // answers and DLM calls, then the rest (a multicast only queues work for the CPG
        // thread; without corosync it comes straight back and is stepped at once, after the
        // answers). The sort is stable, so the order within each group is kept.
        outs.sort_by_key(|o| match o {
            Output::Fence { .. } => 0,
            Output::Reply { .. }
            | Output::Dlm { .. }
            | Output::Join { .. }
            | Output::Leave { .. } => 1,
            _ => 2,
        });
        for o in outs {
            self.carry_out(o)?;
        }
        Ok(())
    }

    fn carry_out(&mut self, o: Output) -> Result<(), DaemonError> {
        match o {
            Output::Reply { conn, response } => self.reply(conn, &response),
            Output::Join { ls } => self.workers.submit(ls, Work::Join),
            Output::Leave { ls } => self.workers.submit(ls, Work::Leave),
            Output::Dlm { ls, tag, op } => {
                self.dlm_in_flight += 1;
                self.workers.submit(ls, Work::Call(tag, op, Instant::now()))
            }
            Output::Fence { tag, action } => {
                // The poll loop's share of the reaction time: corosync's notification read,
                // the state machine's step.
                match self.quorum_seen {
                    Some(t) => log::debug!(
                        "fence: {action:?}, ordered {} us after corosync's last quorum \
                         notification was read",
                        t.elapsed().as_micros()
                    ),
                    None => log::debug!("fence: {action:?}"),
                }
                self.fence_tx
                    .send(crate::fence::Job::Fence(tag, action, Instant::now()))
                    .expect("the fence thread lives as long as the daemon");
            }
            Output::Dm { tag, action } => self
                .dm_tx
                .send((tag, action))
                .expect("the device-mapper thread lives as long as the daemon"),
            Output::Watch {
                tag,
                action: clvmd_core::WatchAction::Detach { lv, images },
            } => self
                .detach_tx
                .send(crate::detach::Job::Detach(tag, lv, images))
                .expect("the detach thread lives as long as the daemon"),
            Output::Watch {
                tag,
                action: clvmd_core::WatchAction::ReadPolicy { lv },
            } => self
                .detach_tx
                .send(crate::detach::Job::Policy(tag, lv))
                .expect("the detach thread lives as long as the daemon"),
            Output::WriteCommit { tag, commit } => self
                .detach_tx
                .send(crate::detach::Job::WriteCommit(tag, commit))
                .expect("the detach thread lives as long as the daemon"),
            Output::Watch { tag, action } => self
                .fence_tx
                .send(crate::fence::Job::Watch(tag, action))
                .expect("the fence thread lives as long as the daemon"),
            // Multicasting makes corosync (realtime-scheduled) run on this node's CPUs: while a
            // DLM call is in flight (e.g. the release an unlock's answer waits for, with the
            // commit's announcement) the message is held back, so the answer comes first.
            Output::Cpg(msg) if self.dlm_in_flight > 0 || !self.cpg_held.is_empty() => {
                if self.cpg_held.is_empty() {
                    self.cpg_held_since = self.now();
                }
                self.cpg_held.push_back(msg);
            }
            Output::Cpg(msg) => self.send_cpg(msg)?,
        }
        Ok(())
    }

    fn send_cpg(&mut self, msg: CpgMsg) -> Result<(), DaemonError> {
        match self.corosync.as_mut() {
            // Queued for the CPG thread: the loop never waits for corosync.
            Some(c) => c.send(&msg, self.timing),
            None if self.cluster_lost => log::debug!("cluster lost: not sent: {msg:?}"),
            // Without corosync we are a group of one: our messages come straight back.
            None => {
                let from = self.node_id;
                self.feed(Input::Cpg { from, msg })?;
            }
        }
        Ok(())
    }

    /// Sends the held CPG messages once no DLM call is in flight, or once they waited
    /// [`CPG_HOLD_MS`] (or at once with `force`).
    fn release_cpg(&mut self, force: bool) -> Result<(), DaemonError> {
        if !(force || self.dlm_in_flight == 0 || self.now() >= self.cpg_held_since + CPG_HOLD_MS) {
            return Ok(());
        }
        // One at a time from the front: what sending feeds back (no corosync) queues behind.
        while let Some(msg) = self.cpg_held.pop_front() {
            self.send_cpg(msg)?;
        }
        Ok(())
    }

    /// dlm_controld's connection polled readable (`ready`: its fd was the last polled), or a
    /// reconnect is due: tells the core when it goes away or comes back.
    fn watch_dlm_controld(&mut self, ready: bool) -> Result<(), DaemonError> {
        let Some(w) = self.dlmc.as_mut() else {
            return Ok(());
        };
        if w.connected() {
            if ready && !w.still_there() {
                log::error!("dlm_controld went away (its control socket closed)");
                // Gone with corosync (it exits when corosync does): that is the cause to report.
                if let Some(Err(e)) = self.corosync.as_ref().map(Corosync::check) {
                    self.lose_cluster(e)?;
                }
                return self.feed(Input::DlmControld { running: false });
            }
        } else if w.reconnect() {
            log::warn!("dlm_controld is running (connected to its control socket)");
            return self.feed(Input::DlmControld { running: true });
        }
        Ok(())
    }

    /// The corosync connection failed (corosync stopped, or this node was expelled and its
    /// corosync killed). Exiting here would leave the node's frozen devices to whoever comes
    /// next; the daemon stays up instead, not quorate for good: the core freezes every shared
    /// VG started here and never thaws it, and status tells the admin to reboot.
    fn lose_cluster(&mut self, e: DaemonError) -> Result<(), DaemonError> {
        self.lose_cluster_why(e.to_string())
    }

    /// [`Self::lose_cluster`] with the failure as text (the CPG thread's report).
    fn lose_cluster_why(&mut self, why: String) -> Result<(), DaemonError> {
        if self.cluster_lost {
            return Ok(());
        }
        log::error!(
            "{why}: the cluster connection is lost; clvmd-rs stays up with the shared VGs' I/O \
             frozen (see clvmd-rs status)"
        );
        self.cluster_lost = true;
        if let Some(c) = self.corosync.take() {
            c.abandon();
        }
        self.feed(Input::ClusterLost { why })
    }

    fn reply(&mut self, conn: ConnId, response: &Response) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return; // the client went away
        };
        if let Some((t, what)) = c.asked.take() {
            log::info!(
                "timing: client {conn}: {what} answered after {} us",
                t.elapsed().as_micros()
            );
        }
        match encode_frame(response, MAX_RESPONSE) {
            Ok(f) => c.out.extend_from_slice(&f),
            Err(e) => log::error!("cannot encode a reply: {e}"),
        }
        flush(c);
        if c.out.len() > MAX_UNREAD {
            // A client that sends but never reads: stop buffering for it.
            log::warn!("client {conn} does not read its answers; closing");
            c.out.clear();
            c.closing = true;
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
    }

    fn run(&mut self, sigfd: &SignalFd) -> Result<(), DaemonError> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut stop_by: Option<u64> = None;
        loop {
            if let Some(t) = stop_by {
                if !self.node.leaving_global() {
                    return self.release_cpg(true);
                }
                if self.now() >= t {
                    log::warn!("lvm_global not left after {STOP_WAIT_MS} ms: exiting anyway");
                    return Ok(());
                }
            }
            let timeout = match self.node.next_wake() {
                Some(t) => t.saturating_sub(self.now()).min(1000),
                None => 1000,
            };
            let timeout = if stop_by.is_some() {
                timeout.min(100)
            } else {
                timeout
            };
            let timeout = if self.cpg_held.is_empty() {
                timeout
            } else {
                timeout.min((self.cpg_held_since + CPG_HOLD_MS).saturating_sub(self.now()))
            };
            let q_fd = match self.corosync.as_ref().map(Corosync::quorum_fd).transpose() {
                Ok(fd) => fd,
                Err(e) => {
                    self.lose_cluster(e)?;
                    continue;
                }
            };
            let conn_ids: Vec<ConnId> = self.conns.keys().copied().collect();
            let (ready, conn_ready) = {
                let mut fds = vec![
                    PollFd::new(sigfd.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.wake_rx.as_fd(), PollFlags::POLLIN),
                ];
                if let Some(fd) = q_fd {
                    // SAFETY: the fd belongs to a corosync handle owned by `self.corosync`,
                    // which outlives this poll call.
                    fds.push(PollFd::new(
                        unsafe { BorrowedFd::borrow_raw(fd) },
                        PollFlags::POLLIN,
                    ));
                }
                if let Some(fd) = self.dlmc.as_ref().and_then(|w| w.fd()) {
                    fds.push(PollFd::new(fd, PollFlags::POLLIN));
                }
                let base = fds.len();
                for id in &conn_ids {
                    let c = &self.conns[id];
                    let mut ev = PollFlags::POLLIN;
                    if !c.out.is_empty() {
                        ev |= PollFlags::POLLOUT;
                    }
                    fds.push(PollFd::new(c.stream.as_fd(), ev));
                }
                let t = PollTimeout::try_from(timeout as i32).unwrap_or(PollTimeout::MAX);
                match poll(&mut fds, t) {
                    Ok(_) => {}
                    Err(nix::errno::Errno::EINTR) => continue,
                    Err(e) => return Err(DaemonError::Poll(e)),
                }
                let r = |i: usize| fds[i].revents().is_some_and(|e| !e.is_empty());
                let ready: Vec<bool> = (0..base).map(r).collect();
                let conn_ready: Vec<(ConnId, bool)> = conn_ids
                    .iter()
                    .enumerate()
                    .map(|(i, id)| (*id, r(base + i)))
                    .collect();
                (ready, conn_ready)
            };
            // First what may ask for a freeze: corosync's quorum notification and dlm_controld
            // going away. Completions and CPG deliveries come after (a membership change's
            // multicasts are round trips to a corosync busy with the new ring, which held up
            // the freeze's order by 290 ms in the lab).
            let quorum = match &self.corosync {
                Some(c) if q_fd.is_some() && ready.get(3) == Some(&true) => {
                    self.quorum_seen = Some(Instant::now());
                    c.dispatch_quorum()
                }
                _ => Ok(()),
            };
            for e in corosync::take_events() {
                self.feed(e)?;
            }
            self.watch_dlm_controld(ready.last() == Some(&true))?;
            if ready[0] {
                if let Ok(Some(s)) = sigfd.read_signal() {
                    log::info!(
                        "signal {}: exiting (persistent locks stay as orphans for the next daemon)",
                        s.ssi_signo
                    );
                    if stop_by.is_some() {
                        return Ok(());
                    }
                    // Leave lvm_global first (bounded: a DLM in recovery may not answer).
                    self.feed(Input::Shutdown)?;
                    stop_by = Some(self.now() + STOP_WAIT_MS);
                }
            }
            if ready[1] {
                self.accept()?;
            }
            if ready[2] {
                let mut sink = [0u8; 256];
                while matches!(self.wake_rx.read(&mut sink), Ok(n) if n > 0) {}
            }
            // Completions, and what the CPG thread delivered (in its order).
            while let Ok(input) = self.done_rx.try_recv() {
                match input {
                    Input::ClusterLost { why } => self.lose_cluster_why(why)?,
                    // Left over from a CPG connection already lost.
                    Input::Cpg { .. } | Input::Membership { .. } if self.cluster_lost => {}
                    input => {
                        if matches!(input, Input::DlmDone { .. }) {
                            self.dlm_in_flight = self.dlm_in_flight.saturating_sub(1);
                        }
                        self.feed(input)?
                    }
                }
            }
            self.release_cpg(false)?;
            if let Err(e) = quorum {
                self.lose_cluster(e)?;
            }
            for (id, r) in conn_ready {
                if r {
                    self.service(id, &mut buf)?;
                }
            }
            if self.node.next_wake().is_some_and(|t| t <= self.now()) {
                self.feed(Input::Tick)?;
            }
        }
    }

    fn accept(&mut self) -> Result<(), DaemonError> {
        loop {
            let (stream, _) = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == IoKind::WouldBlock => return Ok(()),
                Err(e) => {
                    log::warn!("accept: {e}");
                    return Ok(());
                }
            };
            let cred = match getsockopt(&stream, PeerCredentials) {
                Ok(c) => c,
                Err(e) => {
                    log::warn!("peer credentials: {e}");
                    continue;
                }
            };
            if cred.uid() != 0 {
                log::warn!(
                    "refused a client with uid {} (pid {}): root only",
                    cred.uid(),
                    cred.pid()
                );
                let resp = Response::Failed {
                    kind: ErrorKind::Protocol,
                    message: format!(
                        "permission denied: clvmd-rs serves root only (you are uid {})",
                        cred.uid()
                    ),
                };
                if let Ok(f) = encode_frame(&resp, MAX_RESPONSE) {
                    let _ = (&stream).write(&f);
                }
                continue;
            }
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            self.next_conn += 1;
            let id = self.next_conn;
            self.conns.insert(
                id,
                Conn {
                    stream,
                    reader: FrameReader::new(MAX_REQUEST),
                    out: Vec::new(),
                    hello: false,
                    closing: false,
                    asked: None,
                },
            );
            log::debug!("client {id} connected (pid {})", cred.pid());
            self.feed(Input::Connected {
                conn: id,
                pid: cred.pid(),
            })?;
        }
    }

    /// Reads what a client sent, handles whole requests, writes what is pending.
    fn service(&mut self, id: ConnId, buf: &mut [u8]) -> Result<(), DaemonError> {
        let mut closed = false;
        if let Some(c) = self.conns.get_mut(&id) {
            flush(c);
            loop {
                match c.stream.read(buf) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => c.reader.push(&buf[..n]),
                    Err(e) if e.kind() == IoKind::WouldBlock => break,
                    Err(e) if e.kind() == IoKind::Interrupted => {}
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
                if c.reader.pending() > MAX_REQUEST + 4 {
                    break; // the decoder refuses it below
                }
            }
        }
        loop {
            let Some(c) = self.conns.get_mut(&id) else {
                return Ok(());
            };
            if c.closing {
                break;
            }
            match c.reader.next_message::<Request>() {
                Ok(None) => break,
                Ok(Some(req)) => {
                    if !c.hello {
                        match req {
                            Request::Hello { version, .. } if version == PROTOCOL_VERSION => {
                                c.hello = true;
                            }
                            Request::Hello { version, .. } => {
                                let msg = format!(
                                    "protocol version {version} not supported (this daemon speaks {PROTOCOL_VERSION})"
                                );
                                self.refuse(id, msg);
                                break;
                            }
                            _ => {
                                self.refuse(id, "the first request must be hello".into());
                                break;
                            }
                        }
                    }
                    if matches!(req, Request::LockStart { .. } | Request::Status) {
                        let name = read_cluster_name(&self.cluster_name_file);
                        self.feed(Input::ClusterName(name))?;
                    }
                    if self.timing {
                        if let Some(c) = self.conns.get_mut(&id) {
                            let what: String = format!("{req:?}").chars().take(80).collect();
                            c.asked = Some((Instant::now(), what));
                        }
                    }
                    self.feed(Input::Request {
                        conn: id,
                        request: req,
                    })?;
                }
                Err(e) => {
                    log::warn!("client {id}: {e}; closing");
                    self.refuse(id, format!("bad frame: {e}"));
                    break;
                }
            }
        }
        let done = match self.conns.get_mut(&id) {
            Some(c) => {
                flush(c);
                closed || (c.closing && c.out.is_empty())
            }
            None => false,
        };
        if done {
            self.conns.remove(&id);
            log::debug!("client {id} gone");
            self.feed(Input::Disconnected { conn: id })?;
        }
        Ok(())
    }

    fn refuse(&mut self, id: ConnId, message: String) {
        self.reply(
            id,
            &Response::Failed {
                kind: ErrorKind::Protocol,
                message,
            },
        );
        if let Some(c) = self.conns.get_mut(&id) {
            c.closing = true;
            let _ = c.stream.shutdown(std::net::Shutdown::Read);
        }
    }
}

fn flush(c: &mut Conn) {
    while !c.out.is_empty() {
        match c.stream.write(&c.out) {
            Ok(0) => break,
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(e) if e.kind() == IoKind::Interrupted => {}
            Err(_) => break,
        }
    }
}
