//! The transaction driver: the only ways commands reach VG metadata (lvm2's
//! `process_each_vg` shape: one driver, a callback per command).
//!
//! - [`Ctx::read_vg`] / [`Ctx::read_vgs`]: shared locks → scan → read → owner check → callback.
//! - [`Ctx::modify_vg`]: exclusive lock → scan → read → owner and completeness checks →
//!   callback edits the VG → commit to every metadata area → the committed seqno handed to
//!   every held lock ([`crate::lock::HeldLock::note_committed_seqno`]) → backup hook →
//!   post-commit label updates and device-mapper renames ([`PostCommit`]).
//! - [`Ctx::put_vg`]: the same for a VG written whole (vgcreate, vgcfgrestore).
//! - [`Ctx::read_vg_local`]: a read under the VG's local lock alone, for a lockstart (the
//!   VG's cluster lock cannot exist before it).
//! - [`Ctx::peek_vg`] / [`Ctx::peek_known_vg`]: the one read without a lock, for callers
//!   that hold the right lock through another route (clvmd-rs acting for the node that
//!   holds the VG's DLM lock) or need only a hint that a locked command checks again.
//! - [`Ctx::write_carried`]: the one write without a lock taken here: another node's commit,
//!   written for that node's command, which holds the VG lock EX (clvmd-rs's carried
//!   commit); written only over the copy that command read, at the seqno it read.
//!
//! Nothing else reaches metadata: the scan, [`Scan`]'s reads and the commit itself are
//! private to the crate, and a [`Scan`] handed to a callback shows its devices through
//! read-only accessors (its fields, the raw devices and metadata areas, are private).
//!
//! Locks: the global lock first (when the command changes the PV/VG name space), then the
//! VG's local lock (lvm2's file lock). A VG whose metadata names a `lock_type` also needs the
//! cluster lock manager's VG lock ([`crate::env::Env::cluster_locks_for`]): it is taken after
//! the first read, then the VG is read again under both locks, since another node may have
//! changed it in between. That is the one place a cluster lock layer plugs in.

use crate::lock::{CarryRequest, LockGuard, LockMode};
use crate::ops::{
    check_complete, commit_text, committed_len, metadata_text, now, scan, set_used, targets,
    CopyInfo, Ctx, OpError, PvIndex, Result, Scan, VgRead,
};
use lvmeta_model::VolumeGroup;
use lvmeta_ondisk::mda;

/// How a write reaches a VG.
#[derive(Debug, Clone, Default)]
pub struct WriteOpts {
    /// Also take the global lock (exclusive): the command changes which PVs or VG names exist.
    pub global: bool,
    /// Act on a VG owned by another host (the explicit take-over).
    pub override_foreign: bool,
    /// Accept missing PVs when more than half are present (`--majoritypvs`).
    pub majority: bool,
    /// Accept any missing PV (the command repairs, or writes what is present).
    pub allow_missing: bool,
    /// Another VG name to lock exclusively too (vgrename's new name).
    pub also_lock: Option<String>,
}

/// What happens to the metadata after the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Commit the edited VG (seqno + 1).
    Commit,
    /// Remove the VG: its metadata areas are emptied and its PVs become orphans.
    Remove,
    /// Change nothing.
    Nothing,
}

/// Changes made after the commit, and only once it succeeded: labels of devices of the
/// scan, and device-mapper names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostCommit {
    /// Set or clear the "used by a VG" flag of the PV label (device index in the scan).
    SetUsed(usize, bool),
    /// Empty the device's metadata areas (a PV leaving its VG).
    Orphan(usize),
    /// Rename the devices of active LVs (lvrename, vgrename): each plan as found in the
    /// kernel before the change, with its LV's name in the committed VG. After the commit,
    /// as lvm2 renames on resume after `vg_commit`: a commit that fails leaves the devices
    /// under the names the metadata still gives them.
    RenameDevices(Vec<(lvmeta_activate::Plan, String)>),
}

/// A PV label write planned by pvcreate or pvremove (see [`Ctx::change_labels`]).
pub enum LabelChange {
    /// Make the device a PV with this (undashed) UUID.
    Format {
        dev: std::sync::Arc<dyn lvmeta_ondisk::dev::BlockDev>,
        uuid: String,
        opts: lvmeta_ondisk::pv::FormatOptions,
    },
    /// Wipe the device's PV label.
    Wipe {
        dev: std::sync::Arc<dyn lvmeta_ondisk::dev::BlockDev>,
    },
}

/// One VG being changed: what the callback sees and edits.
pub struct Txn<'s> {
    pub vg: VolumeGroup,
    pub scan: &'s Scan,
    /// PV key → index into `scan.pvs` for the PVs present.
    pub devs: PvIndex,
    /// The state of every metadata copy as read.
    pub copies: Vec<CopyInfo>,
    end: End,
    post: Vec<PostCommit>,
}

impl Txn<'_> {
    pub fn remove_vg(&mut self) {
        self.end = End::Remove;
    }
    pub fn change_nothing(&mut self) {
        self.end = End::Nothing;
    }
    pub fn after_commit(&mut self, p: PostCommit) {
        self.post.push(p);
    }
}

/// A finished write: the VG as committed (or as read, for `End::Nothing`/`Remove`) and the
/// callback's value.
pub struct Done<T> {
    pub vg: VolumeGroup,
    pub end: End,
    pub value: T,
}

/// Called around commits; lvm2's `archive()` (before, with the metadata being replaced: an
/// error aborts the command, nothing is written yet) and `backup()` (after, with the new
/// metadata: an error is only logged, the commit stands). The default does nothing.
pub trait CommitHooks: Send + Sync {
    /// Before a VG's metadata is replaced or removed; `old` as it is on disk.
    fn before_commit(&self, _old: &VolumeGroup) -> Result<()> {
        Ok(())
    }
    /// After a commit (`Some`: the new metadata) or a removal (`None`) of VG `name`.
    fn after_commit(&self, _name: &str, _new: Option<&VolumeGroup>) -> Result<()> {
        Ok(())
    }
}

/// The changes a transaction asked for, after its commit of `vg` (`old_name`: its name
/// before, which a vgrename changed).
fn post_commit(
    env: &crate::env::Env,
    sc: &Scan,
    old_name: &str,
    vg: &VolumeGroup,
    post: Vec<PostCommit>,
) -> Result<()> {
    for p in post {
        match p {
            PostCommit::SetUsed(i, used) => set_used(sc.pv(i), used)?,
            PostCommit::Orphan(i) => {
                let d = sc.pv(i);
                for a in &d.label().metadata_areas {
                    mda::format_mda(d.dev().as_ref(), *a)?;
                }
                set_used(d, false)?;
            }
            PostCommit::RenameDevices(renames) => {
                let Some(k) = &env.kernel else { continue };
                for (before, lv) in renames {
                    // The commit stands: a device left under its old name is reported, as
                    // lvm2 reports a resume that fails after its commit.
                    crate::activation::rename_devices(k, &before, vg, &lv).map_err(|e| {
                        OpError::DevicesNotRenamed {
                            old_vg: old_name.into(),
                            vg: vg.name.clone(),
                            lv: lv.clone(),
                            error: e.to_string(),
                        }
                    })?;
                }
            }
        }
    }
    Ok(())
}

/// A backup that fails after the commit does not undo it: as lvm2 ("This metadata update is
/// NOT backed up"), it is a warning.
fn backed_up(r: Result<()>) {
    if let Err(e) = r {
        log::warn!("This metadata update is NOT backed up: {e}");
    }
}

/// Locks held by one transaction, released in reverse order on drop.
struct Held(Vec<LockGuard>);

impl Held {
    fn note_committed_seqno(&mut self, seqno: u64) {
        for g in &mut self.0 {
            g.note_committed_seqno(seqno);
        }
    }

    fn note_removed(&mut self) {
        for g in &mut self.0 {
            g.note_removed();
        }
    }

    fn note_only_added_lvs(&mut self) {
        for g in &mut self.0 {
            g.note_only_added_lvs();
        }
    }

    fn note_metadata_lost(&mut self, error: &str, policy: Option<&str>) {
        for g in &mut self.0 {
            g.note_metadata_lost(error, policy);
        }
    }

    /// The first cluster lock's answer to [`crate::lock::HeldLock::carry_commit`].
    fn carry_commit(&mut self, req: &CarryRequest<'_>) -> Option<Result<String, String>> {
        self.0.iter_mut().find_map(|g| g.carry_commit(req))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        while self.0.pop().is_some() {}
    }
}

