//! Activation commands: `lvchange -a`, `vgchange -a`, `lvconvert --splitmirrors`, and the
//! reload of an active LV after lvextend/lvreduce/lvresize. Kept apart from the metadata
//! commands; `dispatch` runs before them and passes on what is not about activation.

use super::{split_lv, usage, CliError, Outcome};
use clap::{Arg, ArgAction, ArgMatches, Command};
use halvm_config::ActivationMode as VxMode;
use lvmeta::activation::{ActivateOptions, ActivationError, Kernel};
use lvmeta::lock::LockMode;
use lvmeta::ops::Ctx;
use lvmeta_activate::ActivationMode;

fn activate_arg() -> Arg {
    Arg::new("activate")
        .short('a')
        .long("activate")
        .value_name("y|n|ey|sy")
        .value_parser(["y", "n", "ey", "sy", "ly"])
        .help("Activate (y; ey exclusive, sy shared, ly local: the same on a local VG) or deactivate (n) through device-mapper, with the devices, names and tables lvm2 uses. On a shared VG the LV's lock is taken through clvmd-rs first (y, ey, ly: exclusive; sy: shared) and held after the command; a refusal names the node holding it")
}

/// vgchange's -a: lvm's values plus VxVM's activation modes of a shared VG.
fn vg_activate_arg() -> Arg {
    Arg::new("activate")
        .short('a')
        .long("activate")
        .value_name("y|n|ey|sy|ew|ro|sr|sw")
        .value_parser([
            "y",
            "n",
            "ey",
            "sy",
            "ly",
            "ew",
            "ro",
            "sr",
            "sw",
            "exclusive-write",
            "read-only",
            "shared-read",
            "shared-write",
        ])
        .help("Activate (y; ey exclusive, sy shared, ly local: the same on a local VG) or deactivate (n) every LV through device-mapper, as lvm2. On a shared VG also VxVM's activation modes, held by clvmd-rs on a per-VG DLM lock whose compatibility is VxVM's table (sr = CR, sw = CW, ro = PR, ew = PW): ew (exclusive-write), ro (read-only), sr (shared-read), sw (shared-write); a conflicting mode held elsewhere refuses, naming the node; ro and sr load read-only tables; LV locks follow the mode (ew PW, ro and sw PR, sr CR), so a stock lvmlockd node's -aey is refused beside any mode and its -asy beside ew; n deactivates and releases the mode")
}

fn vx_mode(m: &ArgMatches) -> Option<VxMode> {
    match m.get_one::<String>("activate").map(String::as_str)? {
        "ew" | "exclusive-write" => Some(VxMode::ExclusiveWrite),
        "ro" | "read-only" => Some(VxMode::ReadOnly),
        "sr" | "shared-read" => Some(VxMode::SharedRead),
        "sw" | "shared-write" => Some(VxMode::SharedWrite),
        _ => None,
    }
}

/// Whether the VG holds an activation mode here (it is released by -an).
fn is_shared(ctx: &Ctx, vg: &str) -> bool {
    // A hint without a lock: it only picks the path, which takes the VG's locks and reads
    // the VG again under them.
    ctx.env.cluster.is_some()
        && ctx
            .peek_vg(vg)
            .is_ok_and(|(_, r)| r.vg.lock_type.as_deref() == Some("dlm"))
}

fn mode_arg() -> Arg {
    Arg::new("activationmode")
        .long("activationmode")
        .value_name("complete|degraded|partial")
        .value_parser(["complete", "degraded", "partial"])
        .help("With missing PVs: complete refuses (naming the PV), degraded allows raid1 LVs with missing images, partial maps every missing area to an error target")
}

fn monitor_arg() -> Arg {
    Arg::new("monitor")
        .long("monitor")
        .value_name("y|n")
        .value_parser(["y", "n"])
        .default_value("y")
        .help("As lvm2: y (its default) loads dm-mirror tables with handle_errors for a monitor to repair failed legs; n leaves it out")
}

fn volume_list_arg() -> Arg {
    Arg::new("volume-list")
        .long("volume-list")
        .value_name("VG|VG/LV|@TAG,...")
        .env("HALVM_VOLUME_LIST")
        .help("Only activate LVs matching one entry, like lvm.conf activation/volume_list (comma separated); default: activation.volume_list of halvm.toml")
}

