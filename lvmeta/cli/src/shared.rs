//! Shared VGs through clvmd-rs: `vgcreate --shared`, `vgchange --lockstart|--lockstop`,
//! `vgchange --locktype dlm|none`. The lock daemon's client sits here, above the library.

use clap::ArgMatches;
use clvmd_client::{socket_path, Client};
use lvmeta::ops::shared::dlm_lock_args;
use lvmeta::ops::Ctx;

use crate::{CliError, Outcome};

/// The DLM cluster this node is in, as clvmd-rs reads it from dlm_controld.
pub(crate) fn cluster_name() -> Result<String, CliError> {
    client()?.status()?.cluster_name.ok_or_else(|| {
        CliError::Usage(
            "no DLM cluster: clvmd-rs finds no /sys/kernel/config/dlm/cluster/cluster_name; \
             is dlm_controld running?"
                .into(),
        )
    })
}

fn client() -> Result<Client, CliError> {
    Ok(Client::connect(
        &socket_path(),
        &format!("lvmeta pid {}", std::process::id()),
    )?)
}

/// Starts the VG's lockspace on this node (lvm2 prints nothing for a local VG).
pub(crate) fn lockstart(ctx: &Ctx, vg: &str, m: Option<&ArgMatches>) -> Result<String, CliError> {
    let info = ctx.vg_lock_info(vg)?;
    if info.clustered && !info.is_dlm() {
        return Err(CliError::Usage(format!(
            "VG {vg} is CLUSTERED (made by lvm 2.02's clvmd); convert it with \
             lvmeta vgchange --locktype dlm {vg}"
        )));
    }
    if !info.is_dlm() {
        return Ok(String::new());
    }
    // Uniform shared storage (VxVM/CVM): a node that cannot see every PV of a shared VG does
    // not join it, unless partial or degraded activation is asked for.
    let allowed = m
        .and_then(|m| m.try_get_one::<String>("activationmode").ok().flatten())
        .is_some_and(|a| a == "partial" || a == "degraded");
    if !info.missing.is_empty() && !allowed {
        let list: Vec<String> = info
            .missing
            .iter()
            .map(|(uuid, dev)| format!("PV {uuid} (last seen on {dev})"))
            .collect();
        return Err(CliError::NotUniform(format!(
            "Refusing to start locking for shared VG {vg}: this node cannot see {}; every node \
             of a shared VG must see all its PVs (use --activationmode partial or degraded to \
             join anyway)",
            list.join(", ")
        )));
    }
    let args = info.lock_args.unwrap_or_default();
    if !ctx.env.test_mode {
        client()?.lock_start(vg, &args)?;
    }
    Ok(format!("Starting locking for VG {vg}"))
}

/// VxVM's default activation mode (`/etc/default/vxdg`): halvm.toml's
/// `activation.default_mode`, applied when this node joins the shared VG (its lock start).
fn default_mode(
    ctx: &Ctx,
    config: &halvm_config::Config,
    vg: &str,
) -> Result<Vec<String>, CliError> {
    let mode = config.activation.default_mode;
    if mode == halvm_config::ActivationMode::Off {
        return Ok(Vec::new());
    }
    let kernel = crate::activation::kernel(ctx)?;
    let opts = lvmeta::activation::ActivateOptions {
        volume_list: ctx.env.volume_list.clone(),
        mirror_handle_errors: true,
        ..Default::default()
    };
    Ok(ctx.change_vg_mode(kernel, vg, mode, &opts)?)
}

/// `config`: the halvm.toml the command's environment was built from.
pub(crate) fn vgchange(
    ctx: &Ctx,
    config: &halvm_config::Config,
    m: &ArgMatches,
) -> Result<Outcome, CliError> {
    // -S may stand for the VG elsewhere; the lock commands name theirs.
    let vg = m.get_one::<String>("vg").ok_or_else(|| {
        CliError::Usage("vgchange --lockstart, --lockstop and --locktype take a VG name".into())
    })?;
    let mut lines = Vec::new();
    if let Some(t) = m.get_one::<String>("locktype") {
        let to = match t.as_str() {
            "dlm" => Some(dlm_lock_args(&cluster_name()?)),
            "none" => None,
            other => {
                return Err(CliError::Usage(format!(
                    "unsupported lock type {other} (dlm or none)"
                )))
            }
        };
        ctx.vgchange_locktype(&lvmeta::ops::VgLockTypeOptions {
            vg: vg.clone(),
            dlm_lock_args: to.clone(),
        })?;
        lines.push(format!(
            "Volume group \"{vg}\" lock type changed to {}",
            if to.is_some() { "dlm" } else { "none" }
        ));
    }
    if m.get_flag("lockstart") {
        let l = lockstart(ctx, vg, Some(m))?;
        if !l.is_empty() {
            lines.push(l);
            lines.extend(default_mode(ctx, config, vg)?);
        }
    }
    if m.get_flag("lockstop") && !ctx.env.test_mode {
        client()?.lock_stop(vg, false)?;
    }
    Ok(Outcome {
        stdout: lines.into_iter().map(|l| format!("  {l}\n")).collect(),
        stderr: String::new(),
        failed: false,
    })
}