impl Ctx<'_> {
    /// The global lock: local, and the cluster's when this host has a cluster lock manager.
    fn lock_global(&self, mode: LockMode, held: &mut Held) -> Result<()> {
        held.0.push(self.env.locks.lock_global(mode)?);
        if let Some(c) = &self.env.cluster {
            held.0.push(c.lock_global(mode)?);
        }
        Ok(())
    }

    /// Local lock of `name`, scan, read; and the cluster VG lock with a re-read when the
    /// VG's `lock_type` asks for one. A shared cluster lock that cannot be had (lockspace not
    /// started, daemon gone, held elsewhere) is skipped with a warning unless `enforce_sh`,
    /// as lvm2 reads a shared VG without a lock (`lockd_vg_enforce_sh` only for activation).
    fn lock_and_read(
        &self,
        name: &str,
        mode: LockMode,
        enforce_sh: bool,
        held: &mut Held,
    ) -> Result<(Scan, VgRead)> {
        held.0.push(self.env.locks.lock_vg(name, mode)?);
        let sc = scan(self.env)?;
        let r = sc.read_vg(name)?;
        match self.cluster_locks(name, &r, mode)? {
            None => Ok((sc, r)),
            Some(cluster) => match self.cluster_vg_lock(cluster, name, mode, enforce_sh)? {
                Err(why) => Ok((
                    sc,
                    VgRead {
                        lock_skipped: Some(why),
                        ..r
                    },
                )),
                Ok(g) => {
                    // The lock value block names the seqno of the last commit: when it is the
                    // one read before the lock, nobody committed since (a writer releases its
                    // lock with the new seqno) and the copy read is current.
                    let current = g.committed_seqno() == Some(r.vg.seqno);
                    held.0.push(g);
                    if current {
                        return Ok((sc, r));
                    }
                    drop(r);
                    let sc = scan(self.env)?;
                    let r = sc.read_vg(name)?;
                    Ok((sc, r))
                }
            },
        }
    }

    /// The cluster VG lock, or why a shared one was skipped (see [`Ctx::lock_and_read`]).
    fn cluster_vg_lock(
        &self,
        cluster: &dyn crate::lock::LockManager,
        name: &str,
        mode: LockMode,
        enforce_sh: bool,
    ) -> Result<std::result::Result<LockGuard, String>> {
        use crate::lock::LockError;
        match cluster.lock_vg(name, mode) {
            Ok(g) => Ok(Ok(g)),
            Err(e @ (LockError::Cluster { .. } | LockError::HeldElsewhere { .. }))
                if mode == LockMode::Shared && !enforce_sh =>
            {
                log::debug!("reading VG {name} without a lock: {e}");
                Ok(Err(e.to_string()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The global lock alone (labels, no VG metadata), then a scan.
    pub fn with_global_lock<T>(
        &self,
        mode: LockMode,
        f: impl FnOnce(&Scan) -> Result<T>,
    ) -> Result<T> {
        let mut held = Held(Vec::new());
        self.lock_global(mode, &mut held)?;
        let sc = scan(self.env)?;
        f(&sc)
    }

    /// PV label writes (pvcreate, pvremove) under the exclusive global lock: `plan` checks
    /// every device against the scan and returns the changes; they are applied here, all
    /// after all checks, and not at all in test mode (`-t`).
    pub fn change_labels<T>(
        &self,
        plan: impl FnOnce(&Scan) -> Result<(T, Vec<LabelChange>)>,
    ) -> Result<T> {
        self.with_global_lock(LockMode::Exclusive, |sc| {
            let (value, changes) = plan(sc)?;
            if self.env.test_mode {
                log::info!("Test mode: {} PV label(s) not written.", changes.len());
                return Ok(value);
            }
            for c in changes {
                match c {
                    // lvm2's exact layout and bytes (label sectors zeroed, mda header, label).
                    LabelChange::Format { dev, uuid, opts } => {
                        lvmeta_ondisk::pv::format_pv(dev.as_ref(), &uuid, &opts)?;
                    }
                    LabelChange::Wipe { dev } => {
                        lvmeta_ondisk::label::wipe_label(dev.as_ref())?;
                    }
                }
            }
            Ok(value)
        })
    }

    /// The cluster lock manager VG `name` (as read) needs. Writes without one are refused;
    /// reads go on under the local lock alone (the copy read may be stale on a cluster, as
    /// lvm2's reads of a shared VG without lvmlockd are).
    fn cluster_locks(
        &self,
        name: &str,
        r: &VgRead,
        mode: LockMode,
    ) -> Result<Option<&dyn crate::lock::LockManager>> {
        match self.env.cluster_locks_for(name, r.vg.lock_type.as_deref()) {
            Ok(c) => Ok(c),
            Err(crate::lock::LockError::NeedsCluster { .. }) if mode == LockMode::Shared => {
                log::debug!("reading VG {name} without its cluster lock");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Reads VG `name` under its local lock alone (shared), never its cluster lock: what a
    /// lockstart needs before the VG's cluster lock can exist (lvm2 reads it so too). Owner
    /// check as [`Ctx::read_vg`].
    pub fn read_vg_local<T>(
        &self,
        name: &str,
        override_foreign: bool,
        f: impl FnOnce(&Scan, VgRead) -> Result<T>,
    ) -> Result<T> {
        let _local = self.env.locks.lock_vg(name, LockMode::Shared)?;
        let sc = scan(self.env)?;
        let r = sc.read_vg(name)?;
        if !override_foreign {
            self.check_owner(&r.vg, false)?;
        }
        f(&sc, r)
    }

    /// The one read of VG metadata without a lock (and without an owner check): scan, newest
    /// valid copy. For callers that hold the right lock through another route (clvmd-rs
    /// acting for the node that holds the VG's DLM lock) or that need only a hint, which a
    /// locked command checks again. The copy read is whole (lvm2's commit switches copies
    /// with one sector write) but may be stale by the time it is used.
    pub fn peek_vg(&self, name: &str) -> Result<(Scan, VgRead)> {
        let sc = scan(self.env)?;
        let r = sc.read_vg(name)?;
        Ok((sc, r))
    }

    /// [`Ctx::peek_vg`] of a VG known to exist (the caller holds its lockspace or has LVs of
    /// it active): not found behind devices failing I/O is [`OpError::NoMetadataReadable`].
    pub fn peek_known_vg(&self, name: &str) -> Result<(Scan, VgRead)> {
        let sc = scan(self.env)?;
        let r = sc.read_known_vg(name)?;
        Ok((sc, r))
    }

    /// Names of the VGs a scan sees, without a lock: which VGs to read, each then under its
    /// lock (vgck without names).
    pub(crate) fn peek_vg_names(&self) -> Result<Vec<String>> {
        Ok(scan(self.env)?.vg_names())
    }

    /// Writes another node's commit (clvmd-rs's carried commit, issue 15): `text`, the
    /// complete metadata of VG `vg` (UUID `vg_uuid`) at seqno `disk_seqno + 1`, to every
    /// metadata area of its PVs present here, if the VG on disk here is `vg_uuid` at
    /// `disk_seqno`. No lock is taken: the command that made the commit holds the VG lock EX
    /// for it, and the seqno check means nothing came between its read and this write.
    /// Returns the seqno written.
    pub fn write_carried(
        &self,
        vg: &str,
        vg_uuid: &str,
        disk_seqno: u64,
        text: &str,
    ) -> Result<u64> {
        let new = crate::ops::carry::carried_vg(vg, vg_uuid, disk_seqno, text)?;
        let (sc, on) = self.peek_vg(vg)?;
        let t = crate::ops::carry::carried_targets(&sc, &on.vg, &new, vg, vg_uuid, disk_seqno)?;
        commit_text(&new.name, &t, text.to_string(), None)?;
        log::warn!(
            "VG {}: wrote another node's commit (seqno {}) to {} metadata area(s)",
            new.name,
            new.seqno,
            t.len()
        );
        Ok(new.seqno)
    }

    /// Reads VG `name` under its shared lock; `f` gets the scan and the VG as read. On a
    /// shared VG whose cluster lock cannot be had, reads without it (with a warning).
    pub fn read_vg<T, E: From<OpError>>(
        &self,
        name: &str,
        override_foreign: bool,
        f: impl FnOnce(&Scan, VgRead) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.read_vg_with(name, override_foreign, false, f)
    }

    /// [`Ctx::read_vg`]; `enforce_sh`: the shared cluster lock is required (activation).
    pub fn read_vg_with<T, E: From<OpError>>(
        &self,
        name: &str,
        override_foreign: bool,
        enforce_sh: bool,
        f: impl FnOnce(&Scan, VgRead) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let mut held = Held(Vec::new());
        let (sc, r) = self.lock_and_read(name, LockMode::Shared, enforce_sh, &mut held)?;
        if !override_foreign {
            self.check_owner(&r.vg, false)?;
        }
        f(&sc, r)
    }

    /// Reads several VGs (all of them when `names` is None) under their shared locks and one
    /// scan. Unreadable or foreign VGs named explicitly are errors; found by the scan, a
    /// foreign VG is left out unless `foreign`.
    pub fn read_vgs<T>(
        &self,
        names: Option<&[String]>,
        foreign: bool,
        f: impl FnOnce(&Scan, Vec<VgRead>) -> Result<T>,
    ) -> Result<T> {
        let mut held = Held(Vec::new());
        let (sc, names, named) = match names {
            Some(want) if !want.is_empty() => {
                let mut want = want.to_vec();
                want.sort();
                want.dedup();
                for w in &want {
                    held.0.push(self.env.locks.lock_vg(w, LockMode::Shared)?);
                }
                (scan(self.env)?, want, true)
            }
            _ => {
                let first = scan(self.env)?;
                let names = first.vg_names();
                if names.is_empty() {
                    (first, names, false)
                } else {
                    for n in &names {
                        held.0.push(self.env.locks.lock_vg(n, LockMode::Shared)?);
                    }
                    // Read again under the locks; VGs may have come or gone meanwhile.
                    drop(first);
                    let sc = scan(self.env)?;
                    let names = sc.vg_names();
                    (sc, names, false)
                }
            }
        };
        let mut reads = Vec::new();
        // A VG whose cluster lock was taken after the first read and whose copy read may be
        // older than the last commit (see `lock_and_read`).
        let mut stale = false;
        let mut skipped = std::collections::HashMap::new();
        for n in &names {
            let mut r = sc.read_vg(n)?;
            if let Some(c) = self.cluster_locks(n, &r, LockMode::Shared)? {
                match self.cluster_vg_lock(c, n, LockMode::Shared, false)? {
                    Ok(g) => {
                        stale |= g.committed_seqno() != Some(r.vg.seqno);
                        held.0.push(g);
                    }
                    Err(why) => {
                        skipped.insert(n.clone(), why.clone());
                        r.lock_skipped = Some(why);
                    }
                }
            }
            reads.push(r);
        }
        // Under cluster locks taken after the first read, read once more, unless every lock
        // value block names the seqno read (nobody committed since).
        let (sc, reads) = if stale {
            let sc = scan(self.env)?;
            let reads = names
                .iter()
                .map(|n| {
                    let mut r = sc.read_vg(n)?;
                    r.lock_skipped = skipped.remove(n);
                    Ok(r)
                })
                .collect::<Result<Vec<_>>>()?;
            (sc, reads)
        } else {
            (sc, reads)
        };
        let mut kept = Vec::new();
        for r in reads {
            if !foreign {
                if let Err(e) = self.check_owner(&r.vg, false) {
                    if named {
                        return Err(e);
                    }
                    continue;
                }
            }
            kept.push(r);
        }
        f(&sc, kept)
    }

    /// Read-modify-commit of VG `name` under its exclusive lock. `f` edits `txn.vg` (or asks
    /// for removal or nothing); the commit, the seqno note to the locks, the hooks and the
    /// post-commit changes (labels, device-mapper renames) follow here and nowhere else.
    pub fn modify_vg<T>(
        &self,
        name: &str,
        opts: &WriteOpts,
        f: impl FnOnce(&mut Txn) -> Result<T>,
    ) -> Result<Done<T>> {
        let mut held = Held(Vec::new());
        if opts.global {
            self.lock_global(LockMode::Exclusive, &mut held)?;
        }
        if let Some(other) = &opts.also_lock {
            // Two VG locks in name order, as lvm2 orders them, so renames cannot deadlock.
            if other.as_str() < name {
                held.0
                    .push(self.env.locks.lock_vg(other, LockMode::Exclusive)?);
            }
        }
        let (sc, r) = self.lock_and_read(name, LockMode::Exclusive, true, &mut held)?;
        if let Some(other) = &opts.also_lock {
            if other.as_str() > name {
                held.0
                    .push(self.env.locks.lock_vg(other, LockMode::Exclusive)?);
            }
        }
        self.check_owner(&r.vg, opts.override_foreign)?;
        // lvm2's `allow_changes_with_duplicate_pvs = 0`.
        if sc.has_duplicates(&r.vg) {
            return Err(OpError::DuplicateDevices { vg: name.into() });
        }
        if !opts.allow_missing {
            check_complete(&r, opts.majority)?;
        }
        let VgRead {
            vg, devs, copies, ..
        } = r;
        let seqno = vg.seqno;
        // A shared VG's copy as read: a commit that only adds LVs is told to the cluster lock
        // manager, which then need not announce it to the other nodes.
        let before = vg.lock_type.is_some().then(|| vg.clone());
        let mut txn = Txn {
            vg,
            scan: &sc,
            devs,
            copies,
            end: End::Commit,
            post: Vec::new(),
        };
        let value = f(&mut txn)?;
        let mut shared_removed = None;
        let Txn {
            mut vg,
            devs,
            end,
            post,
            ..
        } = txn;
        if self.env.test_mode {
            log::info!("Test mode: VG {name} not written.");
            return Ok(Done { vg, end, value });
        }
        match end {
            End::Nothing => {}
            End::Commit => {
                vg.seqno = seqno + 1;
                // As lvm2: a PV absent from a write is marked so; when it returns, its older
                // copy is not trusted until `vgextend --restoremissing`.
                // (Presence from the scan: the callback may have added PVs.)
                for pv in vg.pvs.iter_mut() {
                    if sc.device_index(pv).is_none() {
                        pv.set_missing(true);
                    }
                }
                if before.as_ref().is_some_and(|b| vg.only_adds_lvs_to(b)) {
                    held.note_only_added_lvs();
                }
                self.commit(&sc, name, &mut vg, &mut held)?;
            }
            End::Remove => {
                if let Some(h) = &self.env.hooks {
                    h.before_commit(&vg)?;
                }
                shared_removed = self
                    .env
                    .cluster_locks_for(name, vg.lock_type.as_deref())
                    .ok()
                    .flatten();
                for (dev, area) in targets(&sc, &vg) {
                    mda::format_mda(dev.as_ref(), area)?;
                }
                for &i in devs.values() {
                    set_used(sc.pv(i), false)?;
                }
                held.note_removed();
                if let Some(h) = &self.env.hooks {
                    backed_up(h.after_commit(name, None));
                }
            }
        }
        post_commit(self.env, &sc, name, &vg, post)?;
        // Released first, so the removal reaches the lock value block; then, as lvm2, this
        // host leaves the removed VG's lockspace (others learn of it from the LVB).
        drop(held);
        if let Some(c) = shared_removed {
            if let Err(e) = c.vg_removed(name) {
                log::warn!("VG {name} removed, but its lockspace was not stopped: {e}");
            }
        }
        Ok(Done { vg, end, value })
    }

    /// Writes a whole VG `name` (vgcreate, vgcfgrestore) under the global lock and the VG's
    /// local lock, as lvm2 does: no cluster VG lock, so a shared VG is restored whether its
    /// lockspace is started or not (lvm2's vgcfgrestore takes `lock_global(ex)` and
    /// `lock_vol(LCK_VG_WRITE)`, which is the local file lock only). `build` gets the scan
    /// and the VG currently there (if readable) and returns the VG to commit (its seqno as it
    /// should be written) and label changes.
    pub fn put_vg(
        &self,
        name: &str,
        build: impl FnOnce(&Scan, Option<VgRead>) -> Result<(VolumeGroup, Vec<PostCommit>)>,
    ) -> Result<VolumeGroup> {
        let mut held = Held(Vec::new());
        self.lock_global(LockMode::Exclusive, &mut held)?;
        held.0
            .push(self.env.locks.lock_vg(name, LockMode::Exclusive)?);
        let sc = scan(self.env)?;
        let current = sc.read_vg(name).ok();
        let (mut vg, post) = build(&sc, current)?;
        if self.env.test_mode {
            log::info!("Test mode: VG {name} not written.");
            return Ok(vg);
        }
        self.commit(&sc, name, &mut vg, &mut held)?;
        post_commit(self.env, &sc, name, &vg, post)?;
        Ok(vg)
    }

    /// On a shared VG, the LVs whose size this commit changes are suspended on every node
    /// first (clvmd-rs's atomic resize), so no node serves the new size while another
    /// serves the old one; the guards resume them after the commit.
    fn suspend_resized(
        &self,
        sc: &Scan,
        old_name: &str,
        vg: &VolumeGroup,
    ) -> Result<Vec<Box<dyn crate::lock::SuspendedLv>>> {
        let Ok(Some(cluster)) = self
            .env
            .cluster_locks_for(&vg.name, vg.lock_type.as_deref())
        else {
            return Ok(Vec::new());
        };
        let Ok(old) = sc.read_vg(old_name) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for l in vg.lvs.iter().filter(|l| l.is_visible()) {
            let resized = old
                .vg
                .lvs
                .iter()
                .find(|o| o.id == l.id)
                .is_some_and(|o| o.size().0 != l.size().0);
            if resized {
                if let Some(g) = cluster.suspend_lv_everywhere(&vg.name, &l.id, &l.name)? {
                    out.push(g);
                }
            }
        }
        Ok(out)
    }

    /// The commit itself: device hints, text, every metadata area, the seqno to the locks,
    /// the hooks. `old_name`: the VG's name on disk (a rename commits under the new one).
    fn commit(
        &self,
        sc: &Scan,
        old_name: &str,
        vg: &mut VolumeGroup,
        held: &mut Held,
    ) -> Result<()> {
        for p in vg.pvs.iter_mut() {
            if let Some(i) = sc.device_index(p) {
                p.device = Some(sc.pv(i).path().to_string_lossy().into_owned());
            }
        }
        if let Some(h) = &self.env.hooks {
            // The copy on disk, read again only when there is a hook to give it to.
            if let Ok(old) = sc.read_vg(old_name) {
                h.before_commit(&old.vg)?;
            }
        }
        let suspended = self.suspend_resized(sc, old_name, vg)?;
        test_pause("before-commit");
        let text = metadata_text(vg, &self.env.host, now(), committed_len(sc, vg));
        // A shared VG's text is kept for another node to write should no copy be written
        // from here (clvmd-rs carries the commit).
        let carry_text = vg.lock_type.is_some().then(|| text.clone());
        // What the next command reads, unless another commit comes first.
        let next_read = crate::memo::wanted().then(|| text.clone());
        if let Err(e) = commit_text(&vg.name, &targets(sc, vg), text, None) {
            let OpError::NoMetadataCopy { .. } = &e else {
                return Err(e);
            };
            // Still under the VG lock: the cluster lock manager has a peer carry the commit
            // or applies the metadata-loss policy before another command can try.
            let policy = halvm_config::DgFailurePolicy::from_vg_tags(&vg.tags).map(|p| p.as_str());
            let error = e.to_string();
            let carried = carry_text.as_deref().and_then(|text| {
                held.carry_commit(&CarryRequest {
                    vg_uuid: &vg.id,
                    disk_seqno: vg.seqno.saturating_sub(1),
                    text,
                    error: &error,
                    policy,
                })
            });
            match carried {
                Some(Ok(node)) => log::warn!(
                    "WARNING: VG {}: node {node} carried the commit (seqno {}) because this node could write no metadata copy: {error}",
                    vg.name,
                    vg.seqno
                ),
                Some(Err(why)) => {
                    // `why` says it was not carried, and why.
                    log::error!("VG {}: {why}", vg.name);
                    return Err(e);
                }
                None => {
                    held.note_metadata_lost(&error, policy);
                    return Err(e);
                }
            }
        }
        held.note_committed_seqno(vg.seqno);
        if let Some(t) = next_read {
            crate::memo::report(crate::memo::Report::Vg(&t));
        }
        test_pause("after-commit");
        for s in suspended {
            s.resume()?;
        }
        if let Some(h) = &self.env.hooks {
            backed_up(h.after_commit(&vg.name, Some(vg)));
        }
        Ok(())
    }
}

/// Test hook for the lab (a resize paused between its phases, so a node can be killed
/// there): with `HALVM_TEST_PAUSE=<phase>:<file>`, at `phase` (`before-commit`: every node
/// has the LVs being resized suspended; `after-commit`) the command writes `<file>` and
/// waits until it is removed.
fn test_pause(phase: &str) {
    let Ok(v) = std::env::var("HALVM_TEST_PAUSE") else {
        return;
    };
    let Some((p, file)) = v.split_once(':') else {
        return;
    };
    if p != phase {
        return;
    }
    if std::fs::write(file, format!("{phase} {}\n", std::process::id())).is_err() {
        return;
    }
    let start = std::time::Instant::now();
    while std::path::Path::new(file).exists() && start.elapsed().as_secs() < 600 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::{HeldLock, LockError, LockManager, LockTarget, MemLocking};
    use crate::ops::{Env, LvcreateOptions, SizeArg};
    use lvmeta_model::Layout;
    use lvmeta_ondisk::dev::{BlockDev, MemDev};
    use lvmeta_ondisk::Bytes;
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex};

    /// Events a [`Recorder`] saw: locks taken and seqnos noted.
    type Log = Arc<Mutex<Vec<String>>>;

    /// A lock manager over `MemLocking` that records what the driver does with its locks.
    struct Recorder {
        name: &'static str,
        inner: MemLocking,
        log: Log,
    }

    struct RecHeld {
        name: &'static str,
        target: LockTarget,
        mode: LockMode,
        _inner: LockGuard,
        log: Log,
    }

    impl HeldLock for RecHeld {
        fn target(&self) -> &LockTarget {
            &self.target
        }
        fn mode(&self) -> LockMode {
            self.mode
        }
        fn note_committed_seqno(&mut self, seqno: u64) {
            let t = &self.target;
            self.log
                .lock()
                .unwrap()
                .push(format!("{} seqno {seqno} on {t}", self.name));
        }
        fn note_metadata_lost(&mut self, error: &str, policy: Option<&str>) {
            let t = &self.target;
            self.log.lock().unwrap().push(format!(
                "{} metadata lost on {t}, policy {policy:?}: {error}",
                self.name
            ));
        }
    }

    impl LockManager for Recorder {
        fn lock(&self, target: &LockTarget, mode: LockMode) -> Result<LockGuard, LockError> {
            self.log
                .lock()
                .unwrap()
                .push(format!("{} {mode:?} {target}", self.name));
            Ok(LockGuard::new(Box::new(RecHeld {
                name: self.name,
                target: target.clone(),
                mode,
                _inner: self.inner.lock(target, mode)?,
                log: self.log.clone(),
            })))
        }
    }

    fn env(log: &Log) -> Env {
        env_devs(log).0
    }

    /// [`env`] and its devices (clones share their fault injector).
    fn env_devs(log: &Log) -> (Env, Vec<MemDev>) {
        let devs: Vec<(PathBuf, MemDev)> = (0..2)
            .map(|i| {
                let p = PathBuf::from(format!("/mem/pv{i}"));
                (p.clone(), MemDev::new(p, Bytes(32 << 20)))
            })
            .collect();
        let locks = Recorder {
            name: "local",
            inner: MemLocking::new(),
            log: log.clone(),
        };
        let mut e = Env::with_devices(devs.iter().map(|d| d.0.clone()).collect(), Arc::new(locks));
        let mems = devs.iter().map(|d| d.1.clone()).collect();
        e.open = Box::new(move |p: &Path| {
            devs.iter()
                .find(|d| d.0 == p)
                .map(|d| Arc::new(d.1.clone()) as Arc<dyn BlockDev>)
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "absent"))
        });
        (e, mems)
    }

    /// Issue 15 (policy.dg_failure): a commit that cannot write any metadata copy fails with
    /// a structured error, leaves the VG as it was, and tells the held cluster lock (with the
    /// VG's own policy tag) while still holding it; one failing copy of two is an ordinary
    /// write error, not a metadata loss.
    #[test]
    fn no_metadata_copy_written_is_reported_to_the_held_cluster_lock() {
        use lvmeta_ondisk::dev::Fault;
        let log = Log::default();
        let (mut e, devs) = env_devs(&log);
        {
            let ctx = Ctx { env: &e };
            setup(&ctx);
            ctx.modify("vg", false, |vg, _, _| {
                vg.lock_type = Some("dlm".into());
                vg.lock_args = Some("1.0.0:test".into());
                vg.tags.push("halvm_dgfail_leave".into());
                Ok(())
            })
            .unwrap();
        }
        e.cluster = Some(Arc::new(Recorder {
            name: "cluster",
            inner: MemLocking::new(),
            log: log.clone(),
        }));
        let ctx = Ctx { env: &e };
        let before = ctx
            .read_vgs(Some(&["vg".to_string()]), false, |_, r| Ok(r[0].vg.seqno))
            .unwrap();
        let create = |name: &str| {
            ctx.lvcreate(&crate::ops::LvcreateOptions {
                vg: "vg".into(),
                ..lv(name)
            })
        };
        devs[1].set_fault(Fault::FailAfter { ok: 0 });
        log.lock().unwrap().clear();
        let err = create("a").unwrap_err();
        assert!(!matches!(err, OpError::NoMetadataCopy { .. }), "{err}");
        assert!(!log.lock().unwrap().iter().any(|l| l.contains("lost")));
        devs[0].set_fault(Fault::FailAfter { ok: 0 });
        log.lock().unwrap().clear();
        let err = create("a").unwrap_err();
        let OpError::NoMetadataCopy {
            vg, areas, failed, ..
        } = &err
        else {
            panic!("expected NoMetadataCopy, got {err}");
        };
        assert_eq!((vg.as_str(), *areas, failed.len()), ("vg", 2, 2));
        let text = err.to_string();
        assert!(text.contains("no metadata copy could be written"), "{text}");
        let log = log.lock().unwrap().clone();
        let lost: Vec<&String> = log
            .iter()
            .filter(|l| l.starts_with("cluster metadata lost"))
            .collect();
        assert_eq!(lost.len(), 1, "{log:?}");
        assert!(
            lost[0].starts_with("cluster metadata lost on lock for VG vg, policy Some(\"leave\")"),
            "{log:?}"
        );
        for d in &devs {
            d.set_fault(Fault::None);
        }
        let after = ctx
            .read_vgs(Some(&["vg".to_string()]), false, |_, r| Ok(r[0].vg.seqno))
            .unwrap();
        assert_eq!(before, after, "nothing half-done: the VG is unchanged");
    }

    /// Issue 15: every area takes the new text and its precommit (phase 1) but no commit
    /// header can be written (phase 2): no copy was committed, the VG is unchanged, and it
    /// is the same structured error, told to the held cluster lock, as a phase-1 failure.
    #[test]
    fn a_commit_failing_everywhere_in_its_second_phase_is_a_metadata_loss() {
        use lvmeta_ondisk::dev::Fault;
        let log = Log::default();
        let (mut e, devs) = env_devs(&log);
        {
            let ctx = Ctx { env: &e };
            setup(&ctx);
            ctx.modify("vg", false, |vg, _, _| {
                vg.lock_type = Some("dlm".into());
                vg.lock_args = Some("1.0.0:test".into());
                Ok(())
            })
            .unwrap();
        }
        e.cluster = Some(Arc::new(Recorder {
            name: "cluster",
            inner: MemLocking::new(),
            log: log.clone(),
        }));
        let ctx = Ctx { env: &e };
        let seqno = || {
            ctx.read_vgs(Some(&["vg".to_string()]), false, |_, r| Ok(r[0].vg.seqno))
                .unwrap()
        };
        let before = seqno();
        // Phase 1 writes the text and the precommitted header on each device (two writes);
        // the commit header is the third.
        for d in &devs {
            d.set_fault(Fault::FailAfter { ok: 2 });
        }
        log.lock().unwrap().clear();
        let err = ctx
            .lvcreate(&crate::ops::LvcreateOptions {
                vg: "vg".into(),
                ..lv("a")
            })
            .unwrap_err();
        let OpError::NoMetadataCopy { areas, failed, .. } = &err else {
            panic!("expected NoMetadataCopy, got {err}");
        };
        assert_eq!((*areas, failed.len()), (2, 2));
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log.iter()
                .filter(|l| l.starts_with("cluster metadata lost"))
                .count(),
            1,
            "{log:?}"
        );
        assert!(!log.iter().any(|l| l.contains(" seqno ")), "{log:?}");
        for d in &devs {
            d.set_fault(Fault::None);
        }
        assert_eq!(seqno(), before, "the VG is unchanged");
    }

    /// Issue 15: a VG whose every device fails reads is "not found" to a plain read (lvm2's
    /// answer: nothing says which VG the disks held), and "no metadata copy can be read",
    /// naming the devices, to a caller that knows the VG exists (the daemon, with LVs of it
    /// active). One readable device is enough to read it.
    #[test]
    fn a_known_vg_behind_failing_reads_is_unreadable_not_missing() {
        let log = Log::default();
        let (e, devs) = env_devs(&log);
        let ctx = Ctx { env: &e };
        setup(&ctx);
        devs[0].set_read_failure(true);
        let sc = crate::ops::scan(&e).unwrap();
        assert_eq!(sc.read_known_vg("vg").unwrap().vg.name, "vg");
        devs[1].set_read_failure(true);
        let sc = crate::ops::scan(&e).unwrap();
        assert!(matches!(sc.read_vg("vg"), Err(OpError::VgNotFound { .. })));
        let Err(err) = sc.read_known_vg("vg") else {
            panic!("read a VG whose every device fails reads");
        };
        let OpError::NoMetadataReadable { vg, failed, .. } = &err else {
            panic!("expected NoMetadataReadable, got {err}");
        };
        assert_eq!(vg, "vg");
        assert_eq!(
            failed,
            &[PathBuf::from("/mem/pv0"), PathBuf::from("/mem/pv1")]
        );
        assert!(
            err.to_string().contains("no metadata copy can be read"),
            "{err}"
        );
        for d in &devs {
            d.set_read_failure(false);
        }
        let sc = crate::ops::scan(&e).unwrap();
        assert!(matches!(
            sc.read_known_vg("other"),
            Err(OpError::VgNotFound { .. })
        ));
    }

    fn lv(name: &str) -> LvcreateOptions {
        LvcreateOptions {
            vg: String::new(),
            name: name.into(),
            size: SizeArg::Sectors(crate::units::Sign::Absolute, 8192),
            layout: Layout::Linear,
            pvs: vec![],
        }
    }

    fn setup(ctx: &Ctx) {
        let paths = [PathBuf::from("/mem/pv0"), PathBuf::from("/mem/pv1")];
        ctx.pvcreate(&crate::ops::PvcreateOptions {
            pvs: paths.to_vec(),
            ..Default::default()
        })
        .unwrap();
        ctx.vgcreate(&crate::ops::VgcreateOptions {
            system_id: None,
            tags: Vec::new(),
            ..crate::ops::VgcreateOptions::new("vg", paths.to_vec())
        })
        .unwrap();
    }

    use std::sync::atomic::{AtomicUsize, Ordering};

    /// How many traced devices are open now, and at most.
    type OpenCount = Arc<(AtomicUsize, AtomicUsize)>;

    /// A device that notes its prefetches and reads in a shared log and counts how many of
    /// its kind are open at once.
    struct Traced {
        inner: MemDev,
        log: Log,
        open: OpenCount,
    }

    impl Traced {
        fn new(inner: MemDev, log: &Log, open: &OpenCount) -> Traced {
            let now = open.0.fetch_add(1, Ordering::SeqCst) + 1;
            open.1.fetch_max(now, Ordering::SeqCst);
            Traced {
                inner,
                log: log.clone(),
                open: open.clone(),
            }
        }

        /// `kind name rest`, e.g. `read /mem/pv0 4096`.
        fn note(&self, kind: &str, rest: String) {
            let name = self.inner.path().display();
            self.log
                .lock()
                .unwrap()
                .push(format!("{kind} {name} {rest}"));
        }
    }

    impl Drop for Traced {
        fn drop(&mut self) {
            self.open.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl BlockDev for Traced {
        fn read_at(&self, off: Bytes, buf: &mut [u8]) -> std::io::Result<()> {
            self.note("read", off.0.to_string());
            self.inner.read_at(off, buf)
        }
        fn write_at(&self, off: Bytes, data: &[u8]) -> std::io::Result<()> {
            self.inner.write_at(off, data)
        }
        fn sync(&self) -> std::io::Result<()> {
            self.inner.sync()
        }
        fn size(&self) -> std::io::Result<Bytes> {
            self.inner.size()
        }
        fn path(&self) -> &Path {
            self.inner.path()
        }
        fn prefetch(&self, off: Bytes, len: u64) {
            self.note("prefetch", format!("{} {len}", off.0));
        }
    }

    /// A scan starts every device's reads before it waits for the first: the heads (label
    /// and first metadata area header) of both PVs, then the texts their headers locate,
    /// each range before it is read.
    #[test]
    fn a_scan_reads_ahead_on_every_device_before_it_reads() {
        let (mut e, devs) = env_devs(&Log::default());
        setup(&Ctx { env: &e });
        let trace = Log::default();
        let (t, paths) = (trace.clone(), ["/mem/pv0", "/mem/pv1"]);
        let open = OpenCount::default();
        e.open = Box::new(move |p: &Path| {
            let i = paths.iter().position(|q| Path::new(q) == p).unwrap();
            Ok(Arc::new(Traced::new(devs[i].clone(), &t, &open)) as Arc<dyn BlockDev>)
        });
        crate::ops::scan(&e).unwrap();
        let log = trace.lock().unwrap().clone();
        let pos = |want: &str| {
            log.iter()
                .position(|l| l.starts_with(want))
                .unwrap_or_else(|| panic!("no {want:?} in {log:#?}"))
        };
        let first_read = pos("read ");
        for d in paths {
            assert!(pos(&format!("prefetch {d} 0 ")) < first_read, "{log:#?}");
        }
        // Each PV's text (past its header at 4 KiB) is asked for ahead of the first text read.
        let text_reads: Vec<usize> = log
            .iter()
            .enumerate()
            .filter(|(_, l)| l.starts_with("read ") && !l.ends_with(" 0") && !l.ends_with(" 4096"))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(text_reads.len(), 2, "{log:#?}");
        for d in paths {
            let text_prefetch = log
                .iter()
                .position(|l| l.starts_with(&format!("prefetch {d} ")) && !l.contains(" 0 "))
                .unwrap_or_else(|| panic!("no text prefetch on {d}: {log:#?}"));
            assert!(text_prefetch < text_reads[0], "{log:#?}");
        }
    }

    /// A scan of many devices keeps few open at once: the PVs, and the devices of one batch
    /// until their labels are read (a host with thousands of disks must not run out of file
    /// descriptors, which would skip devices).
    #[test]
    fn a_scan_of_many_devices_keeps_a_batch_open_at_most() {
        let (mut e, pvs) = env_devs(&Log::default());
        setup(&Ctx { env: &e });
        let others = 3 * crate::ops::SCAN_BATCH + 5;
        let mut all: Vec<(PathBuf, MemDev)> = (0..2)
            .map(|i| (PathBuf::from(format!("/mem/pv{i}")), pvs[i].clone()))
            .collect();
        all.extend((0..others).map(|i| {
            let p = PathBuf::from(format!("/mem/other{i}"));
            (p.clone(), MemDev::new(p, Bytes(1 << 20)))
        }));
        // The PVs last, after every other device.
        all.rotate_left(2);
        e.devices = Some(all.iter().map(|d| d.0.clone()).collect());
        let open = OpenCount::default();
        let (o, log) = (open.clone(), Log::default());
        e.open = Box::new(move |p: &Path| {
            let d = all.iter().find(|d| d.0 == p).unwrap();
            Ok(Arc::new(Traced::new(d.1.clone(), &log, &o)) as Arc<dyn BlockDev>)
        });
        let ctx = Ctx { env: &e };
        let names = ctx
            .read_vgs(Some(&["vg".to_string()]), false, |_, r| {
                Ok(r[0].vg.name.clone())
            })
            .unwrap();
        assert_eq!(names, "vg");
        let max = open.1.load(Ordering::SeqCst);
        assert!(
            max <= crate::ops::SCAN_BATCH + 2,
            "{max} devices open at once, of {} scanned",
            others + 2
        );
        assert_eq!(
            open.0.load(Ordering::SeqCst),
            0,
            "all closed after the command"
        );
    }

    /// A text too large for the metadata areas: the commit writes nothing at all.
    #[test]
    fn metadata_too_large_writes_nothing() {
        let (e, devs) = env_devs(&Log::default());
        let ctx = Ctx { env: &e };
        setup(&ctx);
        let snap: Vec<Vec<u8>> = devs.iter().map(|d| d.snapshot()).collect();
        let (sc, r) = ctx.peek_vg("vg").unwrap();
        let t = targets(&sc, &r.vg);
        assert_eq!(t.len(), 2);
        // One byte more than fits (the NUL ends it; two copies must fit the ring).
        let room = mda::max_text_size(t[0].1.size.0) as usize;
        let err = commit_text("vg", &t, "x".repeat(room), None).unwrap_err();
        assert!(
            matches!(err, OpError::TooLarge { needed, .. } if needed == room as u64 + 1),
            "{err}"
        );
        for (d, before) in devs.iter().zip(&snap) {
            assert!(d.snapshot() == *before, "{} changed", d.path().display());
        }
        assert_eq!(ctx.peek_vg("vg").unwrap().1.vg.seqno, 1);
    }

    /// The lock-free read takes no lock at all; a lockstart's read takes the VG's local
    /// lock alone (its cluster lock cannot exist yet).
    #[test]
    fn peek_takes_no_lock_and_lock_info_the_local_one_only() {
        let log = Log::default();
        let mut e = env(&log);
        {
            let ctx = Ctx { env: &e };
            setup_shared(&ctx);
        }
        let cluster = Log::default();
        e.cluster = Some(Arc::new(Recorder {
            name: "cluster",
            inner: MemLocking::new(),
            log: cluster.clone(),
        }));
        let ctx = Ctx { env: &e };
        log.lock().unwrap().clear();
        assert_eq!(ctx.peek_vg("vg").unwrap().1.vg.name, "vg");
        assert!(log.lock().unwrap().is_empty());
        assert!(ctx.vg_lock_info("vg").unwrap().is_dlm());
        assert_eq!(*log.lock().unwrap(), ["local Shared lock for VG vg"]);
        assert!(cluster.lock().unwrap().is_empty());
    }

    /// A lockstart's read refuses a VG owned by another host, as every read does; lvm 2.02's
    /// CLUSTERED VG is read still, so the caller can say how to convert it.
    #[test]
    fn lock_info_refuses_a_foreign_vg_but_names_a_clustered_one() {
        let e = env(&Log::default());
        let ctx = Ctx { env: &e };
        setup(&ctx);
        ctx.modify("vg", false, |vg, _, _| {
            vg.system_id = Some("other".into());
            Ok(())
        })
        .unwrap();
        let err = ctx.vg_lock_info("vg").unwrap_err();
        assert!(matches!(err, OpError::Foreign { .. }), "{err}");
        ctx.modify("vg", true, |vg, _, _| {
            vg.status.insert(lvmeta_model::Flag::Clustered);
            Ok(())
        })
        .unwrap();
        assert!(ctx.vg_lock_info("vg").unwrap().clustered);
    }

    /// `pvremove -ff` reads the PV's VG under the VG's shared lock (lvm2's process_each_pv),
    /// inside the global lock, before it asks device-mapper which LVs use the PV.
    #[test]
    fn pvremove_twice_forced_reads_the_pvs_vg_under_its_lock() {
        let log = Log::default();
        let mut e = env(&log);
        {
            let ctx = Ctx { env: &e };
            setup(&ctx);
        }
        e.kernel = Some(crate::activation::Kernel {
            dm: Box::new(lvmeta_dm::mem::MemDm::new([])),
            nodes: Box::new(lvmeta_dm::nodes::MemNodes::default()),
        });
        let ctx = Ctx { env: &e };
        log.lock().unwrap().clear();
        ctx.pvremove(&crate::ops::PvremoveOptions {
            pvs: vec![PathBuf::from("/mem/pv1")],
            force_twice: true,
        })
        .unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            ["local Exclusive global lock", "local Shared lock for VG vg"]
        );
    }

    /// [`setup`], the VG then made a shared (dlm) VG.
    fn setup_shared(ctx: &Ctx) {
        setup(ctx);
        ctx.modify("vg", false, |vg, _, _| {
            vg.lock_type = Some("dlm".into());
            vg.lock_args = Some("1.0.0:test".into());
            Ok(())
        })
        .unwrap();
    }

    /// Issue 12: the committed seqno reaches the held lock (a DLM lock value block needs it);
    /// before the driver, `note_committed_seqno` was never called.
    #[test]
    fn every_commit_notes_its_seqno_on_the_held_locks() {
        let log = Log::default();
        let e = env(&log);
        let ctx = Ctx { env: &e };
        setup(&ctx);
        log.lock().unwrap().clear();
        ctx.lvcreate(&crate::ops::LvcreateOptions {
            vg: "vg".into(),
            ..lv("a")
        })
        .unwrap();
        ctx.lvrename(&crate::ops::LvrenameOptions {
            vg: "vg".into(),
            old: "a".into(),
            new: "b".into(),
        })
        .unwrap();
        ctx.vgchange(&crate::ops::VgchangeOptions {
            vg: "vg".into(),
            system_id: None,
            add_tags: vec!["t".into()],
            del_tags: Vec::new(),
            majority_pvs: false,
        })
        .unwrap();
        let log = log.lock().unwrap().clone();
        let notes: Vec<&String> = log.iter().filter(|l| l.contains("seqno")).collect();
        assert_eq!(
            notes,
            [
                "local seqno 2 on lock for VG vg",
                "local seqno 3 on lock for VG vg",
                "local seqno 4 on lock for VG vg"
            ],
            "{log:?}"
        );
        assert!(log
            .iter()
            .all(|l| !l.contains("Shared") || !l.contains("seqno")));
    }

    /// A VG with `lock_type = "dlm"` needs the cluster lock manager: refused without one
    /// (as lvm2 without lvmlockd), and with one its VG lock is taken after the local lock
    /// and gets the committed seqno.
    #[test]
    fn shared_vgs_take_the_cluster_vg_lock_too() {
        let log = Log::default();
        let mut e = env(&log);
        {
            let ctx = Ctx { env: &e };
            setup_shared(&ctx);
            let err = ctx
                .lvcreate(&crate::ops::LvcreateOptions {
                    vg: "vg".into(),
                    ..lv("a")
                })
                .unwrap_err();
            assert!(
                matches!(
                    &err,
                    OpError::Lock(LockError::NeedsCluster { vg, lock_type })
                        if vg == "vg" && lock_type == "dlm"
                ),
                "{err}"
            );
        }
        e.cluster = Some(Arc::new(Recorder {
            name: "cluster",
            inner: MemLocking::new(),
            log: log.clone(),
        }));
        let ctx = Ctx { env: &e };
        log.lock().unwrap().clear();
        ctx.lvcreate(&crate::ops::LvcreateOptions {
            vg: "vg".into(),
            ..lv("a")
        })
        .unwrap();
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log,
            [
                "local Exclusive lock for VG vg",
                "cluster Exclusive lock for VG vg",
                "local seqno 3 on lock for VG vg",
                "cluster seqno 3 on lock for VG vg",
            ]
        );
        // Reports take the cluster lock shared.
        let rows = ctx
            .read_vgs(None, false, |_, reads| Ok(reads.len()))
            .unwrap();
        assert_eq!(rows, 1);
    }

    /// As lvm2's vgcfgrestore: the global lock (local and cluster) and the VG's local lock,
    /// no cluster VG lock, so a shared VG is restored with its lockspace stopped.
    #[test]
    fn vgcfgrestore_of_a_shared_vg_takes_the_global_lock_not_the_cluster_vg_lock() {
        let log = Log::default();
        let mut e = env(&log);
        e.cluster = Some(Arc::new(Recorder {
            name: "cluster",
            inner: MemLocking::new(),
            log: log.clone(),
        }));
        let ctx = Ctx { env: &e };
        setup_shared(&ctx);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vg.txt");
        ctx.vgcfgbackup(&crate::ops::VgcfgOptions {
            vg: "vg".into(),
            file: file.to_path_buf(),
        })
        .unwrap();
        log.lock().unwrap().clear();
        ctx.vgcfgrestore(&crate::ops::VgcfgOptions {
            vg: "vg".into(),
            file: file.to_path_buf(),
        })
        .unwrap();
        let log = log.lock().unwrap().clone();
        let taken: Vec<&String> = log.iter().filter(|l| !l.contains("seqno")).collect();
        assert_eq!(
            taken,
            [
                "local Exclusive global lock",
                "cluster Exclusive global lock",
                "local Exclusive lock for VG vg",
            ],
            "{log:?}"
        );
    }

    /// A cluster lock manager with a lock value block: a release notes the committed seqno,
    /// a grant tells it (as clvmd-rs does with the VGLK's LVB).
    #[derive(Default)]
    struct WithLvb(Arc<Mutex<Option<u64>>>);

    struct LvbHeld {
        target: LockTarget,
        mode: LockMode,
        granted: Option<u64>,
        lvb: Arc<Mutex<Option<u64>>>,
    }

    impl HeldLock for LvbHeld {
        fn target(&self) -> &LockTarget {
            &self.target
        }
        fn mode(&self) -> LockMode {
            self.mode
        }
        fn note_committed_seqno(&mut self, seqno: u64) {
            *self.lvb.lock().unwrap() = Some(seqno);
        }
        fn committed_seqno(&self) -> Option<u64> {
            self.granted
        }
    }

    impl LockManager for WithLvb {
        fn lock(&self, target: &LockTarget, mode: LockMode) -> Result<LockGuard, LockError> {
            Ok(LockGuard::new(Box::new(LvbHeld {
                target: target.clone(),
                mode,
                granted: *self.0.lock().unwrap(),
                lvb: self.0.clone(),
            })))
        }
    }

    /// A shared VG is read once when the lock value block says the copy read before the lock
    /// is the last committed one, and again (a second scan) when it does not know or names a
    /// newer seqno: by commands (`read_vg`) and reports (`read_vgs`).
    #[test]
    fn shared_vg_is_read_again_only_when_the_lvb_says_it_changed() {
        let log = Log::default();
        let mut e = env(&log);
        {
            let ctx = Ctx { env: &e };
            setup_shared(&ctx);
        }
        let lvb = WithLvb::default();
        let value = lvb.0.clone();
        e.cluster = Some(Arc::new(lvb));
        let opens = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = opens.clone();
        let open = std::mem::replace(&mut e.open, Box::new(Env::file_open));
        e.open = Box::new(move |p: &Path| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            open(p)
        });
        let ctx = Ctx { env: &e };
        let scans = |f: &dyn Fn()| {
            opens.store(0, std::sync::atomic::Ordering::SeqCst);
            f();
            opens.load(std::sync::atomic::Ordering::SeqCst) / 2
        };
        let read = || {
            ctx.read_vg("vg", false, |_, r| -> Result<u64> { Ok(r.vg.seqno) })
                .unwrap();
        };
        // Nothing in the LVB yet: read, lock, read again.
        assert_eq!(scans(&read), 2);
        ctx.lvcreate(&LvcreateOptions {
            vg: "vg".into(),
            ..lv("a")
        })
        .unwrap();
        let seqno = ctx
            .read_vg("vg", false, |_, r| -> Result<u64> { Ok(r.vg.seqno) })
            .unwrap();
        assert_eq!(*value.lock().unwrap(), Some(seqno));
        assert_eq!(scans(&read), 1);
        // Reports (several VGs under one scan) likewise; without names the VGs are found by a
        // first scan and read again under their local locks.
        let named = || {
            ctx.read_vgs(Some(&["vg".to_string()]), false, |_, r| Ok(r.len()))
                .unwrap();
        };
        let all = || {
            ctx.read_vgs(None, false, |_, r| Ok(r.len())).unwrap();
        };
        assert_eq!(scans(&named), 1);
        assert_eq!(scans(&all), 2);
        // Another node committed since (its release left a newer seqno): read again.
        *value.lock().unwrap() = Some(seqno + 1);
        assert_eq!(scans(&read), 2);
        assert_eq!(scans(&named), 2);
        assert_eq!(scans(&all), 3);
    }

    /// Per released VG lock: the seqno committed under it and whether the commit was noted
    /// as adding LVs only.
    #[derive(Default, Clone)]
    struct QuietLog(Arc<Mutex<Vec<Released>>>);

    /// The seqno committed under a released lock, and whether it was noted quiet.
    type Released = (Option<u64>, bool);

    struct QuietHeld {
        target: LockTarget,
        mode: LockMode,
        seqno: Option<u64>,
        quiet: bool,
        log: QuietLog,
    }

    impl HeldLock for QuietHeld {
        fn target(&self) -> &LockTarget {
            &self.target
        }
        fn mode(&self) -> LockMode {
            self.mode
        }
        fn note_committed_seqno(&mut self, seqno: u64) {
            self.seqno = Some(seqno);
        }
        fn note_only_added_lvs(&mut self) {
            self.quiet = true;
        }
    }

    impl Drop for QuietHeld {
        fn drop(&mut self) {
            if let LockTarget::Vg(_) = self.target {
                self.log.0.lock().unwrap().push((self.seqno, self.quiet));
            }
        }
    }

    impl LockManager for QuietLog {
        fn lock(&self, target: &LockTarget, mode: LockMode) -> Result<LockGuard, LockError> {
            Ok(LockGuard::new(Box::new(QuietHeld {
                target: target.clone(),
                mode,
                seqno: None,
                quiet: false,
                log: self.clone(),
            })))
        }
    }

    /// A commit of a shared VG that only adds an LV is told to the cluster lock manager as
    /// such (clvmd-rs then does not announce it over CPG); a rename or a VG change is not.
    #[test]
    fn a_commit_that_only_adds_lvs_is_noted_as_such() {
        let log = Log::default();
        let mut e = env(&log);
        {
            let ctx = Ctx { env: &e };
            setup_shared(&ctx);
        }
        let quiet = QuietLog::default();
        e.cluster = Some(Arc::new(quiet.clone()));
        let ctx = Ctx { env: &e };
        let last = || *quiet.0.lock().unwrap().last().unwrap();
        ctx.lvcreate(&LvcreateOptions {
            vg: "vg".into(),
            ..lv("a")
        })
        .unwrap();
        let (created, q) = last();
        assert!(created.is_some() && q, "lvcreate: {:?}", last());
        ctx.lvrename(&crate::ops::LvrenameOptions {
            vg: "vg".into(),
            old: "a".into(),
            new: "b".into(),
        })
        .unwrap();
        assert_eq!(last(), (created.map(|s| s + 1), false), "lvrename");
        ctx.modify("vg", false, |vg, _, _| {
            vg.tags.push("t".into());
            Ok(())
        })
        .unwrap();
        assert_eq!(last(), (created.map(|s| s + 2), false), "a VG tag");
    }

    /// A cluster lock manager whose VG lockspaces are not started.
    struct NotStarted;

    impl LockManager for NotStarted {
        fn lock(&self, target: &LockTarget, mode: LockMode) -> Result<LockGuard, LockError> {
            match target {
                LockTarget::Vg(vg) => Err(LockError::Cluster {
                    what: format!("the lock for VG {vg}"),
                    message: format!("lockspace lvm_{vg} is not started"),
                }),
                LockTarget::Global => MemLocking::new().lock(target, mode),
            }
        }
    }

    /// As lvm2: reports read a shared VG whose lockspace is not started without its lock
    /// (a warning); changes and activation are refused.
    #[test]
    fn shared_vg_without_its_lockspace_is_read_without_a_lock_but_not_changed() {
        let log = Log::default();
        let mut e = env(&log);
        {
            let ctx = Ctx { env: &e };
            setup_shared(&ctx);
        }
        e.cluster = Some(Arc::new(NotStarted));
        let ctx = Ctx { env: &e };
        let rows = ctx
            .read_vgs(None, false, |_, reads| Ok(reads.len()))
            .unwrap();
        assert_eq!(rows, 1);
        let skipped = ctx
            .read_vgs(Some(&["vg".to_string()]), false, |_, reads| {
                Ok(reads[0].lock_skipped.clone())
            })
            .unwrap();
        assert!(skipped.unwrap().contains("not started"));
        ctx.read_vg("vg", false, |_, r| -> Result<()> {
            assert_eq!(r.vg.name, "vg");
            Ok(())
        })
        .unwrap();
        let err = ctx
            .read_vg_with("vg", false, true, |_, _| -> Result<()> { Ok(()) })
            .unwrap_err();
        assert!(err.to_string().contains("not started"), "{err}");
        let err = ctx
            .lvcreate(&crate::ops::LvcreateOptions {
                vg: "vg".into(),
                ..lv("a")
            })
            .unwrap_err();
        assert!(err.to_string().contains("not started"), "{err}");
    }

    struct Hooks(Log);

    impl CommitHooks for Hooks {
        fn before_commit(&self, old: &VolumeGroup) -> Result<()> {
            self.0
                .lock()
                .unwrap()
                .push(format!("before {} seqno {}", old.name, old.seqno));
            Ok(())
        }
        fn after_commit(&self, name: &str, new: Option<&VolumeGroup>) -> Result<()> {
            let what = new.map_or("removed".to_string(), |v| format!("seqno {}", v.seqno));
            self.0.lock().unwrap().push(format!("after {name} {what}"));
            Ok(())
        }
    }

    #[test]
    fn hooks_run_around_commits_and_removals() {
        let log = Log::default();
        let mut e = env(&Log::default());
        e.hooks = Some(Arc::new(Hooks(log.clone())));
        let ctx = Ctx { env: &e };
        setup(&ctx);
        ctx.vgrename(&crate::ops::VgrenameOptions {
            old: "vg".into(),
            new: "vg2".into(),
        })
        .unwrap();
        ctx.vgremove(&crate::ops::VgremoveOptions {
            vg: "vg2".into(),
            force: false,
        })
        .unwrap();
        assert_eq!(
            *log.lock().unwrap(),
            [
                "after vg seqno 1",
                "before vg seqno 1",
                "after vg2 seqno 2",
                "before vg2 seqno 2",
                "after vg2 removed",
            ]
        );
    }

    /// How a carrying cluster lock answers [`HeldLock::carry_commit`].
    type CarryFn = Arc<dyn Fn(&CarryRequest<'_>) -> Option<Result<String, String>> + Send + Sync>;

    /// A cluster lock manager whose held locks have commits carried by `carry`.
    struct CarryLocks {
        inner: MemLocking,
        carry: CarryFn,
        log: Log,
    }

    struct CarryHeld {
        target: LockTarget,
        mode: LockMode,
        _inner: LockGuard,
        carry: CarryFn,
        log: Log,
    }

    impl HeldLock for CarryHeld {
        fn target(&self) -> &LockTarget {
            &self.target
        }
        fn mode(&self) -> LockMode {
            self.mode
        }
        fn note_committed_seqno(&mut self, seqno: u64) {
            self.log.lock().unwrap().push(format!("seqno {seqno}"));
        }
        fn note_metadata_lost(&mut self, _error: &str, _policy: Option<&str>) {
            self.log.lock().unwrap().push("lost".into());
        }
        fn carry_commit(&mut self, req: &CarryRequest<'_>) -> Option<Result<String, String>> {
            self.log.lock().unwrap().push(format!(
                "carry {} after seqno {}",
                req.vg_uuid, req.disk_seqno
            ));
            (self.carry)(req)
        }
    }

    impl LockManager for CarryLocks {
        fn lock(&self, target: &LockTarget, mode: LockMode) -> Result<LockGuard, LockError> {
            Ok(LockGuard::new(Box::new(CarryHeld {
                target: target.clone(),
                mode,
                _inner: self.inner.lock(target, mode)?,
                carry: self.carry.clone(),
                log: self.log.clone(),
            })))
        }
    }

    /// Another node's view of the same devices (their faults lifted: it still reaches them).
    fn peer_env(devs: &[MemDev]) -> Env {
        let devs: Vec<(PathBuf, MemDev)> = devs
            .iter()
            .enumerate()
            .map(|(i, d)| (PathBuf::from(format!("/mem/pv{i}")), d.clone()))
            .collect();
        let mut e = Env::with_devices(
            devs.iter().map(|d| d.0.clone()).collect(),
            Arc::new(MemLocking::new()),
        );
        e.open = Box::new(move |p: &Path| {
            devs.iter()
                .find(|d| d.0 == p)
                .map(|d| Arc::new(d.1.clone()) as Arc<dyn BlockDev>)
                .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "absent"))
        });
        e
    }

    /// A shared VG on two devices with a cluster lock manager carrying commits with `carry`.
    fn shared_carried(
        log: &Log,
        carry: impl Fn(&[MemDev], &CarryRequest<'_>) -> Option<Result<String, String>>
            + Send
            + Sync
            + 'static,
    ) -> (Env, Vec<MemDev>) {
        let (mut e, devs) = env_devs(log);
        {
            let ctx = Ctx { env: &e };
            setup(&ctx);
            ctx.modify("vg", false, |vg, _, _| {
                vg.lock_type = Some("dlm".into());
                vg.lock_args = Some("1.0.0:test".into());
                Ok(())
            })
            .unwrap();
        }
        let peer = devs.clone();
        e.cluster = Some(Arc::new(CarryLocks {
            inner: MemLocking::new(),
            carry: Arc::new(move |req: &CarryRequest<'_>| carry(&peer, req)),
            log: log.clone(),
        }));
        (e, devs)
    }

    /// Issue 15, beyond VxVM: a commit that writes no copy from here is handed, with the
    /// seqno it follows and the VG UUID, to the cluster lock, which has a peer write exactly
    /// that text; the command then succeeds and its lock carries the new seqno.
    #[test]
    fn a_commit_no_copy_of_which_is_written_here_is_carried_by_a_peer() {
        use lvmeta_ondisk::dev::Fault;
        let log = Log::default();
        let (e, devs) = shared_carried(&log, |peer, req| {
            for d in peer {
                d.set_fault(Fault::None);
            }
            let r = Ctx {
                env: &peer_env(peer),
            }
            .write_carried("vg", req.vg_uuid, req.disk_seqno, req.text);
            Some(r.map(|_| "node2 (id 2)".into()).map_err(|e| e.to_string()))
        });
        let ctx = Ctx { env: &e };
        let (before, uuid) = ctx
            .read_vgs(Some(&["vg".to_string()]), false, |_, r| {
                Ok((r[0].vg.seqno, r[0].vg.id.clone()))
            })
            .unwrap();
        for d in &devs {
            d.set_fault(Fault::FailAfter { ok: 0 });
        }
        log.lock().unwrap().clear();
        ctx.lvcreate(&crate::ops::LvcreateOptions {
            vg: "vg".into(),
            ..lv("a")
        })
        .expect("carried");
        // The local lock's own entries aside.
        let got: Vec<String> = log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| !l.starts_with("local "))
            .cloned()
            .collect();
        assert_eq!(
            got,
            [
                format!("carry {uuid} after seqno {before}"),
                format!("seqno {}", before + 1)
            ],
        );
        let (after, lvs) = ctx
            .read_vgs(Some(&["vg".to_string()]), false, |_, r| {
                Ok((
                    r[0].vg.seqno,
                    r[0].vg
                        .lvs
                        .iter()
                        .map(|l| l.name.clone())
                        .collect::<Vec<_>>(),
                ))
            })
            .unwrap();
        assert_eq!(after, before + 1);
        assert!(lvs.contains(&"a".to_string()), "{lvs:?}");
    }

    /// Not carried (the peer refused, or none answered): the command fails with the no-copy
    /// error, the VG is unchanged, and the lock is not told again (its manager applied the
    /// policy when it could not have the commit carried).
    #[test]
    fn a_commit_not_carried_fails_as_before() {
        use lvmeta_ondisk::dev::Fault;
        let log = Log::default();
        let (e, devs) = shared_carried(&log, |_, _| Some(Err("node 2: seqno 9 on disk".into())));
        let ctx = Ctx { env: &e };
        let seqno = || {
            ctx.read_vgs(Some(&["vg".to_string()]), false, |_, r| Ok(r[0].vg.seqno))
                .unwrap()
        };
        let before = seqno();
        for d in &devs {
            d.set_fault(Fault::FailAfter { ok: 0 });
        }
        log.lock().unwrap().clear();
        let err = ctx
            .lvcreate(&crate::ops::LvcreateOptions {
                vg: "vg".into(),
                ..lv("a")
            })
            .unwrap_err();
        assert!(matches!(err, OpError::NoMetadataCopy { .. }), "{err}");
        let got: Vec<String> = log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| !l.starts_with("local "))
            .cloned()
            .collect();
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("carry "), "{got:?}");
        for d in &devs {
            d.set_fault(Fault::None);
        }
        assert_eq!(seqno(), before);
    }

    /// The carrier writes only the VG it is told at the seqno it is told, and only that VG's
    /// next commit: anything else is refused and nothing is written.
    #[test]
    fn a_carried_commit_is_refused_unless_it_follows_what_is_on_disk() {
        let log = Log::default();
        let (e, _devs) = env_devs(&log);
        let ctx = Ctx { env: &e };
        setup(&ctx);
        let read = || {
            ctx.read_vgs(Some(&["vg".to_string()]), false, |_, r| Ok(r[0].vg.clone()))
                .unwrap()
        };
        let vg = read();
        let mut next = vg.clone();
        next.seqno += 1;
        next.tags.push("carried".into());
        let text = metadata_text(&next, "peer", 0, 0);
        let refused = |r: Result<u64>| match r {
            Err(OpError::CarryRefused { why, .. }) => why,
            r => panic!("expected a refusal, got {r:?}"),
        };
        let w = |uuid: &str, seqno: u64, text: &str| ctx.write_carried("vg", uuid, seqno, text);
        // Another seqno on disk than the command read.
        let why = refused(w(&vg.id, vg.seqno - 1, &metadata_text(&vg, "peer", 0, 0)));
        assert!(why.contains(&format!("at seqno {}", vg.seqno)), "{why}");
        // Another VG's UUID.
        let other = "A".repeat(6) + "-AAAA-AAAA-AAAA-AAAA-AAAA-" + &"A".repeat(6);
        let why = refused(w(&other, vg.seqno, &text));
        assert!(why.contains(&other), "{why}");
        // A text that is not the next commit, or not metadata.
        assert!(refused(w(&vg.id, vg.seqno, &metadata_text(&vg, "peer", 0, 0))).contains("seqno"));
        assert!(w(&vg.id, vg.seqno, "garbage").is_err());
        assert_eq!(read(), vg, "nothing written");
        assert_eq!(w(&vg.id, vg.seqno, &text).unwrap(), vg.seqno + 1);
        let now = read();
        assert_eq!(now.seqno, vg.seqno + 1);
        assert!(now.tags.contains(&"carried".to_string()));
    }
}
