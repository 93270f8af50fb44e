//! The lvmeta command line (clap definitions), shared by the binary, man pages and tests.

use clap::{Arg, ArgAction, Command};

fn flag(name: &'static str) -> Arg {
    Arg::new(name).long(name).action(ArgAction::SetTrue)
}

fn common(cmd: Command) -> Command {
    cmd.arg(
        Arg::new("devices")
            .long("devices")
            .value_name("DEV,...")
            .action(ArgAction::Append)
            .help("Use only these devices (comma separated, repeatable), like lvm's --devices; plain files work as PVs"),
    )
    .arg(
        Arg::new("config")
            .long("config")
            .value_name("FILE")
            .help("halvm configuration file (default $HALVM_CONFIG, else /etc/halvm/halvm.toml)"),
    )
    .arg(
        Arg::new("lock-dir")
            .long("lock-dir")
            .value_name("DIR")
            .help("Directory of the flock lock files (default: halvm.toml locking.lock_dir, else lvm.conf global/locking_dir, else /run/lock/lvm, as lvm2)"),
    )
}

fn report(cmd: Command) -> Command {
    cmd.arg(
        Arg::new("options")
            .short('o')
            .long("options")
            .value_name("FIELD,...")
            .action(ArgAction::Append)
            .help("Fields to show; a leading + adds to the default fields"),
    )
    .arg(
        Arg::new("reportformat")
            .long("reportformat")
            .value_name("FORMAT")
            .value_parser(["basic", "json"])
            .help("basic (columns) or json (lvm's JSON layout)"),
    )
    .arg(
        Arg::new("units")
            .long("units")
            .value_name("UNIT")
            .help("Size units: r, h, H, b, B, s, S, k, K, m, M, g, G, t, T, p, P, e, E"),
    )
    .arg(flag("noheadings").help("Do not print the heading line"))
    .arg(flag("nosuffix").help("Do not print unit suffixes (with fixed --units)"))
    .arg(
        Arg::new("separator")
            .long("separator")
            .value_name("STRING")
            .help("Separate columns with STRING instead of aligning them"),
    )
    .arg(flag("aligned").help("Align columns also with --separator"))
    .arg(flag("foreign").help("Also report VGs owned by another host (another system ID)"))
}

fn vg_arg(required: bool) -> Arg {
    Arg::new("vg")
        .value_name("VG")
        .required(required)
        .help("Volume group name")
}

fn pv_list(help: &'static str) -> Arg {
    Arg::new("pvs")
        .value_name("PV")
        .num_args(1..)
        .required(true)
        .help(help)
}

fn size_args(cmd: Command, signed: bool) -> Command {
    let sz = if signed {
        "[+|-]SIZE[UNIT]"
    } else {
        "SIZE[UNIT]"
    };
    let ex = if signed {
        "[+|-]N[%FREE|%VG|%PVS]"
    } else {
        "N[%FREE|%VG|%PVS]"
    };
    cmd.arg(
        Arg::new("size")
            .short('L')
            .long("size")
            .value_name(sz)
            .allow_hyphen_values(true)
            .conflicts_with("extents")
            .help("Size (default unit MiB; k, m, g, t, p, e; rounded up to whole extents)"),
    )
    .arg(
        Arg::new("extents")
            .short('l')
            .long("extents")
            .value_name(ex)
            .allow_hyphen_values(true)
            .help("Size in extents, or a percentage of the free space, the VG or the given PVs"),
    )
}

fn lv_target(cmd: Command) -> Command {
    lv_target_named(cmd, "VG/LV", "The logical volume")
}

fn lv_target_named(cmd: Command, value_name: &'static str, help: &'static str) -> Command {
    cmd.arg(
        Arg::new("lv")
            .value_name(value_name)
            .required(true)
            .help(help),
    )
    .arg(
        Arg::new("pvs")
            .value_name("PV")
            .num_args(0..)
            .help("Allocate only from these PVs"),
    )
}

