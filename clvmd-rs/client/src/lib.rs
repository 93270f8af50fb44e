//! The client side of clvmd-rs's socket, for lvmeta and the agents.
//!
//! [`Client`] is one connection: VG/global locks taken on it are released when it closes;
//! LV activation locks are held by the daemon until unlocked. [`DlmLocking`] is lvmeta's
//! [`LockManager`] for VGs with `lock_type = "dlm"`: one connection per held lock, the
//! committed seqno written to the VGLK's lock value block on release.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clvmd_proto::{
    encode_frame, read_frame, ErrorKind, FrameError, Holder, Mode, Request, Response, Scope,
    Status, MAX_REQUEST, MAX_RESPONSE, PROTOCOL_VERSION,
};
use halvm_config::ActivationMode;
use lvmeta::lock::{
    ClusterView, HeldLock, LockError, LockGuard, LockManager, LockMode, LockTarget, SuspendedLv,
};

/// Overrides the socket path.
pub const SOCKET_ENV: &str = "CLVMD_RS_SOCKET";

/// The socket to use: `$CLVMD_RS_SOCKET` or the default.
pub fn socket_path() -> PathBuf {
    std::env::var_os(SOCKET_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(clvmd_proto::DEFAULT_SOCKET))
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to clvmd-rs at {path}: {source} (is the clvmd-rs daemon running?)")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("clvmd-rs connection: {0}")]
    Frame(#[from] FrameError),
    #[error("{resource} is locked by {holder}")]
    Busy { resource: String, holder: Holder },
    #[error("{message}")]
    Failed { kind: ErrorKind, message: String },
    #[error("clvmd-rs answered {answer:?} to {request}")]
    Unexpected {
        request: &'static str,
        answer: Box<Response>,
    },
}

/// One connection to the daemon.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    node_id: u32,
    node_name: String,
    /// [`Client::open`]: the hello frame, sent with the first request (one write), whose
    /// answer is read before that request's.
    hello: Option<Vec<u8>>,
    /// Releases sent by [`Client::unlock_later`] whose answers are not read yet (what each
    /// released, for the log), oldest first.
    owed: Vec<String>,
}

impl Drop for Client {
    /// Reads what is owed ([`Client::unlock_later`]) before the connection closes, so a
    /// release is done (and a refusal logged) when the command that made it ends.
    fn drop(&mut self) {
        let _ = self.settle();
    }
}

/// The longest a single answer may take (a lock wait is bounded by its own `wait_ms`).
const IO_TIMEOUT: Duration = Duration::from_secs(300);

impl Client {
    /// Connects and says hello. `client` names the caller in the daemon's log.
    pub fn connect(path: &Path, client: &str) -> Result<Self, ClientError> {
        Self::connect_with_timeout(path, client, IO_TIMEOUT)
    }

    /// As [`Client::connect`], each answer bounded by `timeout` (a monitor that must not
    /// hang on a stuck daemon).
    pub fn connect_with_timeout(
        path: &Path,
        client: &str,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let mut c = Self::open_with_timeout(path, client, timeout)?;
        let hello = c.hello.take().expect("just opened");
        c.send(&hello)?;
        c.read_hello()?;
        Ok(c)
    }

    /// Connects without waiting for the handshake: the hello goes out with the first request
    /// and both answers come back together (the daemon reads pipelined frames in order), one
    /// round trip less per connection. A refused hello is the first call's error.
    pub fn open(path: &Path, client: &str) -> Result<Self, ClientError> {
        Self::open_with_timeout(path, client, IO_TIMEOUT)
    }

    fn open_with_timeout(
        path: &Path,
        client: &str,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        let _ = stream.set_read_timeout(Some(timeout));
        let _ = stream.set_write_timeout(Some(timeout));
        let hello = encode_frame(
            &Request::Hello {
                version: PROTOCOL_VERSION,
                client: client.into(),
            },
            MAX_REQUEST,
        )?;
        Ok(Client {
            stream,
            node_id: 0,
            node_name: String::new(),
            hello: Some(hello),
            owed: Vec::new(),
        })
    }

    /// The hello's answer: who we talk to, or why the daemon refused us.
    fn read_hello(&mut self) -> Result<(), ClientError> {
        match self.answer()? {
            Response::Hello {
                node_id, node_name, ..
            } => {
                self.node_id = node_id;
                self.node_name = node_name;
                Ok(())
            }
            r => Err(unexpected("hello", r)),
        }
    }

    /// The next answer; `Busy` and `Failed` become errors.
    fn answer(&mut self) -> Result<Response, ClientError> {
        match read_frame(&mut self.stream, MAX_RESPONSE)? {
            Response::Busy { resource, holder } => Err(ClientError::Busy { resource, holder }),
            Response::Failed { kind, message } => Err(ClientError::Failed { kind, message }),
            r => Ok(r),
        }
    }

    /// This node, as the daemon knows it (after the handshake's answer: on a connection made
    /// by [`Client::open`], after the first call).
    pub fn node(&self) -> (u32, &str) {
        (self.node_id, &self.node_name)
    }

    /// One request, one answer; `Busy` and `Failed` answers become errors. Answers owed to
    /// [`Client::unlock_later`] are read first: one request at a time is on a connection.
    pub fn call(&mut self, req: &Request) -> Result<Response, ClientError> {
        self.settle()?;
        let mut out = self.hello.take().unwrap_or_default();
        let pending_hello = !out.is_empty();
        out.extend_from_slice(&encode_frame(req, MAX_REQUEST)?);
        self.send(&out)?;
        if pending_hello {
            self.read_hello()?;
        }
        self.answer()
    }

