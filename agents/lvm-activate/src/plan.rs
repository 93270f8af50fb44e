//! The start/stop/monitor decisions: a pure function of the configuration and a
//! [`Snapshot`], producing a plan of steps (or a refusal) and, for monitor, a verdict plus
//! the block reads the requested depth needs.
//!
//! system_id and tagging guard a local VG by ownership written into its metadata; lvmlockd
//! and clvmd guard a shared VG (`lock_type = "dlm"`) by the cluster lock daemon's LV locks:
//! start lock-starts the VG's lockspace and activates with an exclusive (-aey) or shared
//! (-asy) LV lock, stop deactivates (which releases the LV locks) and lock-stops the VG once
//! none of its LVs is active here, as resource-agents' LVM-activate does.

use std::collections::BTreeSet;

use crate::config::{AccessMode, Config, Sharing, StopConfig};
use crate::error::ActivateError;
use crate::model::{DmState, Health, LockDaemon, Snapshot, VgState};

/// The system ID stop leaves on a released VG: no host has it as its own, so stock lvm2
/// treats the VG as foreign (no autoactivation anywhere) while our start may claim it.
pub const RELEASED_SYSTEM_ID: &str = "halvm-released";

/// How an LV is activated with respect to missing PVs: lvmeta-activate's mode (an I/O-free
/// crate, like this planner).
pub use lvmeta_activate::ActivationMode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Writes the VG's system ID; `majority` allows it with a majority of PVs present.
    SetSystemId {
        from: Option<String>,
        to: String,
        majority: bool,
    },
    AddTag(String),
    DelTag(String),
    /// Activates an LV as missing PVs allow (`mode`); `lock`: a shared VG's LV under its cluster
    /// LV lock (`Exclusive` -aey, `Shared` -asy, or a VxVM mode), `None` in a local VG.
    Activate {
        lv: String,
        mode: ActivationMode,
        lock: Option<Sharing>,
    },
    Deactivate {
        lv: String,
    },
    /// Starts the shared VG's lockspace on this node (vgchange --lockstart).
    LockStart,
    /// Stops the shared VG's lockspace on this node (vgchange --lockstop).
    LockStop,
    MarkStarted,
    ClearStarted,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Things worth a warning in the log.
    pub notes: Vec<String>,
    /// The normal course explained, for the log at info level (an admin grepping for
    /// warnings must not find the everyday case).
    pub info: Vec<String>,
}

/// Monitor's findings before any block is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub state: MonitorState,
    /// Block reads the check level asks for: (LV, sector).
    pub reads: Vec<(String, u64)>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorState {
    Running,
    NotRunning,
    /// Running with redundancy lost (OCF_DEGRADED, 190).
    Degraded,
}

/// The LVs a configuration manages in a VG.
fn targets(lv: &Option<String>, vg: &VgState) -> Vec<String> {
    match lv {
        Some(lv) => vec![lv.clone()],
        None => vg.lvs.iter().map(|l| l.name.clone()).collect(),
    }
}

/// Checks that the VG is what the configuration says (exit 6 when not).
pub fn check_vg_shape(cfg: &Config, vg: &VgState) -> Result<(), ActivateError> {
    let mismatch = |found: String| ActivateError::AccessModeMismatch {
        vg: cfg.vg.clone(),
        configured: cfg.access.as_str().to_string(),
        found,
    };
    let lock_type = vg
        .lock_type
        .as_deref()
        .filter(|l| !l.is_empty() && *l != "none");
    match (cfg.access.is_cluster(), lock_type) {
        (true, Some("dlm")) => {}
        // lvm 2.02's clvmd is gone from lvm2 2.03 and from this stack: the VG must be
        // converted, which also clears the flag.
        (true, None) if vg.clustered => {
            return Err(ActivateError::ClusteredVg { vg: cfg.vg.clone() })
        }
        (true, Some(lt)) => {
            return Err(mismatch(format!(
                "lock_type {lt}, which the halvm lock daemon does not serve (dlm only)"
            )))
        }
        (true, None) => {
            return Err(mismatch(format!(
                "no lock_type (a local VG: use system_id or tagging, or make it shared with lvmeta vgchange --locktype dlm {})",
                cfg.vg
            )))
        }
        (false, Some(lt)) => return Err(mismatch(format!("lock_type {lt} (a shared VG)"))),
        (false, None) if vg.clustered => {
            return Err(mismatch("the clustered flag (a clvmd VG)".to_string()))
        }
        (false, None) => {}
    }
    if vg.lvs.is_empty() {
        return Err(ActivateError::NoLogicalVolumes { vg: cfg.vg.clone() });
    }
    if let Some(lv) = &cfg.lv {
        if vg.lv(lv).is_none() {
            return Err(ActivateError::LvNotInVg {
                vg: cfg.vg.clone(),
                lv: lv.clone(),
            });
        }
    }
    Ok(())
}