/// vgchange (its other options given) with the activation options.
pub(crate) fn vgchange_args(c: Command) -> Command {
    c.arg(vg_activate_arg())
        .arg(mode_arg())
        .arg(monitor_arg())
        .arg(volume_list_arg())
}

pub(crate) fn lvchange_cmd() -> Command {
    super::common(
        Command::new("lvchange")
            .about("Activate or deactivate logical volumes, or change their tags")
            .arg(activate_arg())
            .arg(
                Arg::new("addtag")
                    .long("addtag")
                    .value_name("TAG")
                    .action(ArgAction::Append)
                    .help("Add a tag to the LVs (repeatable)"),
            )
            .arg(
                Arg::new("deltag")
                    .long("deltag")
                    .value_name("TAG")
                    .action(ArgAction::Append)
                    .help("Remove a tag from the LVs (repeatable)"),
            )
            .arg(mode_arg())
            .arg(monitor_arg())
            .arg(volume_list_arg())
            .arg(crate::options::selected_lvs_arg())
            .arg(crate::options::select_arg()),
    )
}

pub(crate) fn lvconvert_cmd() -> Command {
    super::common(
        Command::new("lvconvert")
            .about("Split an image off a mirror or raid1 LV (mirror break-off), add images (-m), change a mirror's log (--mirrorlog), or repair a mirror or raid1 LV (--repair)")
            .group(
                clap::ArgGroup::new("op")
                    .args(["splitmirrors", "mirrors", "repair", "mirrorlog", "corelog"])
                    .multiple(true)
                    .required(true),
            )
            .arg(
                Arg::new("splitmirrors")
                    .long("splitmirrors")
                    .value_name("N")
                    .requires("name")
                    .conflicts_with_all(["mirrors", "repair", "mirrorlog", "corelog"])
                    .value_parser(clap::value_parser!(usize))
                    .help("Images to split off (1)"),
            )
            .arg(
                Arg::new("name")
                    .short('n')
                    .long("name")
                    .value_name("NEW")
                    .help("Name of the new LV holding the split image"),
            )
            .arg(
                Arg::new("mirrors")
                    .short('m')
                    .long("mirrors")
                    .value_name("[+|-]N")
                    .allow_negative_numbers(true)
                    .help("Images beyond the first the LV has afterwards (+N: that many more, -N: that many fewer); a linear LV becomes a mirror or raid1, and an active LV resyncs the new images (progress in lvs -o copy_percent); fewer images: the last ones go, or with a PV list those on these PVs (an active LV is reloaded without them)"),
            )
            .arg(
                Arg::new("type")
                    .long("type")
                    .value_name("TYPE")
                    .value_parser(["mirror", "raid1"])
                    .help("With -m on a linear LV: raid1 (the default, as lvm2's mirror_segtype_default) or mirror; a mirror or raid1 LV keeps its type"),
            )
            .arg(
                Arg::new("mirrorlog")
                    .long("mirrorlog")
                    .value_name("core|disk")
                    .value_parser(["core", "disk"])
                    .help("A mirror's log: disk (a _mlog sub-LV, placed on a PV holding no image where one has room; lvm2's default for a linear LV made a mirror) or core (in memory). Alone: converts an existing mirror's log; an active mirror in sync is not copied again"),
            )
            .arg(
                crate::options::flag("corelog")
                    .conflicts_with("mirrorlog")
                    .help("Same as --mirrorlog core"),
            )
            .arg(
                crate::options::flag("repair")
                    .conflicts_with_all(["mirrors", "mirrorlog", "corelog"])
                    .help("Replace the images of a mirror or raid1 LV that sit on missing PVs with new ones on PVs holding nothing of the LV (lvm2's allocate policy); a mirror without room loses them, a raid1 LV (active and in sync, as lvm2 needs) is left as it is; the new images resync in the kernel (lvs -o sync_percent)"),
            )
            .arg(Arg::new("lv").value_name("VG/LV").required(true))
            .arg(
                Arg::new("pvs")
                    .value_name("PV")
                    .num_args(0..)
                    .help("Allocate new images only on these PVs; with fewer images (-m), remove those on these PVs"),
            ),
    )
}

fn mode(m: &ArgMatches) -> ActivationMode {
    match m.get_one::<String>("activationmode").map(String::as_str) {
        Some("partial") => ActivationMode::Partial,
        Some("degraded") => ActivationMode::Degraded,
        _ => ActivationMode::Complete,
    }
}