    fn send(&mut self, frames: &[u8]) -> Result<(), ClientError> {
        if let Err(e) = self.stream.write_all(frames) {
            // The daemon may have refused us (e.g. not root) and closed before we wrote:
            // its reason is still waiting to be read.
            return match read_frame::<Response>(&mut self.stream, MAX_RESPONSE) {
                Ok(Response::Failed { kind, message }) => {
                    Err(ClientError::Failed { kind, message })
                }
                _ => Err(FrameError::from(e).into()),
            };
        }
        Ok(())
    }

    fn done(&mut self, what: &'static str, req: &Request) -> Result<(), ClientError> {
        match self.call(req)? {
            Response::Done => Ok(()),
            r => Err(unexpected(what, r)),
        }
    }

    pub fn lock_start(&mut self, vg: &str, lock_args: &str) -> Result<(), ClientError> {
        self.done(
            "lockstart",
            &Request::LockStart {
                vg: vg.into(),
                lock_args: lock_args.into(),
            },
        )
    }

    pub fn lock_stop(&mut self, vg: &str, force: bool) -> Result<(), ClientError> {
        self.done(
            "lockstop",
            &Request::LockStop {
                vg: vg.into(),
                force,
            },
        )
    }

    /// Takes GLLK/VGLK for this connection; returns the LVB's r_version (the VG seqno last
    /// committed anywhere, for a VG) when valid.
    pub fn lock(
        &mut self,
        scope: Scope,
        mode: Mode,
        wait: Duration,
    ) -> Result<Option<u32>, ClientError> {
        let wait_ms = u32::try_from(wait.as_millis()).unwrap_or(u32::MAX);
        match self.call(&Request::Lock {
            scope,
            mode,
            wait_ms,
        })? {
            Response::Granted {
                r_version,
                lvb_invalid,
            } => Ok(r_version.filter(|_| !lvb_invalid)),
            r => Err(unexpected("lock", r)),
        }
    }

    /// `quiet`: see [`Request::Unlock`] (the commit only added LVs; not announced).
    pub fn unlock(
        &mut self,
        scope: Scope,
        seqno: Option<u32>,
        removed: bool,
        quiet: bool,
    ) -> Result<(), ClientError> {
        self.done(
            "unlock",
            &Request::Unlock {
                scope,
                seqno,
                removed,
                quiet,
            },
        )
    }

    /// Releases a shared (read) GLLK/VGLK without waiting for the answer, which the next
    /// request on this connection, or its close, reads first ([`Client::settle`]). A read
    /// lock's release carries nothing to the LVB, and nothing else is sent on the
    /// connection before its answer is read (the daemon may answer requests on different
    /// resources out of order); meanwhile the command goes on (an `lvchange -an` removes its
    /// devices while the daemon converts the VG lock down).
    /// `what` names the lock in a failure's log line.
    pub fn unlock_later(&mut self, scope: Scope, what: String) -> Result<(), ClientError> {
        self.settle()?;
        let req = Request::Unlock {
            scope,
            seqno: None,
            removed: false,
            quiet: false,
        };
        self.send(&encode_frame(&req, MAX_REQUEST)?)?;
        self.owed.push(what);
        Ok(())
    }