/// Who owns the VG, as far as the access mode tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Nobody,
    Us,
    /// Other node names (tagging may list several after a botched takeover).
    Others(Vec<String>),
    /// A heartbeat-style bare tag with no owner named.
    Unnamed,
}

pub fn owner(access: AccessMode, tag: &str, vg: &VgState, snap: &Snapshot) -> Owner {
    match access {
        AccessMode::SystemId => match vg.system_id.as_deref() {
            None | Some(RELEASED_SYSTEM_ID) => Owner::Nobody,
            Some(id) if Some(id) == snap.local.system_id.as_deref() => Owner::Us,
            Some(id) => Owner::Others(vec![id.to_string()]),
        },
        // The LV locks say who uses a shared VG, not its metadata.
        AccessMode::Lvmlockd | AccessMode::Clvmd => Owner::Nobody,
        AccessMode::Tagging => {
            let prefix = format!("{tag}:");
            let owners: Vec<String> = vg
                .tags
                .iter()
                .filter_map(|t| t.strip_prefix(&prefix))
                .map(str::to_string)
                .collect();
            let local = snap.local.name.as_deref();
            if owners.is_empty() {
                if vg.tags.iter().any(|t| t == tag) {
                    Owner::Unnamed
                } else {
                    Owner::Nobody
                }
            } else if owners.iter().all(|o| Some(o.as_str()) == local) {
                Owner::Us
            } else {
                Owner::Others(
                    owners
                        .into_iter()
                        .filter(|o| Some(o.as_str()) != local)
                        .collect(),
                )
            }
        }
    }
}

/// Taking the VG over from `others`: refused unless they are all cluster nodes. A live member
/// is taken over only when Pacemaker's controller runs the start: it starts an exclusive
/// resource on a node only once every other node's probe or stop said it is stopped there (so
/// the owner has none of it active), as resource-agents' agent assumes; the usual case is a VG
/// made on one node (its system ID) and then put under Pacemaker, which may place it anywhere.
/// Run by hand, nobody checked the owner: refused. A dead owner was fenced first.
fn take_over(
    vg: &str,
    others: &[String],
    snap: &Snapshot,
    plan: &mut Plan,
) -> Result<(), ActivateError> {
    let (live, dead) = check_owners_known(vg, others, snap)?;
    if let (false, Some(o)) = (snap.by_pacemaker, live.first()) {
        return Err(ActivateError::OwnedByLiveNode {
            vg: vg.to_string(),
            owner: o.to_string(),
        });
    }
    let join = |v: &[&String]| v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    if !dead.is_empty() {
        plan.notes.push(format!(
            "taking {vg} over from {}, which is not a cluster member",
            join(&dead)
        ));
    }
    if !live.is_empty() {
        plan.info.push(format!(
            "taking {vg} over from {}, a cluster member where it is stopped",
            join(&live)
        ));
    }
    Ok(())
}

/// Refuses unless every named owner is a known cluster node; returns them split into the
/// live members and those out of the cluster.
fn check_owners_known<'a>(
    vg: &str,
    owners: &'a [String],
    snap: &Snapshot,
) -> Result<(Vec<&'a String>, Vec<&'a String>), ActivateError> {
    let (mut live, mut dead) = (Vec::new(), Vec::new());
    for o in owners {
        let nodes = snap
            .nodes
            .as_ref()
            .ok_or_else(|| ActivateError::MembershipUnknown {
                vg: vg.to_string(),
                owner: o.clone(),
                detail: "crm_node gave no node list".to_string(),
            })?;
        match nodes.iter().find(|n| &n.name == o) {
            Some(n) if n.member => live.push(o),
            Some(_) => dead.push(o),
            None => {
                return Err(ActivateError::ForeignOwner {
                    vg: vg.to_string(),
                    owner: o.clone(),
                })
            }
        }
    }
    Ok((live, dead))
}