/// The whole `lvmeta` command tree.
pub fn cli() -> Command {
    let subs = vec![
        common(
            Command::new("pvcreate")
                .about("Initialize devices or files as physical volumes")
                .arg(pv_list("Devices (or files) to initialize"))
                .arg(
                    Arg::new("metadatasize")
                        .long("metadatasize")
                        .value_name("SIZE")
                        .help("Size of the metadata area (default 1020k, making the data start at 1 MiB)"),
                )
                .arg(
                    Arg::new("uuid")
                        .short('u')
                        .long("uuid")
                        .value_name("UUID")
                        .help("Use this PV UUID instead of a random one (one device only)"),
                )
                .arg(flag("force").short('f').help("Overwrite an existing PV label that is not in a VG")),
        ),
        common(
            Command::new("pvremove")
                .about("Remove the PV label from devices that are in no VG")
                .arg(pv_list("Physical volumes"))
                .arg(flag("force").short('f').help("Accepted for lvm compatibility")),
        ),
        report(common(
            Command::new("pvs").about("Report physical volumes").arg(
                Arg::new("pvs").value_name("PV").num_args(0..).help("Only these PVs"),
            ),
        )),
        common(
            Command::new("pvck")
                .about("Check PV labels and metadata areas")
                .arg(pv_list("Physical volumes to check")),
        ),
        common(
            Command::new("vgcreate")
                .about("Create a volume group from physical volumes")
                .arg(vg_arg(true))
                .arg(pv_list("Devices (PVs, or unlabelled devices that are initialized first)"))
                .arg(
                    Arg::new("physicalextentsize")
                        .short('s')
                        .long("physicalextentsize")
                        .value_name("SIZE")
                        .help("Extent size (default 4m; a power of two, at least 1k)"),
                )
                .arg(
                    Arg::new("systemid")
                        .long("systemid")
                        .value_name("ID")
                        .help("Owner system ID recorded in the VG"),
                )
                .arg(
                    flag("shared")
                        .conflicts_with("systemid")
                        .help("A shared VG: lock type dlm in this node's DLM cluster, locked through clvmd-rs; its lockspace is started here"),
                )
                .arg(
                    Arg::new("addtag")
                        .long("addtag")
                        .value_name("TAG")
                        .action(ArgAction::Append)
                        .help("Add a tag to the VG"),
                ),
        ),
        common(
            Command::new("vgextend")
                .about("Add physical volumes to a volume group")
                .arg(vg_arg(true))
                .arg(pv_list("Devices to add"))
                .arg(flag("restoremissing").help(
                    "Take back PVs of the VG that were written as MISSING while absent and are present again",
                )),
        ),
        common(
            Command::new("vgreduce")
                .about("Remove unused physical volumes from a volume group")
                .arg(vg_arg(true))
                .arg(pv_list("PVs to remove (must hold no extents)")),
        ),
        common(
            Command::new("vgremove")
                .about("Remove volume groups")
                .arg(Arg::new("vgs").value_name("VG").num_args(1..).required(true))
                .arg(flag("force").short('f').help("Remove the VG even if it still has LVs")),
        ),
        common(
            Command::new("vgrename")
                .about("Rename a volume group")
                .arg(Arg::new("old").value_name("OLD").required(true))
                .arg(Arg::new("new").value_name("NEW").required(true)),
        ),
        common(
            Command::new("vgchange")
                .about("Change volume group attributes: system ID, tags")
                .arg(vg_arg(true))
                .arg(
                    Arg::new("systemid")
                        .long("systemid")
                        .value_name("ID")
                        .help("Set the owner system ID (empty removes it); allowed on a foreign VG"),
                )
                .arg(
                    flag("majoritypvs")
                        .requires("systemid")
                        .help("With --systemid: allow it with more than half of the PVs present; the missing PVs keep stale metadata"),
                )
                .arg(
                    Arg::new("addtag")
                        .long("addtag")
                        .value_name("TAG")
                        .action(ArgAction::Append)
                        .help("Add a tag"),
                )
                .arg(
                    Arg::new("deltag")
                        .long("deltag")
                        .value_name("TAG")
                        .action(ArgAction::Append)
                        .help("Delete a tag"),
                )
                .arg(flag("lockstart").help("Start the shared VG's lockspace on this node (through clvmd-rs)"))
                .arg(flag("lockstop").help("Stop the shared VG's lockspace on this node (refused while its LVs are active here)"))
                .arg(
                    Arg::new("locktype")
                        .long("locktype")
                        .value_name("TYPE")
                        .value_parser(["dlm", "none"])
                        .help("Change the lock type: dlm makes the VG shared (also converting lvm 2.02's CLUSTERED VGs), none makes it this host's"),
                ),
        ),
        report(common(
            Command::new("vgs")
                .about("Report volume groups")
                .arg(Arg::new("vgs").value_name("VG").num_args(0..).help("Only these VGs")),
        )),
        common(
            Command::new("vgck")
                .about("Check that all metadata copies of a VG agree")
                .arg(Arg::new("vgs").value_name("VG").num_args(0..).help("VGs to check (default all)"))
                .arg(flag("updatemetadata").help("Rewrite stale or damaged copies from the newest valid one")),
        ),
        common(
            Command::new("vgcfgbackup")
                .about("Write a VG's metadata to a text file")
                .arg(vg_arg(true))
                .arg(
                    Arg::new("file")
                        .short('f')
                        .long("file")
                        .value_name("FILE")
                        .required(true)
                        .help("Output file"),
                ),
        ),
        common(
            Command::new("vgcfgrestore")
                .about("Write metadata from a text file to the VG's PVs")
                .arg(vg_arg(true))
                .arg(
                    Arg::new("file")
                        .short('f')
                        .long("file")
                        .value_name("FILE")
                        .required(true)
                        .help("Metadata file (as written by vgcfgbackup or lvm2)"),
                ),
        ),
        lv_target_named(size_args(
            Command::new("lvcreate")
                .about("Create a logical volume")
                .arg(Arg::new("name").short('n').long("name").value_name("LV").required(true).help("LV name"))
                .arg(
                    Arg::new("type")
                        .long("type")
                        .value_name("TYPE")
                        .value_parser(["linear", "striped", "mirror", "raid1"])
                        .help("Segment type (default linear, striped with -i > 1, raid1 with -m)"),
                )
                .arg(
                    Arg::new("stripes")
                        .short('i')
                        .long("stripes")
                        .value_name("N")
                        .value_parser(clap::value_parser!(u32).range(1..=128))
                        .help("Number of stripes"),
                )
                .arg(
                    Arg::new("stripesize")
                        .short('I')
                        .long("stripesize")
                        .value_name("SIZE")
                        .help("Stripe size (default 64k; a power of two)"),
                )
                .arg(
                    Arg::new("mirrors")
                        .short('m')
                        .long("mirrors")
                        .value_name("N")
                        .value_parser(clap::value_parser!(u32).range(0..=31))
                        .help("Number of additional copies (raid1/mirror)"),
                )
                .arg(Arg::new("zero").short('Z').long("zero").value_name("y|n").hide(true))
                .arg(Arg::new("activate").short('a').long("activate").value_name("y|n").hide(true)),
            false,
        ), "VG", "The volume group"),
        lv_target(size_args(
            Command::new("lvextend").about("Grow a logical volume"),
            true,
        )),
        lv_target(size_args(
            Command::new("lvreduce").about("Shrink a logical volume"),
            true,
        ))
        .arg(flag("force").short('f').help("Reduce also an LV that is open (lvm2 asks; lvmeta refuses without -f)")),
        lv_target(size_args(
            Command::new("lvresize").about("Grow or shrink a logical volume"),
            true,
        ))
        .arg(flag("force").short('f').help("Shrink also an LV that is open (lvm2 asks; lvmeta refuses without -f)")),
        common(
            Command::new("lvrename")
                .about("Rename a logical volume")
                .arg(Arg::new("vg").value_name("VG").required(true).help("VG, or VG/OLD when NEW follows alone"))
                .arg(Arg::new("old").value_name("OLD").required(true))
                .arg(Arg::new("new").value_name("NEW")),
        ),
        common(
            Command::new("lvremove")
                .about("Remove logical volumes")
                .arg(Arg::new("lvs").value_name("VG/LV").num_args(1..).required(true))
                .arg(flag("force").short('f').help("Accepted for lvm compatibility: an active LV is deactivated, then removed; an open one is refused")),
        ),
        report(common(
            Command::new("lvs")
                .about("Report logical volumes")
                .arg(flag("all").short('a').help("Also show internal LVs (mirror/raid images, logs)"))
                .arg(Arg::new("targets").value_name("VG|VG/LV").num_args(0..).help("Only these VGs or LVs")),
        )),
    ];
    let subs = activation::with_activation(subs)
        .into_iter()
        .map(|c| {
            if matches!(
                c.get_name(),
                "lvcreate" | "lvextend" | "lvreduce" | "lvresize"
            ) {
                common(c)
            } else {
                c
            }
        })
        .collect::<Vec<_>>();
    Command::new("lvmeta")
        .version(env!("CARGO_PKG_VERSION"))
        .about("LVM2-compatible volume group metadata tool for HA shared storage")
        .long_about(
            "lvmeta reads and writes LVM2-format volume group metadata (byte compatible with \
             lvm2) on block devices or plain files, with local flock locking. Commands are \
             named like lvm's: pvcreate, vgcreate, lvcreate, lvs ...",
        )
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommands(subs)
}