    /// Reads the answers owed to [`Client::unlock_later`]. A refused release is logged (as
    /// a release waited for is); a connection that failed is this call's error.
    pub fn settle(&mut self) -> Result<(), ClientError> {
        while !self.owed.is_empty() {
            let what = self.owed.remove(0);
            let r = self.answer();
            let keep = reusable(&r);
            match r {
                Ok(Response::Done) => {}
                Ok(r) => log::warn!("releasing the {what}: {}", unexpected("unlock", r)),
                Err(e) if keep => log::warn!("releasing the {what}: {e}"),
                Err(e) => {
                    self.owed.clear();
                    log::warn!("releasing the {what}: {e}");
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// An activation lock (`Ex` for -aey, `Pr` for -asy), held by the daemon afterwards.
    pub fn lv_lock(
        &mut self,
        vg: &str,
        lv_uuid: &str,
        lv_name: &str,
        mode: Mode,
    ) -> Result<(), ClientError> {
        self.done(
            "lv lock",
            &Request::LvLock {
                vg: vg.into(),
                lv_uuid: lv_uuid.into(),
                lv_name: lv_name.into(),
                mode,
            },
        )
    }

    pub fn lv_unlock(&mut self, vg: &str, lv_uuid: &str, lv_name: &str) -> Result<(), ClientError> {
        self.done(
            "lv unlock",
            &Request::LvUnlock {
                vg: vg.into(),
                lv_uuid: lv_uuid.into(),
                lv_name: lv_name.into(),
            },
        )
    }

    /// Holds VG `vg`'s activation mode (`Nl`: releases it).
    pub fn vg_mode(&mut self, vg: &str, mode: Mode) -> Result<(), ClientError> {
        self.done(
            "vg mode",
            &Request::VgMode {
                vg: vg.into(),
                mode,
            },
        )
    }

    /// Atomic resize, phase 1: the LV suspended on every node (needs the VG lock EX here).
    pub fn suspend_lv(
        &mut self,
        vg: &str,
        lv_uuid: &str,
        lv_name: &str,
    ) -> Result<(), ClientError> {
        self.done(
            "suspend lv",
            &Request::SuspendLv {
                vg: vg.into(),
                lv_uuid: lv_uuid.into(),
                lv_name: lv_name.into(),
            },
        )
    }

    /// Phase 2, after the commit: every node loads the new tables and resumes.
    pub fn resume_lv(&mut self, vg: &str, lv_uuid: &str, lv_name: &str) -> Result<(), ClientError> {
        self.done(
            "resume lv",
            &Request::ResumeLv {
                vg: vg.into(),
                lv_uuid: lv_uuid.into(),
                lv_name: lv_name.into(),
            },
        )
    }

    /// Tells the daemon this command could not write any metadata copy of `vg` (the
    /// metadata-loss policy follows); `policy`: the VG's own.
    pub fn metadata_lost(
        &mut self,
        vg: &str,
        error: &str,
        policy: Option<clvmd_proto::DgFailure>,
    ) -> Result<(), ClientError> {
        self.done(
            "metadata lost",
            &Request::MetadataLost {
                vg: vg.into(),
                error: error.into(),
                policy,
            },
        )
    }

    /// Has another node write this command's commit of `vg` (it holds the VG lock EX on this
    /// connection and could write no metadata copy): the node that wrote it, (id, name).
    /// Not carried: `Failed` with [`ErrorKind::NotCarried`] (the policy applied).
    pub fn carry_commit(
        &mut self,
        vg: &str,
        req: &lvmeta::lock::CarryRequest<'_>,
        policy: Option<clvmd_proto::DgFailure>,
    ) -> Result<(u32, String), ClientError> {
        let r = self.call(&Request::CarryCommit(clvmd_proto::CarryCommit {
            vg: vg.into(),
            vg_uuid: req.vg_uuid.into(),
            disk_seqno: u32::try_from(req.disk_seqno).unwrap_or(u32::MAX),
            metadata: req.text.into(),
            error: req.error.into(),
            policy,
        }))?;
        match r {
            Response::Carried { node_id, node_name } => Ok((node_id, node_name)),
            r => Err(unexpected("carry commit", r)),
        }
    }

    /// Lifts `vg`'s dgdisable (cluster-wide) or this node's leave.
    pub fn vg_enable(&mut self, vg: &str) -> Result<(), ClientError> {
        self.done("enable", &Request::VgEnable { vg: vg.into() })
    }

    pub fn status(&mut self) -> Result<Status, ClientError> {
        match self.call(&Request::Status)? {
            Response::Status(s) => Ok(s),
            r => Err(unexpected("status", r)),
        }
    }

    /// Waits until the daemon knows every lock the other daemons hold ([`Request::Sync`]:
    /// they tell an LV's activation lock only when asked).
    pub fn sync(&mut self) -> Result<(), ClientError> {
        self.done("sync", &Request::Sync)
    }

    /// The status with the LV locks held on every node, contended or not: [`Client::sync`],
    /// then [`Client::status`]. A daemon from before `sync` refuses it and closes the
    /// connection: then `reopen`'s connection asks for the status alone (such a daemon is
    /// told every LV lock at once, as it expects).
    pub fn cluster_status(
        mut self,
        reopen: impl FnOnce() -> Result<Client, ClientError>,
    ) -> Result<(Client, Status), ClientError> {
        match self.sync() {
            Ok(()) => {}
            Err(ClientError::Failed {
                kind: ErrorKind::Protocol,
                ..
            }) => self = reopen()?,
            Err(e) => return Err(e),
        }
        let st = self.status()?;
        Ok((self, st))
    }
}

fn unexpected(request: &'static str, answer: Response) -> ClientError {
    ClientError::Unexpected {
        request,
        answer: Box::new(answer),
    }
}

/// lvmeta's lock manager for `lock_type = "dlm"` VGs, through the daemon.
#[derive(Debug, Clone)]
pub struct DlmLocking {
    socket: PathBuf,
    wait: Duration,
    client: String,
    /// A connection that holds nothing: made for the activation-lock requests (held by the
    /// daemon, not the connection) or given back by a released VG/global lock, and used by
    /// the command's next request, so a command connects and says hello once.
    idle: Idle,
    /// Whether a commit that wrote no metadata copy is reported to the daemon
    /// ([`Request::MetadataLost`]); the daemon's own detach commits report it otherwise.
    report_metadata_loss: bool,
}

impl DlmLocking {
    /// `wait`: how long a VG/global lock held by another host is retried before giving up.
    pub fn new(socket: impl Into<PathBuf>, wait: Duration) -> Self {
        DlmLocking {
            socket: socket.into(),
            wait,
            client: format!("lvmeta pid {}", std::process::id()),
            idle: Default::default(),
            report_metadata_loss: true,
        }
    }

    /// Commits that write no metadata copy are not reported to the daemon: the caller (the
    /// daemon's own detach, which first lets a peer try the commit) reports them itself.
    pub fn without_metadata_loss_report(mut self) -> Self {
        self.report_metadata_loss = false;
        self
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    fn lock_error(&self, what: String, e: ClientError) -> LockError {
        match e {
            ClientError::Busy { holder, .. } => LockError::HeldElsewhere {
                what,
                holder: holder.to_string(),
            },
            e => LockError::Cluster {
                what,
                message: e.to_string(),
            },
        }
    }

    /// Runs `f` on the idle connection (made on first use). It is kept after an answer,
    /// refusals included, and dropped after a transport or protocol error.
    fn lv_call<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let mut slot = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let mut c = match slot.take().and_then(settled) {
            Some(c) => c,
            None => Client::open(&self.socket, &self.client)?,
        };
        let r = f(&mut c);
        if reusable(&r) {
            *slot = Some(c);
        }
        r
    }

    /// Keeps `c`, which holds nothing, for the next request (unless one is kept already).
    fn give_back(&self, c: Client) {
        let mut slot = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(c);
        }
    }

    /// The idle connection, or a new one (its hello sent with its first request).
    fn connect(&self, what: impl Fn() -> String) -> Result<Client, LockError> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(c) = idle.and_then(settled) {
            return Ok(c);
        }
        Client::open(&self.socket, &self.client).map_err(|e| self.lock_error(what(), e))
    }
}

/// `c` with its owed answers read, or None if its connection failed meanwhile (a new one
/// is made, as when none was kept).
fn settled(mut c: Client) -> Option<Client> {
    c.settle().ok().map(|()| c)
}

/// A connection that holds nothing, kept for the command's next request.
type Idle = std::sync::Arc<std::sync::Mutex<Option<Client>>>;

/// Whether a connection is still good for another request after answering `r`: not after a
/// transport error, nor after a protocol refusal (the daemon closes the connection then).
fn reusable<T>(r: &Result<T, ClientError>) -> bool {
    match r {
        Ok(_) | Err(ClientError::Busy { .. }) => true,
        Err(ClientError::Failed { kind, .. }) => *kind != ErrorKind::Protocol,
        Err(_) => false,
    }
}

struct DlmHeld {
    target: LockTarget,
    mode: LockMode,
    client: Option<Client>,
    /// Where the connection goes once the lock is released on it.
    idle: Idle,
    seqno: Option<u32>,
    removed: bool,
    /// The commit only added LVs ([`HeldLock::note_only_added_lvs`]).
    quiet: bool,
    /// The lock value block's r_version when granted (None if invalid or unset).
    granted_version: Option<u32>,
    report_metadata_loss: bool,
}

impl HeldLock for DlmHeld {
    fn target(&self) -> &LockTarget {
        &self.target
    }
    fn mode(&self) -> LockMode {
        self.mode
    }
    fn note_committed_seqno(&mut self, seqno: u64) {
        // lvm2's VG seqno and the LVB's r_version are 32-bit.
        self.seqno = Some(u32::try_from(seqno).unwrap_or(u32::MAX));
    }
    fn note_removed(&mut self) {
        self.removed = true;
    }
    fn note_only_added_lvs(&mut self) {
        self.quiet = true;
    }
    fn note_metadata_lost(&mut self, error: &str, policy: Option<&str>) {
        let LockTarget::Vg(vg) = &self.target else {
            return;
        };
        if !self.report_metadata_loss {
            return;
        }
        let policy = dg_policy(policy);
        if let Some(c) = self.client.as_mut() {
            if let Err(e) = c.metadata_lost(vg, error, policy) {
                log::warn!("telling clvmd-rs that VG {vg} lost its metadata: {e}");
            }
        }
    }
    fn carry_commit(
        &mut self,
        req: &lvmeta::lock::CarryRequest<'_>,
    ) -> Option<Result<String, String>> {
        let LockTarget::Vg(vg) = &self.target else {
            return None;
        };
        // The daemon's own detach has its commit carried by the daemon; a text too large
        // or not metadata is not sent: the policy applies at once (note_metadata_lost).
        if !self.report_metadata_loss || self.mode != LockMode::Exclusive {
            return None;
        }
        if let Some(why) = clvmd_proto::carry_text_problem(req.text) {
            log::warn!("VG {vg}: the commit cannot be carried by another node: {why}");
            return None;
        }
        let c = self.client.as_mut()?;
        match c.carry_commit(vg, req, dg_policy(req.policy)) {
            Ok((id, name)) => Some(Ok(format!("{name} (id {id})"))),
            // The daemon applied the policy.
            Err(ClientError::Failed {
                kind: ErrorKind::NotCarried,
                message,
            }) => Some(Err(message)),
            Err(e) => {
                // Refused before any node was asked: the policy still applies.
                log::warn!("VG {vg}: clvmd-rs did not carry the commit: {e}");
                None
            }
        }
    }
    fn committed_seqno(&self) -> Option<u64> {
        // The global lock's r_version is a counter, not a seqno.
        match self.target {
            LockTarget::Vg(_) => self.granted_version.map(u64::from),
            LockTarget::Global => None,
        }
    }
}

/// A VG's own `halvm_dgfail_*` setting, as the protocol names it.
fn dg_policy(policy: Option<&str>) -> Option<clvmd_proto::DgFailure> {
    match policy {
        Some("leave") => Some(clvmd_proto::DgFailure::Leave),
        Some("dgdisable") => Some(clvmd_proto::DgFailure::Dgdisable),
        _ => None,
    }
}

fn scope_of(target: &LockTarget) -> Scope {
    match target {
        LockTarget::Global => Scope::Global,
        LockTarget::Vg(vg) => Scope::Vg(vg.clone()),
    }
}

impl Drop for DlmHeld {
    fn drop(&mut self) {
        if let Some(mut c) = self.client.take() {
            // Unlocking explicitly carries the seqno to the LVB; closing alone would release
            // the lock with the LVB unchanged.
            let seqno = if self.mode == LockMode::Exclusive {
                self.seqno
            } else {
                None
            };
            let removed = self.removed && self.mode == LockMode::Exclusive;
            let quiet = self.quiet && seqno.is_some();
            let released = if self.mode == LockMode::Exclusive {
                c.unlock(scope_of(&self.target), seqno, removed, quiet)
            } else {
                // A read lock: released while the command goes on (`unlock_later`).
                c.unlock_later(scope_of(&self.target), self.target.to_string())
            };
            match released {
                Ok(()) => {
                    let mut slot = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                    if slot.is_none() {
                        *slot = Some(c);
                    }
                }
                Err(e) => log::warn!("releasing the {}: {e}", self.target),
            }
        }
    }
}

impl LockManager for DlmLocking {
    fn lock(&self, target: &LockTarget, mode: LockMode) -> Result<LockGuard, LockError> {
        if let LockTarget::Vg(vg) = target {
            if vg.is_empty() || vg.contains('/') {
                return Err(LockError::BadName { name: vg.clone() });
            }
        }
        let what = || format!("the {target}");
        let mut c = self.connect(what)?;
        let granted = c.lock(scope_of(target), dlm_mode(mode), self.wait);
        let keep = reusable(&granted);
        let granted_version = match granted {
            Ok(v) => v,
            Err(e) => {
                if keep {
                    self.give_back(c);
                }
                return Err(self.lock_error(what(), e));
            }
        };
        Ok(LockGuard::new(Box::new(DlmHeld {
            target: target.clone(),
            mode,
            client: Some(c),
            idle: self.idle.clone(),
            seqno: None,
            removed: false,
            quiet: false,
            granted_version,
            report_metadata_loss: self.report_metadata_loss,
        })))
    }

    fn lock_lv(
        &self,
        vg: &str,
        lv_uuid: &str,
        lv_name: &str,
        mode: LockMode,
    ) -> Result<(), LockError> {
        let what = || format!("LV {vg}/{lv_name}");
        self.lv_call(|c| c.lv_lock(vg, lv_uuid, lv_name, dlm_mode(mode)))
            .map_err(|e| self.lock_error(what(), e))
    }

    fn vg_removed(&self, vg: &str) -> Result<(), LockError> {
        let what = || format!("the lockspace of VG {vg}");
        self.connect(what)?
            .lock_stop(vg, false)
            .map_err(|e| self.lock_error(what(), e))
    }

    fn unlock_lv(&self, vg: &str, lv_uuid: &str, lv_name: &str) -> Result<(), LockError> {
        let what = || format!("LV {vg}/{lv_name}");
        // As lvm2's lockd_lv "un": with no daemon, or the VG's lockspace not started here, no
        // lock can be held through this node's daemon, so deactivation goes on without one.
        let done = self.lv_call(|c| c.lv_unlock(vg, lv_uuid, lv_name));
        match done {
            Err(e @ ClientError::Connect { .. }) => {
                log::warn!(
                    "LV {vg}/{lv_name}: no lock released ({e}); a lock left by a killed \
                     daemon is released by -an once clvmd-rs runs again"
                );
                Ok(())
            }
            Err(ClientError::Failed {
                kind: ErrorKind::NotStarted,
                message,
            }) => {
                log::debug!("skip LV unlock of {vg}/{lv_name}: {message}");
                Ok(())
            }
            r => r.map_err(|e| self.lock_error(what(), e)),
        }
    }

    fn set_vg_mode(&self, vg: &str, mode: ActivationMode) -> Result<(), LockError> {
        let what = || format!("activation mode {} of VG {vg}", mode.as_str());
        let m = match mode {
            ActivationMode::ExclusiveWrite => Mode::Pw,
            ActivationMode::ReadOnly => Mode::Pr,
            ActivationMode::SharedRead => Mode::Cr,
            ActivationMode::SharedWrite => Mode::Cw,
            ActivationMode::Off => Mode::Nl,
        };
        self.connect(what)?
            .vg_mode(vg, m)
            .map_err(|e| self.lock_error(what(), e))
    }

    fn lock_lv_for_mode(
        &self,
        vg: &str,
        lv_uuid: &str,
        lv_name: &str,
        mode: ActivationMode,
    ) -> Result<(), LockError> {
        // ew excludes every other holder but sr's CR (and stock lvmlockd's sh and ex); sw
        // and ro hold lvm's sh (PR); sr holds CR, which only an exclusive (EX) lock refuses.
        let m = match mode {
            ActivationMode::ExclusiveWrite => Mode::Pw,
            ActivationMode::ReadOnly | ActivationMode::SharedWrite => Mode::Pr,
            ActivationMode::SharedRead => Mode::Cr,
            ActivationMode::Off => return self.unlock_lv(vg, lv_uuid, lv_name),
        };
        let what = || format!("LV {vg}/{lv_name}");
        self.lv_call(|c| c.lv_lock(vg, lv_uuid, lv_name, m))
            .map_err(|e| self.lock_error(what(), e))
    }

    fn cluster_view(&self, vg: &str) -> Option<ClusterView> {
        let c = self.connect(String::new).ok()?;
        let (c, st) = c
            .cluster_status(|| Client::open(&self.socket, &self.client))
            .ok()?;
        self.give_back(c);
        Some(view_of(&st, vg))
    }

    fn suspend_lv_everywhere(
        &self,
        vg: &str,
        lv_uuid: &str,
        lv_name: &str,
    ) -> Result<Option<Box<dyn SuspendedLv>>, LockError> {
        let what = || format!("suspending LV {vg}/{lv_name} on every node");
        // Its own connection: closing it before the resume makes every node reload from disk.
        let mut c = self.connect(what)?;
        c.suspend_lv(vg, lv_uuid, lv_name)
            .map_err(|e| self.lock_error(what(), e))?;
        Ok(Some(Box::new(DlmSuspended {
            client: c,
            vg: vg.into(),
            lv_uuid: lv_uuid.into(),
            lv_name: lv_name.into(),
        })))
    }
}

/// The cluster's view of VG `vg` from one daemon's status: its own holdings and what the
/// other daemons announced.
pub fn view_of(st: &Status, vg: &str) -> ClusterView {
    let mut view = ClusterView::default();
    let Some(ls) = st.lockspaces.iter().find(|l| l.name == format!("lvm_{vg}")) else {
        return view;
    };
    for l in &ls.locks {
        let mut on: Vec<(String, Mode)> = Vec::new();
        if l.mode != Mode::Nl && !l.holders.is_empty() {
            on.push((st.node_name.clone(), l.mode));
        }
        for r in &l.remote {
            let n = r.name.clone().unwrap_or_else(|| format!("node{}", r.node));
            on.push((n, r.mode));
        }
        if l.resource == clvmd_proto::MODE_RESOURCE {
            for (n, m) in on {
                let w = match m {
                    Mode::Pw => "ew",
                    Mode::Pr => "ro",
                    Mode::Cr => "sr",
                    Mode::Cw => "sw",
                    _ => continue,
                };
                view.modes.push(format!("{n}:{w}"));
            }
        } else if l.is_lv() && !on.is_empty() {
            let words = on
                .into_iter()
                .map(|(n, m)| {
                    let w = match m {
                        Mode::Ex => "ex".to_string(),
                        Mode::Pr => "sh".to_string(),
                        m => m.name().to_lowercase(),
                    };
                    format!("{n}:{w}")
                })
                .collect();
            view.lvs.insert(l.resource.clone(), words);
        }
    }
    view
}

struct DlmSuspended {
    client: Client,
    vg: String,
    lv_uuid: String,
    lv_name: String,
}

impl SuspendedLv for DlmSuspended {
    fn resume(mut self: Box<Self>) -> Result<(), LockError> {
        self.client
            .resume_lv(&self.vg, &self.lv_uuid, &self.lv_name)
            .map_err(|e| LockError::Cluster {
                what: format!("resuming LV {}/{} on every node", self.vg, self.lv_name),
                message: e.to_string(),
            })
    }
}

/// lvm's sh is PR, ex is EX.
fn dlm_mode(mode: LockMode) -> Mode {
    match mode {
        LockMode::Shared => Mode::Pr,
        LockMode::Exclusive => Mode::Ex,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;
    use std::sync::{Arc, Mutex};

    /// What a scripted daemon saw: per connection, the requests in order.
    type Seen = Arc<Mutex<Vec<Vec<Request>>>>;

    /// A daemon stand-in's answer: hello from node n3, locks granted with r_version 7, done
    /// to the rest.
    fn scripted(req: &Request) -> Response {
        match req {
            Request::Hello { .. } => Response::Hello {
                version: PROTOCOL_VERSION,
                node_id: 3,
                node_name: "n3".into(),
            },
            Request::Lock { .. } => Response::Granted {
                r_version: Some(7),
                lvb_invalid: false,
            },
            _ => Response::Done,
        }
    }

    /// A daemon stand-in on a socket in `dir`: answers hello (or refuses it when `refuse`),
    /// grants locks with r_version 7 and says done to the rest, recording every request.
    fn fake_daemon(dir: &Path, refuse: bool) -> (PathBuf, Seen) {
        let path = dir.join("fake.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let seen = Seen::default();
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut s = stream.unwrap();
                let n = {
                    let mut l = log.lock().unwrap();
                    l.push(Vec::new());
                    l.len() - 1
                };
                let log = log.clone();
                std::thread::spawn(move || {
                    while let Ok(req) = read_frame::<Request>(&mut s, MAX_REQUEST) {
                        log.lock().unwrap()[n].push(req.clone());
                        let resp = match req {
                            Request::Hello { .. } if refuse => Response::Failed {
                                kind: ErrorKind::Protocol,
                                message: "protocol version 1 not supported".into(),
                            },
                            r => scripted(&r),
                        };
                        s.write_all(&encode_frame(&resp, MAX_RESPONSE).unwrap())
                            .unwrap();
                        if refuse {
                            break;
                        }
                    }
                });
            }
        });
        (path, seen)
    }

    fn kinds(seen: &Seen) -> Vec<Vec<&'static str>> {
        let name = |r: &Request| match r {
            Request::Hello { .. } => "hello",
            Request::Lock { .. } => "lock",
            Request::Unlock { .. } => "unlock",
            Request::LvLock { .. } => "lv_lock",
            Request::LvUnlock { .. } => "lv_unlock",
            Request::Status => "status",
            Request::Sync => "sync",
            _ => "other",
        };
        seen.lock()
            .unwrap()
            .iter()
            .map(|c| c.iter().map(name).collect())
            .collect()
    }