fn options(m: &ArgMatches, ctx: &Ctx) -> Result<ActivateOptions, CliError> {
    let volume_list = match m.get_one::<String>("volume-list") {
        Some(s) => Some(
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        // halvm.toml's activation.volume_list, else lvm.conf's (the environment's).
        None => ctx.env.volume_list.clone(),
    };
    Ok(ActivateOptions {
        mode: mode(m),
        volume_list,
        mirror_handle_errors: m.get_one::<String>("monitor").map(String::as_str) != Some("n"),
        vx_mode: None,
    })
}

fn outcome(lines: Vec<String>) -> Outcome {
    Outcome {
        stdout: super::lines(lines),
        ..Outcome::default()
    }
}

fn act(e: ActivationError) -> CliError {
    CliError::Activation(e)
}

/// The environment's kernel to (de)activate with, the one handle every command uses; in test
/// mode (`-t`) one that is asked, never changed (`Env::enter_test_mode`).
pub(crate) fn kernel<'a>(ctx: &Ctx<'a>) -> Result<&'a Kernel, ActivationError> {
    ctx.env.require_kernel()
}

/// Runs `name` if it is an activation command; None hands it back to the metadata commands.
pub(crate) fn dispatch(name: &str, m: &ArgMatches, ctx: &Ctx) -> Option<Result<Outcome, CliError>> {
    match name {
        "lvchange" => Some(lvchange(m, ctx)),
        "vgchange" if m.get_one::<String>("activate").is_some() => Some(vgchange(m, ctx)),
        "lvconvert" => Some(lvconvert(m, ctx)),
        "lvextend" | "lvreduce" | "lvresize" => resize_active(name, m, ctx),
        _ => None,
    }
}

/// The activation lock of a shared VG: `sy` shared, `n` none, anything else exclusive (lvm2
/// makes `-ay` exclusive on a shared VG). Local VGs ignore it.
fn how(m: &ArgMatches) -> Option<LockMode> {
    match m.get_one::<String>("activate").map(String::as_str) {
        Some("n") => None,
        Some("sy") => Some(LockMode::Shared),
        _ => Some(LockMode::Exclusive),
    }
}

fn lvchange(m: &ArgMatches, ctx: &Ctx) -> Result<Outcome, CliError> {
    let (add, del) = (super::strings(m, "addtag"), super::strings(m, "deltag"));
    if m.get_one::<String>("activate").is_none() {
        if add.is_empty() && del.is_empty() {
            return Err(usage(
                "No command with matching syntax recognised.  Run 'lvchange --help' for more information.",
            ));
        }
        // Tags only: metadata, no device-mapper (lvm2 prints one line per LV).
        let mut out = Vec::new();
        for t in super::targets(ctx, m, "lvs")? {
            let (v, l) = split_lv(&t)?;
            ctx.lvchange_tags(&lvmeta::ops::LvchangeTagsOptions {
                vg: v.clone(),
                lv: l.clone(),
                add_tags: add.clone(),
                del_tags: del.clone(),
            })?;
            out.push(format!("Logical volume {v}/{l} changed."));
        }
        return Ok(outcome(out));
    }
    if !add.is_empty() || !del.is_empty() {
        return Err(usage("lvchange: give -a apart from --addtag and --deltag"));
    }
    let kernel = kernel(ctx).map_err(act)?;
    let mut by_vg: Vec<(String, Vec<String>)> = Vec::new();
    for t in super::targets(ctx, m, "lvs")? {
        let (v, l) = split_lv(&t)?;
        match by_vg.iter_mut().find(|(x, _)| *x == v) {
            Some((_, ls)) => ls.push(l),
            None => by_vg.push((v, vec![l])),
        }
    }
    let opts = options(m, ctx)?;
    let mut out = Vec::new();
    for (vg, lvs) in by_vg {
        out.extend(
            ctx.change_activation_mode(kernel, &vg, Some(&lvs), how(m), &opts)
                .map_err(act)?,
        );
    }
    Ok(outcome(out))
}