/// Start: claim or take over ownership, then activate what is not active yet.
pub fn plan_start(cfg: &Config, snap: &Snapshot) -> Result<Plan, ActivateError> {
    let vg = snap
        .vg
        .as_ref()
        .ok_or_else(|| ActivateError::VgNotFound { vg: cfg.vg.clone() })?;
    check_vg_shape(cfg, vg)?;
    if cfg.access.is_cluster() {
        return plan_start_shared(cfg, vg, snap);
    }
    let mut plan = Plan::default();
    let missing = vg.missing();
    let missing_list: Vec<String> = missing.iter().map(|s| s.to_string()).collect();

    // Ownership.
    let own = owner(cfg.access, &cfg.tag, vg, snap);
    let mut ownership_steps = Vec::new();
    match cfg.access {
        AccessMode::SystemId => {
            let local = snap
                .local
                .system_id
                .clone()
                .ok_or(ActivateError::NoLocalSystemId)?;
            match &own {
                Owner::Us => {}
                Owner::Nobody => ownership_steps.push(Step::SetSystemId {
                    from: vg.system_id.clone(),
                    to: local,
                    majority: cfg.majority_pvs,
                }),
                Owner::Others(o) => {
                    take_over(&cfg.vg, o, snap, &mut plan)?;
                    ownership_steps.push(Step::SetSystemId {
                        from: vg.system_id.clone(),
                        to: local,
                        majority: cfg.majority_pvs,
                    });
                }
                Owner::Unnamed => unreachable!("system IDs always name their owner"),
            }
        }
        AccessMode::Lvmlockd | AccessMode::Clvmd => unreachable!("planned by plan_start_shared"),
        AccessMode::Tagging => {
            let local = snap
                .local
                .name
                .clone()
                .ok_or_else(|| ActivateError::NoLocalNodeName {
                    detail: "crm_node -n gave no name".to_string(),
                })?;
            let owner_tag = format!("{}:{local}", cfg.tag);
            match &own {
                Owner::Us => {}
                Owner::Nobody => {}
                Owner::Unnamed => {
                    return Err(ActivateError::UnknownTagOwner {
                        vg: cfg.vg.clone(),
                        tag: cfg.tag.clone(),
                    })
                }
                Owner::Others(o) => {
                    take_over(&cfg.vg, o, snap, &mut plan)?;
                    for other in o {
                        ownership_steps.push(Step::DelTag(format!("{}:{other}", cfg.tag)));
                    }
                }
            }
            if !vg.tags.contains(&cfg.tag) {
                ownership_steps.push(Step::AddTag(cfg.tag.clone()));
            }
            if !vg.tags.contains(&owner_tag) {
                ownership_steps.push(Step::AddTag(owner_tag));
            }
        }
    }
    if !ownership_steps.is_empty() && !missing.is_empty() {
        let present = vg.pvs.len() - missing.len();
        let allowed = match cfg.access {
            AccessMode::SystemId => cfg.majority_pvs && present * 2 > vg.pvs.len(),
            _ => cfg.partial || cfg.degraded,
        };
        if !allowed {
            let hint = match cfg.access {
                AccessMode::SystemId if !cfg.majority_pvs => Some("majority_pvs=true".to_string()),
                AccessMode::SystemId => None,
                _ => Some("partial_activation=true".to_string()),
            };
            return Err(ActivateError::MissingPvs {
                vg: cfg.vg.clone(),
                missing: missing_list,
                hint,
            });
        }
        plan.notes.push(format!(
            "changing ownership of {} with PVs missing: {}",
            cfg.vg,
            missing_list.join(", ")
        ));
    }
    plan.steps.extend(ownership_steps);
    activation_steps(cfg, vg, snap, None, &mut plan)?;
    plan.steps.push(Step::MarkStarted);
    Ok(plan)
}

/// The activation of every managed LV not active yet, with the activation mode missing PVs
/// allow; `lock`: under a cluster LV lock of that sharing (shared VGs), or none (local VGs).
fn activation_steps(
    cfg: &Config,
    vg: &VgState,
    snap: &Snapshot,
    lock: Option<Sharing>,
    plan: &mut Plan,
) -> Result<(), ActivateError> {
    let missing = vg.missing();
    for name in targets(&cfg.lv, vg) {
        let lv = vg.lv(&name).expect("targets come from the VG");
        if snap.is_active(&name) {
            // Already running: it passes if monitor would pass it (a leg lost after
            // activation is degraded, not failed; lost data needs partial_activation).
            if lv.health(&missing) == Health::Partial && !cfg.partial {
                return Err(ActivateError::LvNeedsMissingPvs {
                    vg: cfg.vg.clone(),
                    lv: name.clone(),
                    missing: lv.missing_pvs(&missing),
                    hint: Some("partial_activation=true".to_string()),
                });
            }
            continue;
        }
        let mode = match lv.health(&missing) {
            Health::Complete => ActivationMode::Complete,
            Health::Degraded if cfg.degraded => ActivationMode::Degraded,
            Health::Degraded | Health::Partial if cfg.partial => ActivationMode::Partial,
            h => {
                return Err(ActivateError::LvNeedsMissingPvs {
                    vg: cfg.vg.clone(),
                    lv: name.clone(),
                    missing: lv.missing_pvs(&missing),
                    hint: Some(
                        if h == Health::Degraded {
                            "degraded_activation=true"
                        } else {
                            "partial_activation=true"
                        }
                        .to_string(),
                    ),
                })
            }
        };
        if mode != ActivationMode::Complete {
            plan.notes.push(format!(
                "activating {}/{name} with PVs missing ({mode:?})",
                cfg.vg
            ));
        }
        plan.steps.push(Step::Activate {
            lv: name,
            mode,
            lock,
        });
    }
    Ok(())
}