    /// A command connects and says hello once: the hello goes with its first request, and a
    /// connection that holds nothing any more (a released VG lock, activation-lock calls)
    /// serves its next requests; a VG lock taken while another is held gets its own.
    #[test]
    fn one_connection_and_one_hello_per_command() {
        let dir = tempfile::tempdir().unwrap();
        let (path, seen) = fake_daemon(dir.path(), false);
        let m = DlmLocking::new(&path, Duration::from_secs(1));
        let g = m.lock_vg("vg", LockMode::Shared).unwrap();
        assert_eq!(g.committed_seqno(), Some(7));
        drop(g);
        m.lock_lv("vg", "uuid", "lv", LockMode::Exclusive).unwrap();
        let mut g = m.lock_vg("vg", LockMode::Exclusive).unwrap();
        let other = m.lock(&LockTarget::Global, LockMode::Exclusive).unwrap();
        g.note_committed_seqno(8);
        drop(g);
        drop(other);
        m.unlock_lv("vg", "uuid", "lv").unwrap();
        assert_eq!(
            kinds(&seen),
            [
                vec![
                    "hello",
                    "lock",
                    "unlock",
                    "lv_lock",
                    "lock",
                    "unlock",
                    "lv_unlock"
                ],
                vec!["hello", "lock", "unlock"],
            ]
        );
        let s = seen.lock().unwrap();
        assert!(
            matches!(&s[0][5], Request::Unlock { seqno: Some(8), .. }),
            "{:?}",
            s[0]
        );
    }