fn vgchange(m: &ArgMatches, ctx: &Ctx) -> Result<Outcome, CliError> {
    if m.get_one::<String>("systemid").is_some()
        || m.get_many::<String>("addtag").is_some()
        || m.get_many::<String>("deltag").is_some()
    {
        return Err(usage(
            "vgchange: give -a apart from --systemid, --addtag and --deltag",
        ));
    }
    let kernel = kernel(ctx).map_err(act)?;
    let opts = options(m, ctx)?;
    let mut out = Vec::new();
    for vg in &super::targets(ctx, m, "vg")? {
        out.extend(
            match vx_mode(m) {
                Some(mode) => ctx.change_vg_mode(kernel, vg, mode, &opts),
                // -an also releases an activation mode held on a shared VG.
                None if how(m).is_none() && is_shared(ctx, vg) => {
                    ctx.change_vg_mode(kernel, vg, VxMode::Off, &opts)
                }
                None => ctx.change_activation_mode(kernel, vg, None, how(m), &opts),
            }
            .map_err(act)?,
        );
    }
    Ok(outcome(out))
}

fn lvconvert(m: &ArgMatches, ctx: &Ctx) -> Result<Outcome, CliError> {
    let (vg, lv) = split_lv(m.get_one::<String>("lv").expect("required"))?;
    // A host whose /dev/mapper/control does not open (no dm module) changes metadata only.
    let kernel = ctx.env.kernel.as_ref();
    let pvs = super::strings(m, "pvs");
    let log = match (
        m.get_one::<String>("mirrorlog").map(String::as_str),
        m.get_flag("corelog"),
    ) {
        (Some("disk"), _) => Some(lvmeta::ops::MirrorLog::Disk),
        (Some(_), _) | (None, true) => Some(lvmeta::ops::MirrorLog::Core),
        (None, false) => None,
    };
    if let (Some(log), false, None) = (log, m.get_flag("repair"), m.get_one::<String>("mirrors")) {
        let o = lvmeta::mirror_log::ConvertLogOptions {
            vg: vg.clone(),
            lv: lv.clone(),
            disk: log == lvmeta::ops::MirrorLog::Disk,
            pvs,
        };
        return Ok(outcome(ctx.convert_mirror_log(kernel, &o).map_err(act)?));
    }
    if m.get_flag("repair") || m.get_one::<String>("mirrors").is_some() {
        let mut o = lvmeta::activation::ConvertImagesOptions {
            vg: vg.clone(),
            lv: lv.clone(),
            raid1: m.get_one::<String>("type").map(|t| t == "raid1"),
            pvs,
            log,
            ..Default::default()
        };
        let out = if m.get_flag("repair") {
            ctx.repair_images(kernel, &o)
        } else {
            let arg = m.get_one::<String>("mirrors").expect("checked");
            let bad = || usage(format!("Invalid argument for --mirrors: {arg}"));
            use lvmeta::activation::Mirrors;
            let count = |n: &str| n.parse::<usize>().map_err(|_| bad());
            o.mirrors = match (arg.strip_prefix('+'), arg.strip_prefix('-')) {
                (Some(n), _) => Mirrors::More(count(n)?),
                (_, Some(n)) => Mirrors::Fewer(count(n)?),
                _ => Mirrors::To(count(arg)?),
            };
            ctx.convert_images(kernel, &o)
        }
        .map_err(act)?;
        // lvm2 prints its warnings (a mirror repair's up-convert attempts) and a raid1
        // repair's narrowing ("Failed to replace N devices.  Attempting ...", an error
        // line that does not fail the command) on stderr.
        let (warn, info): (Vec<String>, Vec<String>) = out
            .into_iter()
            .partition(|l| l.starts_with("WARNING:") || l.starts_with("Failed to replace "));
        return Ok(Outcome {
            stdout: super::lines(info),
            stderr: super::lines(warn),
            ..Outcome::default()
        });
    }
    let count = *m.get_one::<usize>("splitmirrors").expect("the group");
    let new = m
        .get_one::<String>("name")
        .expect("required by --splitmirrors");
    let out = ctx
        .split_mirrors(
            kernel,
            &lvmeta::activation::SplitMirrorsOptions {
                vg: vg.clone(),
                lv: lv.clone(),
                new_name: new.clone(),
                count,
            },
        )
        .map_err(act)?;
    Ok(outcome(out))
}

