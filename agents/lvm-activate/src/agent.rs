//! The agent: reads a snapshot through the traits, asks [`crate::plan`] what to do, does it,
//! and verifies the result.

use halvm_ocf::{ActionName, Agent, AgentDefinition, Ctx, OcfError, Status};

use crate::backend::{Activation, BackendError, VolumeBackend};
use crate::config::{AccessMode, Config, StopConfig};
use crate::error::ActivateError;
use crate::marker::StartMarker;
use crate::membership::Membership;
use crate::model::{LocalNode, Snapshot};
use crate::plan::{self, MonitorState, Step};

pub struct LvmActivate<B, M, K> {
    pub backend: B,
    pub membership: M,
    pub marker: K,
}

impl<B: VolumeBackend, M: Membership, K: StartMarker> LvmActivate<B, M, K> {
    pub fn new(backend: B, membership: M, marker: K) -> Self {
        LvmActivate {
            backend,
            membership,
            marker,
        }
    }

    fn snapshot(
        &mut self,
        ctx: &Ctx,
        vg: &str,
        access: Option<AccessMode>,
        with_nodes: bool,
    ) -> Result<Snapshot, ActivateError> {
        let vg_state = self.backend.read_vg(vg)?;
        let active = self.backend.active_lvs(vg)?;
        let system_id = match access {
            Some(AccessMode::SystemId) => self.backend.local_system_id()?,
            _ => None,
        };
        let name = match access {
            Some(AccessMode::Tagging) => match self.membership.local_node_name() {
                Ok(n) => Some(n),
                Err(e) => {
                    ctx.log.warn(&format!("cannot tell this node's name: {e}"));
                    None
                }
            },
            _ => None,
        };
        let nodes = if with_nodes {
            match self.membership.nodes() {
                Ok(n) => Some(n),
                Err(e) => {
                    ctx.log
                        .warn(&format!("cannot read the cluster membership: {e}"));
                    None
                }
            }
        } else {
            None
        };
        // Start and stop talk to the lock daemon; monitor judges the devices only (a hung
        // daemon must not hang the monitor, and a probe before the daemon runs is a 7).
        let lock = match access {
            Some(a) if a.is_cluster() && ctx.action != ActionName::Monitor => {
                Some(self.backend.lock_daemon(vg)?)
            }
            _ => None,
        };
        Ok(Snapshot {
            vg: vg_state,
            active,
            local: LocalNode { name, system_id },
            nodes,
            started: self.marker.is_set(&ctx.env.log.rsctmp, ctx.instance()),
            lock,
            by_pacemaker: ctx.env.from_pacemaker(),
        })
    }

    fn execute(&mut self, ctx: &Ctx, vg: &str, steps: &[Step]) -> Result<(), ActivateError> {
        let mut i = 0;
        while i < steps.len() {
            // Runs of activations alike, and of deactivations, go to the backend in one
            // call (one read of the VG instead of one per LV).
            let run = |pick: &dyn Fn(&Step) -> Option<String>| -> Vec<String> {
                steps[i..].iter().map_while(pick).collect()
            };
            match &steps[i] {
                Step::Activate { mode, lock, .. } => {
                    let (mode, lock) = (*mode, *lock);
                    let lvs = run(&|s| match s {
                        Step::Activate {
                            lv,
                            mode: m,
                            lock: l,
                        } if (*m, *l) == (mode, lock) => Some(lv.clone()),
                        _ => None,
                    });
                    let under = lock
                        .map(|l| format!(" under {l:?} LV locks"))
                        .unwrap_or_default();
                    ctx.log.info(&format!(
                        "{vg}: activate {mode:?}{under}: {}",
                        lvs.join(" ")
                    ));
                    self.backend.activate_all(&Activation {
                        vg,
                        lvs: &lvs,
                        mode,
                        lock,
                    })?;
                    i += lvs.len();
                    continue;
                }
                Step::Deactivate { .. } => {
                    let lvs = run(&|s| match s {
                        Step::Deactivate { lv } => Some(lv.clone()),
                        _ => None,
                    });
                    ctx.log
                        .info(&format!("{vg}: deactivate: {}", lvs.join(" ")));
                    self.backend.deactivate_all(vg, &lvs)?;
                    i += lvs.len();
                    continue;
                }
                _ => {}
            }
            let step = &steps[i];
            i += 1;
            ctx.log.info(&format!("{vg}: {step:?}"));
            match step {
                Step::SetSystemId { to, majority, .. } => {
                    self.backend.set_system_id(vg, to, *majority)?
                }
                Step::AddTag(t) => self.backend.add_tag(vg, t)?,
                Step::DelTag(t) => self.backend.del_tag(vg, t)?,
                Step::LockStart => self.backend.lock_start(vg)?,
                Step::LockStop => {
                    if let Some(why) = self.backend.lock_stop(vg)? {
                        ctx.log
                            .info(&format!("{vg}: lockspace left started: {why}"));
                    }
                }
                Step::Activate { .. } | Step::Deactivate { .. } => {
                    unreachable!("handled as runs above")
                }
                Step::MarkStarted => self
                    .marker
                    .set(&ctx.env.log.rsctmp, ctx.instance())
                    .map_err(|e| marker_error(vg, "set", e))?,
                Step::ClearStarted => self
                    .marker
                    .clear(&ctx.env.log.rsctmp, ctx.instance())
                    .map_err(|e| marker_error(vg, "clear", e))?,
            }
        }
        Ok(())
    }