    /// A daemon stand-in whose answer to `unlock` waits for `gate` (at most 2 s) and is
    /// `unlock_answer`; records per unlock whether the gate opened first.
    fn gated_daemon(
        dir: &Path,
        gate: std::sync::mpsc::Receiver<()>,
        unlock_answer: Response,
    ) -> (PathBuf, Seen, Arc<Mutex<Vec<bool>>>) {
        let path = dir.join("gated.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let seen = Seen::default();
        let gated = Arc::new(Mutex::new(Vec::new()));
        let (log, opened) = (seen.clone(), gated.clone());
        std::thread::spawn(move || {
            let mut s = listener.incoming().next().unwrap().unwrap();
            log.lock().unwrap().push(Vec::new());
            while let Ok(req) = read_frame::<Request>(&mut s, MAX_REQUEST) {
                log.lock().unwrap()[0].push(req.clone());
                let resp = match req {
                    Request::Unlock { .. } => {
                        let first = gate.recv_timeout(Duration::from_secs(2)).is_ok();
                        opened.lock().unwrap().push(first);
                        unlock_answer.clone()
                    }
                    r => scripted(&r),
                };
                s.write_all(&encode_frame(&resp, MAX_RESPONSE).unwrap())
                    .unwrap();
            }
        });
        (path, seen, gated)
    }

    /// A read lock's release is sent and not waited for: the command goes on, and the
    /// answer is read before the connection's next request (in order), or at its close.
    #[test]
    fn a_read_locks_release_is_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let (path, seen, gated) = gated_daemon(dir.path(), rx, Response::Done);
        let m = DlmLocking::new(&path, Duration::from_secs(1));
        let g = m.lock_vg("vg", LockMode::Shared).unwrap();
        // Returns before the daemon answers (it answers once the gate opens).
        drop(g);
        tx.send(()).unwrap();
        m.unlock_lv("vg", "uuid", "lv").unwrap();
        // An exclusive lock's release carries the seqno: waited for (the gate never opens,
        // so the daemon answers after its 2 s and notes it).
        let mut g = m.lock_vg("vg", LockMode::Exclusive).unwrap();
        g.note_committed_seqno(9);
        drop(g);
        assert_eq!(*gated.lock().unwrap(), [true, false]);
        assert_eq!(
            kinds(&seen),
            [vec![
                "hello",
                "lock",
                "unlock",
                "lv_unlock",
                "lock",
                "unlock"
            ]]
        );
    }