/// The man page groups: (page name, title, subcommand names).
pub const MAN_GROUPS: &[(&str, &str, &[&str])] = &[
    (
        "lvmeta-pv",
        "physical volume commands of lvmeta",
        &["pvcreate", "pvremove", "pvs", "pvck"],
    ),
    (
        "lvmeta-vg",
        "volume group commands of lvmeta",
        &[
            "vgcreate",
            "vgextend",
            "vgreduce",
            "vgremove",
            "vgrename",
            "vgchange",
            "vgs",
            "vgck",
            "vgcfgbackup",
            "vgcfgrestore",
        ],
    ),
    (
        "lvmeta-lv",
        "logical volume commands of lvmeta",
        &[
            "lvcreate",
            "lvextend",
            "lvreduce",
            "lvresize",
            "lvrename",
            "lvremove",
            "lvs",
            "lvchange",
            "lvconvert",
        ],
    ),
];

/// A command holding only one group's subcommands, for its man page.
pub fn group_cli(name: &str) -> Option<Command> {
    let (page, title, subs) = MAN_GROUPS.iter().find(|g| g.0 == name)?;
    let full = cli();
    let mut cmd = Command::new(*page).about(*title);
    for s in full
        .get_subcommands()
        .filter(|s| subs.contains(&s.get_name()))
    {
        cmd = cmd.subcommand(s.clone());
    }
    Some(cmd)
}