    fn start_inner(&mut self, ctx: &Ctx, cfg: &Config) -> Result<(), ActivateError> {
        if cfg.access == AccessMode::Tagging {
            // As resource-agents: the VG's tag passes lvm.conf's volume_list, which on a
            // tagging node keeps the VG from being activated by anything else.
            self.backend
                .override_volume_list(Some(vec![format!("@{}", cfg.tag)]));
        }
        let mut snap = self.snapshot(ctx, &cfg.vg, Some(cfg.access), false)?;
        // The membership is read only when an owner must be judged.
        let plan = match plan::plan_start(cfg, &snap) {
            Err(ActivateError::MembershipUnknown { .. }) => {
                snap = self.snapshot(ctx, &cfg.vg, Some(cfg.access), true)?;
                plan::plan_start(cfg, &snap)?
            }
            other => other?,
        };
        for n in &plan.notes {
            ctx.log.warn(n);
        }
        for n in &plan.info {
            ctx.log.info(n);
        }
        self.execute(ctx, &cfg.vg, &plan.steps)?;
        // Trust the devices, not the commands (the anchor returns 0 when nothing happened).
        let after = self.snapshot(ctx, &cfg.vg, Some(cfg.access), false)?;
        let vg = after
            .vg
            .as_ref()
            .ok_or_else(|| ActivateError::VgVanished { vg: cfg.vg.clone() })?;
        let wanted: Vec<String> = match &cfg.lv {
            Some(lv) => vec![lv.clone()],
            None => vg.lvs.iter().map(|l| l.name.clone()).collect(),
        };
        let missing: Vec<String> = wanted.into_iter().filter(|l| !after.is_active(l)).collect();
        if !missing.is_empty() {
            return Err(ActivateError::ActivationIneffective {
                vg: cfg.vg.clone(),
                lvs: missing,
            });
        }
        plan::assess(cfg, &after, false, 0)?;
        ctx.log.info(&format!("{}: activated", cfg.vg));
        Ok(())
    }

    fn stop_inner(&mut self, ctx: &Ctx, cfg: &StopConfig) -> Result<(), ActivateError> {
        let Some(vg) = cfg.vg.clone() else {
            let plan = plan::plan_stop(cfg, &empty_snapshot())?;
            for n in &plan.notes {
                ctx.log.warn(n);
            }
            return self.execute(ctx, "-", &plan.steps);
        };
        let snap = self.snapshot(ctx, &vg, cfg.access, false)?;
        let plan = plan::plan_stop(cfg, &snap)?;
        for n in &plan.notes {
            ctx.log.warn(n);
        }
        for n in &plan.info {
            ctx.log.info(n);
        }
        self.execute(ctx, &vg, &plan.steps)?;
        let left: Vec<String> = self
            .backend
            .active_lvs(&vg)?
            .into_iter()
            .map(|a| a.name)
            .filter(|n| cfg.lv.as_ref().is_none_or(|lv| lv == n))
            .collect();
        if !left.is_empty() {
            return Err(ActivateError::Backend(BackendError::Io {
                op: "deactivate".into(),
                vg,
                lv: None,
                detail: format!("still active: {}", left.join(", ")),
            }));
        }
        Ok(())
    }