/// Start on a shared VG: the lock daemon must run here; the lockspace is started unless it
/// runs, then each LV is activated under its LV lock. A lock another node holds refuses the
/// activation at once (the daemon names the holder), so nothing else is judged here.
fn plan_start_shared(cfg: &Config, vg: &VgState, snap: &Snapshot) -> Result<Plan, ActivateError> {
    let mut plan = Plan::default();
    match &snap.lock {
        Some(LockDaemon::Running { lockspace_started }) => {
            if !lockspace_started {
                plan.steps.push(Step::LockStart);
            }
        }
        Some(LockDaemon::NotConfigured) => {
            return Err(ActivateError::LockManagerNotConfigured { vg: cfg.vg.clone() })
        }
        Some(LockDaemon::NotRunning { detail }) => {
            return Err(ActivateError::LockDaemonDown {
                vg: cfg.vg.clone(),
                detail: detail.clone(),
            })
        }
        None => {
            return Err(ActivateError::LockDaemonDown {
                vg: cfg.vg.clone(),
                detail: "its state was not read".to_string(),
            })
        }
    }
    if cfg.lv.is_none() && cfg.sharing == Sharing::Shared {
        plan.notes.push(format!(
            "{}: every LV is activated shared; one resource per LV is safer (as resource-agents advises)",
            cfg.vg
        ));
    }
    activation_steps(cfg, vg, snap, Some(cfg.sharing), &mut plan)?;
    plan.steps.push(Step::MarkStarted);
    Ok(plan)
}

/// Stop: deactivate, then release ownership once no LV of the VG is active here.
pub fn plan_stop(cfg: &StopConfig, snap: &Snapshot) -> Result<Plan, ActivateError> {
    let mut plan = Plan::default();
    let Some(vgname) = &cfg.vg else {
        plan.notes
            .push("no valid vgname: nothing this resource could have activated".to_string());
        plan.steps.push(Step::ClearStarted);
        return Ok(plan);
    };
    let to_stop: Vec<String> = snap
        .active
        .iter()
        .map(|a| a.name.clone())
        .filter(|n| cfg.lv.as_ref().is_none_or(|lv| lv == n))
        .collect();
    for lv in to_stop.iter().rev() {
        plan.steps.push(Step::Deactivate { lv: lv.clone() });
    }
    let still_active = snap.active.iter().any(|a| !to_stop.contains(&a.name));
    match (&snap.vg, cfg.access) {
        (Some(vg), Some(access)) if !still_active => {
            let own = owner(access, &cfg.tag, vg, snap);
            let missing = vg.missing();
            match (access, own) {
                (AccessMode::SystemId, Owner::Us) => {
                    let present = vg.pvs.len() - missing.len();
                    let majority = cfg.majority_pvs && present * 2 > vg.pvs.len();
                    if missing.is_empty() || majority {
                        plan.steps.push(Step::SetSystemId {
                            from: vg.system_id.clone(),
                            to: RELEASED_SYSTEM_ID.to_string(),
                            majority,
                        });
                    } else {
                        plan.notes.push(format!("{vgname}: PVs missing, keeping this node's system ID (a takeover will need this node fenced)"));
                    }
                }
                (AccessMode::Lvmlockd | AccessMode::Clvmd, _) => match &snap.lock {
                    // As resource-agents: the lockspace is closed once no LV of the VG is
                    // active here (the daemon refuses while LV locks are held, which a
                    // racing start of another resource may still take: see the backend).
                    Some(LockDaemon::Running {
                        lockspace_started: true,
                    }) if vg.lock_type.as_deref() == Some("dlm") => plan.steps.push(Step::LockStop),
                    Some(LockDaemon::Running { .. }) => {}
                    _ => plan.notes.push(format!(
                        "{vgname}: the lock daemon does not answer; its lockspace, if any, stays"
                    )),
                },
                (AccessMode::Tagging, Owner::Us) => {
                    if let Some(local) = &snap.local.name {
                        plan.steps
                            .push(Step::DelTag(format!("{}:{local}", cfg.tag)));
                    }
                    if vg.tags.contains(&cfg.tag) {
                        plan.steps.push(Step::DelTag(cfg.tag.clone()));
                    }
                }
                _ => {}
            }
        }
        // The usual layout of a shared VG (an exclusive LV in a group beside a clone of
        // shared ones), or several LV resources of one local VG: nothing to warn about.
        (Some(_), access) => plan
            .info
            .push(if access.is_some_and(AccessMode::is_cluster) {
                format!("{vgname}: other LVs stay active here, so its lockspace stays")
            } else {
                format!("{vgname}: other LVs stay active here, keeping ownership")
            }),
        (None, _) if !to_stop.is_empty() => plan.notes.push(format!(
            "{vgname}: not visible, deactivating its remaining devices"
        )),
        _ => {}
    }
    plan.steps.push(Step::ClearStarted);
    Ok(plan)
}