// ---------------------------------------------------------------------------------------------
// Dispatch: turns parsed arguments into library calls. The binary maps errors to exit codes.

use std::path::PathBuf;

use clap::ArgMatches;
use lvmeta::ops::{Ctx, Env, Layout, LvCreate, MirrorLog, OpError, ResizeDir, Selection, SizeArg};
use lvmeta::report::{self, ReportKind};
use lvmeta::units::{self, Units};

/// What a command produced: lines for stdout, and whether it found problems (vgck, pvck).
#[derive(Debug, Default)]
pub struct Outcome {
    pub stdout: String,
    /// Warnings (stale or damaged metadata copies, missing PVs) for stderr.
    pub stderr: String,
    pub failed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Op(#[from] OpError),
    #[error(transparent)]
    Config(#[from] lvmeta::env::EnvError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Activation(#[from] lvmeta::activation::ActivationError),
    #[error(transparent)]
    Cluster(#[from] clvmd_client::ClientError),
    /// A node that cannot see every PV of a shared VG refuses to join it.
    #[error("{0}")]
    NotUniform(String),
}

impl CliError {
    /// lvm's exit codes: EINVALID_CMD_LINE = 3, ECMD_FAILED = 5.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Op(e) => e.exit_code(),
            CliError::Config(_) => 5,
            CliError::Usage(_) => 3,
            CliError::Activation(e) => e.exit_code(),
            CliError::Cluster(_) => 5,
            CliError::NotUniform(_) => 5,
        }
    }
}

fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

fn strings(m: &ArgMatches, id: &str) -> Vec<String> {
    m.get_many::<String>(id)
        .map(|v| v.cloned().collect())
        .unwrap_or_default()
}

fn paths(m: &ArgMatches, id: &str) -> Vec<PathBuf> {
    strings(m, id).into_iter().map(PathBuf::from).collect()
}

/// Builds the environment from `--devices`, `--config`, `--lock-dir`, halvm.toml and
/// lvm.conf, through the one builder every halvm tool uses.
pub fn env_from(m: &ArgMatches) -> Result<Env, CliError> {
    let devices = m.get_many::<String>("devices").map(|v| {
        v.flat_map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
    });
    let opts = lvmeta::env::EnvOptions {
        config: m.get_one::<String>("config").map(PathBuf::from),
        devices,
        lock_dir: m.get_one::<String>("lock-dir").map(PathBuf::from),
        lvm_system_dir: None,
    };
    // Used only when halvm.toml says lock_manager = "dlm"; it connects per lock taken.
    let cluster = clvmd_client::DlmLocking::new(clvmd_client::socket_path(), CLUSTER_LOCK_WAIT);
    Ok(lvmeta::env::build_with_cluster(&opts, Some(std::sync::Arc::new(cluster)))?.env)
}

/// How long a VG or global lock held by another node is retried (lvm2 with lvmlockd retries
/// too): long enough for a burst of commands from every node to pass one by one.
const CLUSTER_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

fn size_arg(m: &ArgMatches) -> Result<Option<SizeArg>, CliError> {
    if let Some(s) = m.get_one::<String>("size") {
        let (sign, sectors) = units::parse_size(s).map_err(usage)?;
        return Ok(Some(SizeArg::Sectors(sign, sectors)));
    }
    if let Some(s) = m.get_one::<String>("extents") {
        let (sign, e) = units::parse_extents(s).map_err(usage)?;
        return Ok(Some(SizeArg::Extents(sign, e)));
    }
    Ok(None)
}

/// `-f` where the command has it (lvreduce, lvresize; not lvextend).
fn force_flag(m: &ArgMatches) -> bool {
    m.try_get_one::<bool>("force")
        .ok()
        .flatten()
        .copied()
        .unwrap_or(false)
}

fn split_lv(arg: &str) -> Result<(String, String), CliError> {
    let a = arg.trim_start_matches("/dev/");
    a.split_once('/')
        .map(|(v, l)| (v.to_string(), l.to_string()))
        .ok_or_else(|| usage(format!("\"{arg}\": expected VG/LV")))
}

fn lines(v: Vec<String>) -> String {
    v.into_iter().map(|l| format!("  {l}\n")).collect()
}

fn run_report(
    ctx: &Ctx,
    kind: ReportKind,
    m: &ArgMatches,
    targets: &[String],
    all: bool,
) -> Result<Outcome, CliError> {
    let fields = report::select_fields(kind, &strings(m, "options")).map_err(OpError::from)?;
    let units = match m.get_one::<String>("units") {
        Some(u) => Units::parse(u).map_err(usage)?,
        None => Units::default(),
    };
    let opts = report::Options {
        units,
        suffix: !m.get_flag("nosuffix"),
        headings: !m.get_flag("noheadings"),
        separator: m.get_one::<String>("separator").cloned(),
        aligned: m.get_flag("aligned"),
        json: m
            .get_one::<String>("reportformat")
            .is_some_and(|f| f == "json"),
    };
    let sel = Selection {
        all_lvs: all,
        foreign: m.get_flag("foreign"),
    };
    let (rows, warnings) = ctx.report_with_warnings(kind, &fields, targets, sel)?;
    Ok(Outcome {
        stdout: report::render(kind, &fields, &rows, &opts),
        stderr: lines(warnings),
        failed: false,
    })
}

/// Runs one parsed command line.
pub fn run(matches: &ArgMatches) -> Result<Outcome, CliError> {
    let (name, m) = matches
        .subcommand()
        .ok_or_else(|| usage("no command given"))?;
    let env = env_from(m)?;
    let ctx = Ctx { env: &env };
    if let Some(r) = activation::dispatch(name, m, &ctx) {
        return r;
    }
    let out = |s: String| {
        Ok(Outcome {
            stdout: format!("  {s}\n"),
            stderr: String::new(),
            failed: false,
        })
    };
    match name {
        "pvcreate" => {
            let mdasize = match m.get_one::<String>("metadatasize") {
                Some(s) => {
                    let (sign, sectors) = units::parse_size(s).map_err(usage)?;
                    if sign != units::Sign::Absolute {
                        return Err(usage("--metadatasize takes an absolute size"));
                    }
                    Some(sectors * 512)
                }
                None => None,
            };
            let r = ctx.pvcreate(
                &paths(m, "pvs"),
                mdasize,
                m.get_one::<String>("uuid").map(String::as_str),
                m.get_flag("force"),
            )?;
            Ok(Outcome {
                stdout: lines(msg::pvs_created(&r)),
                stderr: String::new(),
                failed: false,
            })
        }
        "pvremove" => Ok(Outcome {
            stdout: lines(msg::pvs_wiped(&ctx.pvremove(&paths(m, "pvs"))?)),
            stderr: String::new(),
            failed: false,
        }),
        "pvck" => {
            let (r, ok) = ctx.pvck(&paths(m, "pvs"))?;
            Ok(Outcome {
                stdout: lines(r),
                stderr: String::new(),
                failed: !ok,
            })
        }
        "pvs" => run_report(&ctx, ReportKind::Pvs, m, &strings(m, "pvs"), false),
        "vgs" => run_report(&ctx, ReportKind::Vgs, m, &strings(m, "vgs"), false),
        "lvs" => run_report(
            &ctx,
            ReportKind::Lvs,
            m,
            &strings(m, "targets"),
            m.get_flag("all"),
        ),
        "vgcreate" => {
            let es = match m.get_one::<String>("physicalextentsize") {
                Some(s) => {
                    let (sign, sectors) = units::parse_size(s).map_err(usage)?;
                    if sign != units::Sign::Absolute {
                        return Err(usage("-s takes an absolute size"));
                    }
                    sectors
                }
                None => 8192,
            };
            let vg = m.get_one::<String>("vg").expect("required");
            if m.get_flag("shared") {
                let args = lvmeta::ops::shared::dlm_lock_args(&shared::cluster_name()?);
                ctx.vgcreate_shared(vg, &paths(m, "pvs"), es, &strings(m, "addtag"), &args)?;
                let started = shared::lockstart(&ctx, vg, None)?;
                return out(format!(
                    "Volume group \"{vg}\" successfully created (lock type dlm, {args})\n  {started}"
                ));
            }
            ctx.vgcreate(
                vg,
                &paths(m, "pvs"),
                es,
                m.get_one::<String>("systemid").map(String::as_str),
                &strings(m, "addtag"),
            )?;
            out(format!("Volume group \"{vg}\" successfully created"))
        }
        "vgextend" => {
            let vg = m.get_one::<String>("vg").expect("required");
            if m.get_flag("restoremissing") {
                ctx.vgextend_restoremissing(vg, &paths(m, "pvs"))?;
            } else {
                ctx.vgextend(vg, &paths(m, "pvs"))?;
            }
            out(format!("Volume group \"{vg}\" successfully extended"))
        }
        "vgreduce" => {
            let vg = m.get_one::<String>("vg").expect("required");
            let removed = ctx.vgreduce(vg, &paths(m, "pvs"))?;
            Ok(Outcome {
                stdout: lines(
                    removed
                        .iter()
                        .map(|p| format!("Removed \"{}\" from volume group \"{vg}\"", p.display()))
                        .collect(),
                ),
                stderr: String::new(),
                failed: false,
            })
        }
        "vgremove" => {
            let mut s = Vec::new();
            for vg in strings(m, "vgs") {
                ctx.vgremove(&vg, m.get_flag("force"))?;
                s.push(format!("Volume group \"{vg}\" successfully removed"));
            }
            Ok(Outcome {
                stdout: lines(s),
                stderr: String::new(),
                failed: false,
            })
        }
        "vgrename" => {
            let old = m.get_one::<String>("old").expect("required");
            let new = m.get_one::<String>("new").expect("required");
            ctx.vgrename(old, new)?;
            out(format!(
                "Volume group \"{old}\" successfully renamed to \"{new}\""
            ))
        }
        "vgchange"
            if m.get_flag("lockstart")
                || m.get_flag("lockstop")
                || m.get_one::<String>("locktype").is_some() =>
        {
            shared::vgchange(&ctx, m)
        }
        "vgchange" => {
            let (sid, add, del) = (
                m.get_one::<String>("systemid"),
                strings(m, "addtag"),
                strings(m, "deltag"),
            );
            if sid.is_none() && add.is_empty() && del.is_empty() {
                return Err(usage(
                    "vgchange needs --systemid, --addtag, --deltag, --lockstart, --lockstop or --locktype",
                ));
            }
            let vg = m.get_one::<String>("vg").expect("required");
            ctx.vgchange(
                vg,
                sid.map(String::as_str),
                &add,
                &del,
                m.get_flag("majoritypvs"),
            )?;
            out(format!("Volume group \"{vg}\" successfully changed"))
        }
        "vgck" => {
            let (r, ok) = ctx.vgck(&strings(m, "vgs"), m.get_flag("updatemetadata"))?;
            Ok(Outcome {
                stdout: lines(r),
                stderr: String::new(),
                failed: !ok,
            })
        }
        "vgcfgbackup" | "vgcfgrestore" => {
            let vg = m.get_one::<String>("vg").expect("required");
            let file = std::path::Path::new(m.get_one::<String>("file").expect("required"));
            if name == "vgcfgbackup" {
                ctx.vgcfgbackup(vg, file)?;
                out(format!("Volume group \"{vg}\" successfully backed up."))
            } else {
                ctx.vgcfgrestore(vg, file)?;
                out(format!("Restored volume group {vg}."))
            }
        }
        "lvcreate" => {
            let size = size_arg(m)?.ok_or_else(|| usage("lvcreate needs -L or -l"))?;
            let stripes = m.get_one::<u32>("stripes").copied();
            let mirrors = m.get_one::<u32>("mirrors").copied();
            let ty = m.get_one::<String>("type").map(String::as_str);
            let stripe_size = match m.get_one::<String>("stripesize") {
                Some(s) => {
                    let (_, sectors) = units::parse_size(&format!(
                        "{s}{}",
                        if s.chars().all(|c| c.is_ascii_digit()) {
                            "k"
                        } else {
                            ""
                        }
                    ))
                    .map_err(usage)?;
                    if !sectors.is_power_of_two() || sectors < 8 {
                        return Err(usage(format!(
                            "invalid stripe size {s}: a power of two of at least 4k"
                        )));
                    }
                    sectors
                }
                None => 128,
            };
            let layout = match (ty, stripes.unwrap_or(1), mirrors.unwrap_or(0)) {
                (Some("raid1"), _, m) | (None, 1, m) if m > 0 || ty == Some("raid1") => {
                    Layout::Raid1 { mirrors: m.max(1) }
                }
                (Some("mirror"), _, m) => Layout::Mirror {
                    mirrors: m.max(1),
                    log: MirrorLog::Core,
                },
                (Some("striped"), i, 0) | (None, i, 0) if i > 1 => Layout::Striped {
                    stripes: i,
                    stripe_size: lvmeta::ops::Sectors(stripe_size),
                },
                (Some("striped"), 1, 0) | (Some("linear"), 1, 0) | (None, 1, 0) => Layout::Linear,
                _ => {
                    return Err(usage(
                        "this combination of --type, -i and -m is not supported",
                    ))
                }
            };
            let (vg, lvname) = {
                let v = m.get_one::<String>("lv").expect("required");
                let n = m.get_one::<String>("name").expect("required");
                (v.clone(), n.clone())
            };
            ctx.lvcreate(
                &vg,
                LvCreate {
                    name: lvname.clone(),
                    size,
                    layout,
                    pvs: paths(m, "pvs"),
                },
            )?;
            out(format!("Logical volume \"{lvname}\" created."))
        }
        "lvextend" | "lvreduce" | "lvresize" => {
            let size = size_arg(m)?.ok_or_else(|| usage(format!("{name} needs -L or -l")))?;
            let (vg, lv) = split_lv(m.get_one::<String>("lv").expect("required"))?;
            let dir = match name {
                "lvextend" => ResizeDir::Extend,
                "lvreduce" => ResizeDir::Reduce,
                _ => ResizeDir::Any,
            };
            let r = ctx.lvresize(&vg, &lv, size, &paths(m, "pvs"), dir, force_flag(m))?;
            Ok(Outcome {
                stdout: lines(msg::resized(&vg, &lv, &r)),
                stderr: String::new(),
                failed: false,
            })
        }
        "lvrename" => {
            let a = m.get_one::<String>("vg").expect("required");
            let b = m.get_one::<String>("old").expect("required");
            let (vg, old, new) = match m.get_one::<String>("new") {
                Some(c) => (a.clone(), b.clone(), c.clone()),
                None => {
                    let (v, o) = split_lv(a)?;
                    (
                        v,
                        o,
                        b.trim_start_matches(&format!("{}/", a.split('/').next().unwrap_or("")))
                            .to_string(),
                    )
                }
            };
            let old = old.rsplit('/').next().unwrap_or(&old).to_string();
            let new = new.rsplit('/').next().unwrap_or(&new).to_string();
            ctx.lvrename(&vg, &old, &new)?;
            out(format!(
                "Renamed \"{old}\" to \"{new}\" in volume group \"{vg}\""
            ))
        }
        "lvremove" => {
            let mut by_vg: Vec<(String, Vec<String>)> = Vec::new();
            for t in strings(m, "lvs") {
                let (v, l) = split_lv(&t)?;
                match by_vg.iter_mut().find(|(x, _)| *x == v) {
                    Some((_, ls)) => ls.push(l),
                    None => by_vg.push((v, vec![l])),
                }
            }
            let mut s = Vec::new();
            for (v, ls) in by_vg {
                ctx.lvremove(&v, &ls)?;
                s.extend(
                    ls.iter()
                        .map(|l| format!("Logical volume \"{l}\" successfully removed.")),
                );
            }
            Ok(Outcome {
                stdout: lines(s),
                stderr: String::new(),
                failed: false,
            })
        }
        other => Err(usage(format!("unknown command {other}"))),
    }
}

mod activation;
mod shared;

/// lvm2's wording of what a command did (the library returns what happened, typed).
mod msg {
    use lvmeta::ops::Resized;
    use std::path::PathBuf;