/// lvextend/lvreduce/lvresize of an active LV: the metadata change, then suspend, reload,
/// resume. An inactive LV goes to the metadata command as usual (None).
fn resize_active(name: &str, m: &ArgMatches, ctx: &Ctx) -> Option<Result<Outcome, CliError>> {
    let target = m.get_one::<String>("lv")?;
    let (vg, lv) = split_lv(target).ok()?;
    // Without device-mapper nothing is active: the metadata command resizes.
    let kernel = ctx.env.kernel.as_ref()?;
    let before = match ctx.active_plan(kernel, &vg, &lv) {
        Ok(Some(p)) => p,
        _ => return None,
    };
    Some((|| {
        let r = ctx.lvresize(&super::lvresize_options(name, m)?)?;
        let mut out = super::msg::resized(&vg, &lv, &r);
        out.extend(ctx.reload_active(kernel, &vg, &lv, &before).map_err(act)?);
        Ok(outcome(out))
    })())
}

/// What lvcreate does with a new LV besides the metadata: `-a`, `-Z`, `-W`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewLv {
    pub activate: bool,
    pub zero: bool,
    pub wipe_signatures: bool,
}

impl NewLv {
    /// lvm2's defaults and rules (`_read_activation_params`): activated and zeroed unless
    /// asked otherwise; `-an` needs `-Zn`; `-W` follows `-Z` unless given
    /// (`wipe_signatures_when_zeroing_new_lvs = 1`).
    pub(crate) fn from_args(m: &ArgMatches) -> Result<NewLv, CliError> {
        let yn = |id: &str| {
            m.get_one::<String>(id)
                .map(|v| v.as_str() == "y" || v.ends_with('y'))
        };
        let activate = yn("activate").unwrap_or(true);
        let zero = yn("zero").unwrap_or(true);
        if !activate && zero {
            return Err(usage("--activate n requires --zero n"));
        }
        let wipe_signatures = yn("wipesignatures").unwrap_or(zero);
        Ok(NewLv {
            activate,
            zero,
            wipe_signatures,
        })
    }
}

/// Activates the new LV and wipes its start as lvm2's `_lv_create_an_lv` and `wipe_lv` do;
/// returns lvm2's lines ("Wiping ext4 signature on /dev/vg/lv.").
pub(crate) fn after_lvcreate(
    ctx: &Ctx,
    vg: &str,
    lv: &str,
    new: &NewLv,
) -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    if !new.zero {
        log::warn!("WARNING: Logical volume {vg}/{lv} not zeroed.");
    }
    if !new.activate {
        return Ok(out);
    }
    let kernel = match kernel(ctx) {
        Ok(k) => k,
        Err(ActivationError::NoDm { reason }) => {
            // As lvm2 with activation off: the LV is made, not activated, not wiped.
            log::info!("No device-mapper ({reason}): {vg}/{lv} not activated.");
            if new.zero {
                log::warn!("WARNING: Logical volume {vg}/{lv} not zeroed.");
            }
            return Ok(out);
        }
        Err(e) => return Err(act(e)),
    };
    let opts = ActivateOptions {
        mode: ActivationMode::Complete,
        volume_list: ctx.env.volume_list.clone(),
        mirror_handle_errors: true,
        vx_mode: None,
    };
    log::info!("Activating logical volume {vg}/{lv}.");
    match ctx.change_activation(kernel, vg, Some(&[lv.to_string()]), true, &opts) {
        Ok(_) => {}
        // Not activated here by design: say so, as lvm2 says an LV is not zeroed.
        Err(e @ (ActivationError::Shared { .. } | ActivationError::Filtered { .. })) => {
            log::warn!("WARNING: {}", crate::wording::activation(&e));
            log::warn!("WARNING: Logical volume {vg}/{lv} not zeroed.");
            return Ok(out);
        }
        Err(e) => return Err(act(e)),
    }
    if new.zero || new.wipe_signatures {
        let node = std::path::PathBuf::from(format!(
            "/dev/mapper/{}",
            lvmeta_model::ids::dm_name(vg, lv, None)
        ));
        let dev = (ctx.env.open)(&node).map_err(|source| {
            CliError::Op(lvmeta::ops::OpError::Device {
                path: node.clone(),
                source,
            })
        })?;
        let w = lvmeta::ops::wipe::wipe_new_lv(dev.as_ref(), new.zero, new.wipe_signatures)
            .map_err(|source| {
                CliError::Op(lvmeta::ops::OpError::Device {
                    path: node.clone(),
                    source,
                })
            })?;
        for sig in &w.signatures {
            out.push(format!("Wiping {sig} signature on /dev/{vg}/{lv}."));
        }
        if w.zeroed > 0 {
            log::info!("Zeroing first {} bytes of {vg}/{lv}.", w.zeroed);
        }
    }
    Ok(out)
}