    /// A refused release, not waited for, is logged and is not the next request's answer.
    #[test]
    fn a_refused_release_not_waited_for_is_not_the_next_answer() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let refusal = Response::Failed {
            kind: ErrorKind::NotHeld,
            message: "no such lock".into(),
        };
        let (path, seen, _) = gated_daemon(dir.path(), rx, refusal);
        tx.send(()).unwrap();
        let m = DlmLocking::new(&path, Duration::from_secs(1));
        drop(m.lock_vg("vg", LockMode::Shared).unwrap());
        m.lock_lv("vg", "uuid", "lv", LockMode::Exclusive).unwrap();
        assert_eq!(kinds(&seen), [vec!["hello", "lock", "unlock", "lv_lock"]]);
    }

    /// A commit noted as adding LVs only is released `quiet` (clvmd-rs does not announce
    /// it); without a commit under the lock there is nothing to be quiet about.
    #[test]
    fn a_commit_adding_lvs_only_is_released_quiet() {
        let dir = tempfile::tempdir().unwrap();
        let (path, seen) = fake_daemon(dir.path(), false);
        let m = DlmLocking::new(&path, Duration::from_secs(1));
        let mut g = m.lock_vg("vg", LockMode::Exclusive).unwrap();
        g.note_committed_seqno(8);
        g.note_only_added_lvs();
        drop(g);
        let mut g = m.lock_vg("vg", LockMode::Exclusive).unwrap();
        g.note_only_added_lvs();
        drop(g);
        let mut g = m.lock_vg("vg", LockMode::Exclusive).unwrap();
        g.note_committed_seqno(9);
        drop(g);
        let s = seen.lock().unwrap();
        let unlocks: Vec<(Option<u32>, bool)> = s[0]
            .iter()
            .filter_map(|r| match r {
                Request::Unlock { seqno, quiet, .. } => Some((*seqno, *quiet)),
                _ => None,
            })
            .collect();
        assert_eq!(unlocks, [(Some(8), true), (None, false), (Some(9), false)]);
    }

    /// A hello sent with the first request and refused is that request's error (the daemon
    /// answers nothing else), and the refused connection is not used again.
    #[test]
    fn a_refused_pipelined_hello_fails_the_first_call() {
        let dir = tempfile::tempdir().unwrap();
        let (path, seen) = fake_daemon(dir.path(), true);
        let mut c = Client::open(&path, "t").unwrap();
        let e = c.status().unwrap_err();
        assert!(
            matches!(&e, ClientError::Failed { kind: ErrorKind::Protocol, message } if message.contains("not supported")),
            "{e}"
        );
        let m = DlmLocking::new(&path, Duration::from_secs(1));
        let e = m
            .lock_lv("vg", "uuid", "lv", LockMode::Exclusive)
            .unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
        let e = m
            .lock_lv("vg", "uuid", "lv", LockMode::Exclusive)
            .unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
        // Each refused call had a connection of its own (two per call: hello, request).
        assert_eq!(kinds(&seen).len(), 3);
        // Connect waits for the handshake, so its refusal comes at once.
        let e = Client::connect(&path, "t").unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
    }

    /// A daemon stand-in that answers status (one LV of `vg` active on node n3) and, when
    /// `old`, refuses `sync` as a daemon from before it refuses an unknown frame (and closes).
    fn status_daemon(dir: &Path, old: bool) -> (PathBuf, Seen) {
        let path = dir.join("status.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let seen = Seen::default();
        let log = seen.clone();
        let st = Status {
            node_id: 3,
            node_name: "n3".into(),
            cluster_name: None,
            quorate: true,
            members: vec![],
            lockspaces: vec![clvmd_proto::LockspaceStatus {
                name: "lvm_vg".into(),
                state: "running".into(),
                seqno: None,
                locks: vec![
                    clvmd_proto::LockStatus {
                        resource: "u1".into(),
                        lv_name: Some("lv1".into()),
                        mode: Mode::Ex,
                        holders: vec!["persistent EX".into()],
                        remote: vec![],
                        last_busy: None,
                    },
                    // Active on another node only: no name known here.
                    clvmd_proto::LockStatus {
                        resource: "u2".into(),
                        lv_name: None,
                        mode: Mode::Nl,
                        holders: vec![],
                        remote: vec![clvmd_proto::RemoteHold {
                            node: 1,
                            name: Some("n1".into()),
                            mode: Mode::Pr,
                        }],
                        last_busy: None,
                    },
                    clvmd_proto::LockStatus {
                        resource: "VGLK".into(),
                        lv_name: None,
                        mode: Mode::Nl,
                        holders: vec![],
                        remote: vec![clvmd_proto::RemoteHold {
                            node: 1,
                            name: Some("n1".into()),
                            mode: Mode::Ex,
                        }],
                        last_busy: None,
                    },
                ],
            }],
            frozen: vec![],
            cluster_stack: None,
            failed_lvs: vec![],
            disabled_vgs: vec![],
            peer_refreshes: vec![],
        };
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut s = stream.unwrap();
                log.lock().unwrap().push(Vec::new());
                let n = log.lock().unwrap().len() - 1;
                while let Ok(req) = read_frame::<Request>(&mut s, MAX_REQUEST) {
                    log.lock().unwrap()[n].push(req.clone());
                    let resp = match req {
                        Request::Hello { .. } => Response::Hello {
                            version: PROTOCOL_VERSION,
                            node_id: 3,
                            node_name: "n3".into(),
                        },
                        Request::Sync if old => Response::Failed {
                            kind: ErrorKind::Protocol,
                            message: "bad frame: unknown variant `sync`".into(),
                        },
                        Request::Status => Response::Status(st.clone()),
                        _ => Response::Done,
                    };
                    s.write_all(&encode_frame(&resp, MAX_RESPONSE).unwrap())
                        .unwrap();
                    if matches!(resp, Response::Failed { .. }) {
                        break;
                    }
                }
            }
        });
        (path, seen)
    }

    /// `lvs -o lv_active_nodes` asks the daemon to sync before its status (other daemons tell
    /// LV locks only when asked); a daemon from before `sync` is asked for the status alone,
    /// on a new connection.
    #[test]
    fn the_cluster_view_syncs_first_and_does_without_on_an_old_daemon() {
        for old in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let (path, seen) = status_daemon(dir.path(), old);
            let m = DlmLocking::new(&path, Duration::from_secs(1));
            let view = m.cluster_view("vg").expect("a view");
            assert_eq!(view.lvs.get("u1"), Some(&vec!["n3:ex".to_string()]));
            assert_eq!(view.lvs.get("u2"), Some(&vec!["n1:sh".to_string()]));
            assert_eq!(view.lvs.len(), 2, "{view:?}");
            let want: Vec<Vec<&str>> = if old {
                vec![vec!["hello", "sync"], vec!["hello", "status"]]
            } else {
                vec![vec!["hello", "sync", "status"]]
            };
            assert_eq!(kinds(&seen), want, "old {old}");
        }
    }
}