    fn monitor_inner(&mut self, ctx: &Ctx, cfg: &Config) -> Result<Status, ActivateError> {
        let snap = self.snapshot(ctx, &cfg.vg, Some(cfg.access), false)?;
        let verdict = plan::assess(cfg, &snap, ctx.is_probe(), ctx.check_level())?;
        for n in &verdict.notes {
            ctx.log.info(n);
        }
        // A suspended LV of a shared VG may be the lock daemon's quorum fence: frozen for
        // good once stranded, which is a failure here (asked before any read: a read of a
        // suspended device would hang the monitor). An active one may be in a VG this node
        // left after losing its metadata (policy.dg_failure = leave): a failure too, so
        // Pacemaker moves the resource.
        if cfg.access.is_cluster() && !snap.active.is_empty() {
            if let Some(why) = self.backend.io_stopped(&cfg.vg)? {
                return Err(ActivateError::IoStopped {
                    vg: cfg.vg.clone(),
                    why,
                });
            }
        }
        for (lv, sector) in &verdict.reads {
            self.backend.read_block(&cfg.vg, lv, *sector).map_err(|e| {
                ActivateError::ReadFailed {
                    vg: cfg.vg.clone(),
                    lv: lv.clone(),
                    sector: *sector,
                    detail: e.to_string(),
                }
            })?;
        }
        Ok(match verdict.state {
            MonitorState::Running => Status::Running,
            MonitorState::NotRunning => Status::NotRunning,
            MonitorState::Degraded => Status::Degraded,
        })
    }
}

fn empty_snapshot() -> Snapshot {
    Snapshot {
        vg: None,
        active: vec![],
        local: LocalNode::default(),
        nodes: None,
        started: false,
        lock: None,
        by_pacemaker: false,
    }
}

fn marker_error(vg: &str, op: &str, e: std::io::Error) -> ActivateError {
    ActivateError::Backend(BackendError::Io {
        op: format!("{op} start marker"),
        vg: vg.to_string(),
        lv: None,
        detail: e.to_string(),
    })
}

fn config(ctx: &Ctx) -> Result<Config, OcfError> {
    let (cfg, warnings) = Config::from_params(&ctx.params)?;
    for w in warnings {
        ctx.log.warn(&w);
    }
    Ok(cfg)
}

impl<B: VolumeBackend, M: Membership, K: StartMarker> Agent for LvmActivate<B, M, K> {
    fn definition(&self) -> &'static AgentDefinition {
        &crate::definition::DEFINITION
    }

    /// Parameters and their combinations only: validate-all is also what `pcs resource
    /// create` runs, on a node that need not see the VG.
    fn validate_all(&mut self, ctx: &Ctx) -> Result<(), OcfError> {
        config(ctx).map(|_| ())
    }

    fn start(&mut self, ctx: &Ctx) -> Result<(), OcfError> {
        let cfg = config(ctx)?;
        Ok(self.start_inner(ctx, &cfg)?)
    }

    fn stop(&mut self, ctx: &Ctx) -> Result<(), OcfError> {
        let cfg = match Config::from_params(&ctx.params) {
            Ok((c, _)) => StopConfig::from(&c),
            Err(e) => {
                ctx.log
                    .warn(&format!("stopping with an invalid configuration: {e}"));
                StopConfig::from_params(&ctx.params)
            }
        };
        Ok(self.stop_inner(ctx, &cfg)?)
    }

    fn monitor(&mut self, ctx: &Ctx) -> Result<Status, OcfError> {
        let cfg = config(ctx)?;
        Ok(self.monitor_inner(ctx, &cfg)?)
    }
}