/// Monitor (and probe): the state, or why it is an error, plus the reads `level` asks for.
pub fn assess(
    cfg: &Config,
    snap: &Snapshot,
    probe: bool,
    level: u32,
) -> Result<Verdict, ActivateError> {
    let mut notes = Vec::new();
    let vg = match &snap.vg {
        None => {
            if !snap.active.is_empty() || (snap.started && !probe) {
                return Err(ActivateError::VgVanished { vg: cfg.vg.clone() });
            }
            return Ok(Verdict {
                state: MonitorState::NotRunning,
                reads: vec![],
                notes,
            });
        }
        Some(vg) => vg,
    };
    let own = owner(cfg.access, &cfg.tag, vg, snap);
    let should_run = snap.started || own == Owner::Us;
    let wanted = targets(&cfg.lv, vg);
    let (active, inactive): (Vec<&String>, Vec<&String>) =
        wanted.iter().partition(|l| snap.is_active(l));
    if active.is_empty() {
        if should_run && !probe {
            check_vg_shape(cfg, vg)?;
            return Err(ActivateError::NotActive {
                vg: cfg.vg.clone(),
                lvs: wanted,
            });
        }
        return Ok(Verdict {
            state: MonitorState::NotRunning,
            reads: vec![],
            notes,
        });
    }
    if !inactive.is_empty() {
        return Err(ActivateError::PartiallyActive {
            vg: cfg.vg.clone(),
            inactive: inactive.into_iter().cloned().collect(),
        });
    }
    if let Owner::Others(o) = &own {
        return Err(ActivateError::OwnershipLost {
            vg: cfg.vg.clone(),
            owner: o.join(", "),
        });
    }
    let missing = vg.missing();
    let mut state = MonitorState::Running;
    for name in &wanted {
        let dm = snap
            .active
            .iter()
            .find(|a| &a.name == name)
            .map(|a| a.state);
        match dm {
            Some(DmState::Failed) => {
                return Err(ActivateError::DeviceFailed {
                    vg: cfg.vg.clone(),
                    lv: name.clone(),
                })
            }
            Some(DmState::Degraded) => state = MonitorState::Degraded,
            Some(DmState::Suspended) => notes.push(format!("{}/{name} is suspended", cfg.vg)),
            _ => {}
        }
        let lv = vg.lv(name).expect("targets come from the VG");
        match lv.health(&missing) {
            Health::Complete => {}
            Health::Degraded => state = MonitorState::Degraded,
            Health::Partial if cfg.partial => state = MonitorState::Degraded,
            Health::Partial => {
                return Err(ActivateError::LvNeedsMissingPvs {
                    vg: cfg.vg.clone(),
                    lv: name.clone(),
                    missing: lv.missing_pvs(&missing),
                    hint: Some("partial_activation=true".to_string()),
                })
            }
        }
    }
    let mut reads = Vec::new();
    if level >= 10 {
        for name in &wanted {
            let lv = vg.lv(name).expect("targets come from the VG");
            if level >= 20 {
                let starts: BTreeSet<u64> = lv.segments.iter().map(|s| s.lv_start).collect();
                reads.extend(starts.into_iter().map(|s| (name.clone(), s)));
            } else {
                reads.push((name.clone(), 0));
            }
        }
    }
    Ok(Verdict {
        state,
        reads,
        notes,
    })
}
