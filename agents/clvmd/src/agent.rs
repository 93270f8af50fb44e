//! The agent: observes the daemon through [`DaemonControl`], decides with [`crate::plan`],
//! acts, and checks the result.

use halvm_ocf::{Agent, AgentDefinition, Ctx, OcfError, Status};

use crate::control::DaemonControl;
use crate::plan::{self, ClvmdError, Config, Observed};

/// Pauses (of the control's poll interval, 200 ms for the real one) a start waits for the
/// socket to answer, and a stop for the daemon to exit: 30 s, within the 90 s timeouts.
pub const WAIT_PAUSES: u32 = 150;

pub struct Clvmd<C> {
    pub control: C,
}

impl<C: DaemonControl> Clvmd<C> {
    pub fn new(control: C) -> Self {
        Clvmd { control }
    }

    /// heartbeat's check_binary of the daemon (exit 5 when missing).
    fn check_installed(&mut self, cfg: &Config) -> Result<(), ClvmdError> {
        self.control
            .check_binary(&cfg.daemon)
            .map_err(|detail| ClvmdError::NotInstalled {
                path: cfg.daemon.display().to_string(),
                detail,
            })
    }

    fn wait_until(&mut self, cfg: &Config, done: impl Fn(&Observed) -> bool) -> Observed {
        let mut o = self.control.observe(cfg);
        for _ in 0..WAIT_PAUSES {
            if done(&o) {
                break;
            }
            self.control.pause();
            o = self.control.observe(cfg);
        }
        o
    }

    fn start_inner(&mut self, ctx: &Ctx, cfg: &Config) -> Result<(), ClvmdError> {
        let o = self.control.observe(cfg);
        if plan::assess(&o)? {
            ctx.log.info("clvmd-rs is running already");
            return Ok(());
        }
        self.check_installed(cfg)?;
        let cluster = self
            .control
            .dlm_cluster()
            .map_err(|detail| ClvmdError::NoDlm { detail })?;
        ctx.log.info(&format!(
            "starting {} in DLM cluster {cluster}",
            cfg.daemon.display()
        ));
        self.control
            .spawn(cfg)
            .map_err(|detail| ClvmdError::StartFailed { detail })?;
        let o = self.wait_until(cfg, |o| o.status.is_some());
        match &o.status {
            Some(s) => {
                if !s.quorate {
                    ctx.log.warn(&format!(
                        "clvmd-rs on {} is not quorate yet: metadata changes wait for quorum",
                        s.node
                    ));
                }
                Ok(())
            }
            None => Err(ClvmdError::StartFailed {
                detail: format!(
                    "the socket {} does not answer: {}",
                    cfg.socket.display(),
                    o.no_answer.unwrap_or_default()
                ),
            }),
        }
    }

    fn stop_inner(&mut self, ctx: &Ctx, cfg: &Config) -> Result<(), ClvmdError> {
        let o = self.control.observe(cfg);
        let p = plan::plan_stop(&o)?;
        for vg in &p.lockstop {
            ctx.log.info(&format!("stopping the lockspace of VG {vg}"));
            self.control
                .lock_stop(cfg, vg)
                .map_err(|detail| ClvmdError::StopFailed { detail })?;
        }
        if let Some(pid) = p.terminate {
            ctx.log.info(&format!("stopping clvmd-rs (pid {pid})"));
            self.control
                .terminate(pid)
                .map_err(|detail| ClvmdError::StopFailed { detail })?;
        }
        let mut o = self.wait_until(cfg, |o| o.status.is_none() && o.pid.is_none());
        if let Some(pid) = p.terminate {
            for _ in 0..WAIT_PAUSES {
                if !self.control.is_alive(pid) {
                    break;
                }
                self.control.pause();
            }
            if self.control.is_alive(pid) {
                o.pid = Some(pid);
            }
        }
        match (o.status.is_some(), o.pid) {
            (false, None) => Ok(()),
            (_, Some(pid)) => Err(ClvmdError::StopFailed {
                detail: format!("pid {pid} is still running after SIGTERM"),
            }),
            (true, None) => Err(ClvmdError::StopFailed {
                detail: format!(
                    "a daemon answers on {} but the pid file {} names no live process",
                    cfg.socket.display(),
                    cfg.pidfile.display()
                ),
            }),
        }
    }
}

fn config(ctx: &Ctx) -> Result<Config, OcfError> {
    Config::from_params(&ctx.params)
}

impl<C: DaemonControl> Agent for Clvmd<C> {
    fn definition(&self) -> &'static AgentDefinition {
        &crate::definition::DEFINITION
    }

    /// The parameters and the installed binary (heartbeat's check_binary: exit 5).
    fn validate_all(&mut self, ctx: &Ctx) -> Result<(), OcfError> {
        let cfg = config(ctx)?;
        self.check_installed(&cfg)?;
        Ok(())
    }

    fn start(&mut self, ctx: &Ctx) -> Result<(), OcfError> {
        let cfg = config(ctx)?;
        Ok(self.start_inner(ctx, &cfg)?)
    }

    fn stop(&mut self, ctx: &Ctx) -> Result<(), OcfError> {
        let cfg = match config(ctx) {
            Ok(c) => c,
            // Nothing this configuration could have started.
            Err(e) => {
                ctx.log
                    .warn(&format!("stopping with an invalid configuration: {e}"));
                return Ok(());
            }
        };
        Ok(self.stop_inner(ctx, &cfg)?)
    }

    fn monitor(&mut self, ctx: &Ctx) -> Result<Status, OcfError> {
        let cfg = config(ctx)?;
        let o = self.control.observe(&cfg);
        Ok(if plan::assess(&o)? {
            Status::Running
        } else {
            Status::NotRunning
        })
    }
}