    pub fn pvs_created(pvs: &[PathBuf]) -> Vec<String> {
        pvs.iter()
            .map(|p| format!("Physical volume \"{}\" successfully created.", p.display()))
            .collect()
    }

    pub fn pvs_wiped(pvs: &[PathBuf]) -> Vec<String> {
        pvs.iter()
            .map(|p| {
                format!(
                    "Labels on physical volume \"{}\" successfully wiped.",
                    p.display()
                )
            })
            .collect()
    }

    pub fn resized(vg: &str, lv: &str, r: &Resized) -> Vec<String> {
        let u = lvmeta::units::Units::default();
        let es = r.extent_size.0;
        vec![
            format!(
                "Size of logical volume {vg}/{lv} changed from {} ({} extents) to {} ({} extents).",
                u.format(r.from.0 * es, true),
                r.from.0,
                u.format(r.to.0 * es, true),
                r.to.0
            ),
            format!("Logical volume {vg}/{lv} successfully resized."),
        ]
    }
}

/// Runs the command line of this process and returns lvm's exit code for it: 0 ok,
/// 3 invalid command line, 5 command failed. The one place errors become exit codes; the
/// `lvmeta` binary (and test copies of it) only pass the code to `process::exit`.
pub fn main_exit() -> i32 {
    use std::io::Write;
    let matches = match cli().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                _ => 3,
            };
        }
    };
    match run(&matches) {
        Ok(o) => {
            let _ = std::io::stdout().write_all(o.stdout.as_bytes());
            let _ = std::io::stderr().write_all(o.stderr.as_bytes());
            if o.failed {
                5
            } else {
                0
            }
        }
        Err(e) => {
            eprintln!("  {e}");
            e.exit_code()
        }
    }
}
