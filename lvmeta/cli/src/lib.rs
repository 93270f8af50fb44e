//! The lvmeta command line (clap definitions), shared by the binary, man pages and tests.

use clap::{Arg, ArgAction, Command};

use options::{flag, CommonOptions, ReportOptions};

fn common(cmd: Command) -> Command {
    CommonOptions::args(cmd)
}

fn report(cmd: Command) -> Command {
    ReportOptions::args(cmd)
}

fn vg_arg(required: bool) -> Arg {
    Arg::new("vg")
        .value_name("VG")
        .required(required)
        .help("Volume group name")
}

/// A command on a VG and `next` (its PVs, its file), those first.
fn vg_with(name: &'static str, about: &'static str, next: Arg) -> Command {
    Command::new(name).about(about).arg(vg_arg(true)).arg(next)
}

/// `-f/--file FILE` of vgcfgbackup and vgcfgrestore.
fn file_arg(help: &'static str) -> Arg {
    Arg::new("file")
        .short('f')
        .long("file")
        .value_name("FILE")
        .help(help)
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

/// lvextend, lvreduce, lvresize: one shape; the two that can shrink take `-f`, whose help
/// starts with `shrink_verb`.
fn resize(name: &'static str, about: &'static str, shrink_verb: Option<&str>) -> Command {
    let cmd = lv_target(size_args(Command::new(name).about(about), true));
    common(match shrink_verb {
        Some(verb) => cmd.arg(flag("force").short('f').help(format!(
            "{verb} also an LV that is open (lvm2 asks; lvmeta refuses without -f)"
        ))),
        None => cmd,
    })
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

/// The subcommands, in the order the top-level help lists them: the man page groups' in turn.
pub fn subcommand_names() -> impl Iterator<Item = &'static str> {
    MAN_GROUPS.iter().flat_map(|g| g.2.iter().copied())
}

/// One subcommand's definition, or `None` for a name that is not one.
fn subcommand(name: &str) -> Option<Command> {
    Some(match name {
        "pvcreate" => {
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
                            .help("Use this PV UUID instead of a random one (one device only; with --restorefile, or --norestorefile, as lvm2)"),
                    )
                    .arg(
                        Arg::new("dataalignment")
                            .long("dataalignment")
                            .value_name("SIZE")
                            .help("Align the data area to this size (default unit KiB; default 1 MiB)"),
                    )
                    .arg(
                        Arg::new("restorefile")
                            .long("restorefile")
                            .value_name("FILE")
                            .help("A VG backup naming the PV given by --uuid: its data area starts where it did"),
                    )
                    .arg(flag("norestorefile").help("Allow --uuid without --restorefile"))
                    .arg(flag("force").short('f').help("Overwrite an existing PV label that is not in a VG")),
            )
        }
        "pvremove" => {
            common(
                Command::new("pvremove")
                    .about("Remove the PV label from devices that are in no VG")
                    .arg(pv_list("Physical volumes"))
                    .arg(
                        Arg::new("force")
                            .short('f')
                            .long("force")
                            .action(ArgAction::Count)
                            .help("Twice (-ff): remove the label of a PV that is in a VG too, unless an active LV uses it"),
                    ),
            )
        }
        "pvs" => {
            report(common(
                Command::new("pvs").about("Report physical volumes").arg(
                    Arg::new("pvs").value_name("PV").num_args(0..).help("Only these PVs"),
                ),
            ))
        }
        "pvck" => {
            common(
                Command::new("pvck")
                    .about("Check PV labels and metadata areas")
                    .arg(pv_list("Physical volumes to check")),
            )
        }
        "vgcreate" => {
            common(
                vg_with(
                    "vgcreate",
                    "Create a volume group from physical volumes",
                    pv_list("Devices (PVs, or unlabelled devices that are initialized first)"),
                )
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
            )
        }
        "vgextend" => {
            common(
                vg_with(
                    "vgextend",
                    "Add physical volumes to a volume group",
                    pv_list("Devices to add"),
                )
                .arg(flag("restoremissing").help(
                    "Take back PVs of the VG that were written as MISSING while absent and are present again",
                )),
            )
        }
        "vgreduce" => {
            common(
                vg_with(
                    "vgreduce",
                    "Remove unused physical volumes from a volume group",
                    pv_list("PVs to remove (must hold no extents)")
                        .required(false)
                        .required_unless_present("removemissing"),
                )
                .arg(flag("removemissing").conflicts_with("pvs").help(
                    "Remove the PVs that are missing; LVs on them are refused unless --force",
                ))
                .arg(flag("force").short('f').requires("removemissing").help(
                    "With --removemissing: remove the LVs on missing PVs too (an open LV is refused, an active one deactivated first)",
                )),
            )
        }
        "vgremove" => {
            common(
                Command::new("vgremove")
                    .about("Remove volume groups")
                    .arg(Arg::new("vgs").value_name("VG").num_args(1..).required(true))
                    .arg(flag("force").short('f').help("Remove the VG even if it still has LVs")),
            )
        }
        "vgrename" => {
            common(
                Command::new("vgrename")
                    .about("Rename a volume group")
                    .arg(Arg::new("old").value_name("OLD").required(true))
                    .arg(Arg::new("new").value_name("NEW").required(true)),
            )
        }
        "vgchange" => {
            activation::vgchange_args(
                common(
                    Command::new("vgchange")
                        .about("Change volume group attributes: system ID, tags, activation")
                        .arg(vg_arg(false).required_unless_present("select"))
                        .arg(options::select_arg())
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
                        .arg(
                            Arg::new("detachpolicy")
                                .long("detachpolicy")
                                .value_name("POLICY")
                                .value_parser(["global", "local"])
                                .help("Set the VG's own mirror leg detach policy (VxVM's vxdg set diskdetpolicy), over halvm.toml's policy.detach on every node: global detaches a failed leg cluster-wide, local stops I/O on the node that saw the failure; kept as the VG tag halvm_detach_global or halvm_detach_local"),
                        )
                        .arg(
                            Arg::new("dgfailpolicy")
                                .long("dgfailpolicy")
                                .value_name("POLICY")
                                .value_parser(["dgdisable", "leave"])
                                .help("Set the VG's own metadata-loss policy (VxVM's vxdg set dgfailpolicy), over halvm.toml's policy.dg_failure on every node: what clvmd-rs does when a node committing a change cannot write any metadata copy. dgdisable disables the VG cluster-wide, leave makes that node leave the VG; kept as the VG tag halvm_dgfail_dgdisable or halvm_dgfail_leave"),
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
            )
        }
        "vgs" => {
            report(common(
                Command::new("vgs")
                    .about("Report volume groups")
                    .arg(Arg::new("vgs").value_name("VG").num_args(0..).help("Only these VGs")),
            ))
        }
        "vgck" => {
            common(
                Command::new("vgck")
                    .about("Check that all metadata copies of a VG agree")
                    .arg(Arg::new("vgs").value_name("VG").num_args(0..).help("VGs to check (default all)"))
                    .arg(flag("updatemetadata").help("Rewrite stale or damaged copies from the newest valid one")),
            )
        }
        "vgcfgbackup" => {
            common(
                vg_with(
                    "vgcfgbackup",
                    "Write a VG's metadata to a text file",
                    file_arg("Output file").required(true),
                ),
            )
        }
        "vgcfgrestore" => {
            common(
                vg_with(
                    "vgcfgrestore",
                    "Write metadata from a text file to the VG's PVs",
                    file_arg("Metadata file (as written by vgcfgbackup or lvm2); default: the VG's backup in lvm.conf's backup_dir"),
                )
                .arg(flag("list").short('l').help(
                    "List the VG's metadata archives and backup (lvm.conf archive_dir, backup_dir) instead of restoring",
                )),
            )
        }
        "lvcreate" => {
            common(
                lv_target_named(size_args(
                    Command::new("lvcreate")
                        .about("Create a logical volume")
                        .arg(Arg::new("name").short('n').long("name").value_name("LV").help("LV name (default lvolN, as lvm2)"))
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
                        .arg(
                            Arg::new("mirrorlog")
                                .long("mirrorlog")
                                .value_name("core|disk")
                                .value_parser(["core", "disk", "mirrored"])
                                .help("Log of a --type mirror LV: disk (default, a _mlog sub-LV) or core (in memory)"),
                        )
                        .arg(flag("corelog").help("Same as --mirrorlog core"))
                        .arg(
                            Arg::new("activate")
                                .short('a')
                                .long("activate")
                                .value_name("y|n|ey|sy|ly")
                                .value_parser(["y", "n", "ey", "sy", "ly"])
                                .help("Activate the new LV (y, lvm2's default; ey/sy/ly: the same on a local VG) or leave it inactive (n, needs -Z n)"),
                        )
                        .arg(
                            Arg::new("zero")
                                .short('Z')
                                .long("zero")
                                .value_name("y|n")
                                .value_parser(["y", "n"])
                                .help("Zero the first 4 KiB of the new LV (y, lvm2's default; needs activation)"),
                        )
                        .arg(
                            Arg::new("wipesignatures")
                                .short('W')
                                .long("wipesignatures")
                                .value_name("y|n")
                                .value_parser(["y", "n"])
                                .help("Wipe filesystem, RAID and PV signatures found on the new LV (default: as -Z)"),
                        )
                    ,
                    false,
                ), "VG", "The volume group"),
            )
        }
        "lvextend" => resize("lvextend", "Grow a logical volume", None),
        "lvreduce" => resize("lvreduce", "Shrink a logical volume", Some("Reduce")),
        "lvresize" => resize("lvresize", "Grow or shrink a logical volume", Some("Shrink")),
        "lvrename" => {
            common(
                Command::new("lvrename")
                    .about("Rename a logical volume")
                    .arg(Arg::new("vg").value_name("VG").required(true).help("VG, or VG/OLD when NEW follows alone"))
                    .arg(Arg::new("old").value_name("OLD").required(true))
                    .arg(Arg::new("new").value_name("NEW")),
            )
        }
        "lvremove" => {
            common(
                Command::new("lvremove")
                    .about("Remove logical volumes")
                    .arg(options::selected_lvs_arg())
                    .arg(options::select_arg())
                    .arg(flag("force").short('f').help("Accepted for lvm compatibility: an active LV is deactivated, then removed; an open one is refused")),
            )
        }
        "lvs" => {
            report(common(
                Command::new("lvs")
                    .about("Report logical volumes")
                    .arg(flag("all").short('a').help("Also show internal LVs (mirror/raid images, logs)"))
                    .arg(Arg::new("targets").value_name("VG|VG/LV").num_args(0..).help("Only these VGs or LVs")),
            ))
        }
        "lvchange" => activation::lvchange_cmd(),
        "lvconvert" => activation::lvconvert_cmd(),
        _ => return None,
    })
}

/// `lvmeta` itself, without its subcommands.
fn top() -> Command {
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
}

/// The whole `lvmeta` command tree (man pages, completions, `lvmeta --help`).
pub fn cli() -> Command {
    top().subcommands(subcommand_names().filter_map(subcommand))
}

/// The command tree needed to parse `argv`: when `argv[1]` names a subcommand, `lvmeta` with
/// only that one, which parses and reports errors as the whole tree does (the tests compare
/// them); otherwise the whole tree. Building every subcommand costs more than the rest of a
/// small command under an emulator such as QEMU's TCG, where new code is translated first.
pub fn cli_for(argv: &[String]) -> Command {
    match argv.get(1).and_then(|n| subcommand(n)) {
        Some(sub) => top().subcommand(sub),
        None => cli(),
    }
}

/// The whole tree, built by clap ([`Command::build`]: defaults filled in, arguments checked and
/// ordered) once by a process that forks the ones running commands ([`prepare`]).
static PREPARED: std::sync::Mutex<Option<Command>> = std::sync::Mutex::new(None);

/// `cmd` built by clap ahead of any parse; it parses, and reports errors and help, as `cmd`
/// does (the tests compare them).
pub fn built(mut cmd: Command) -> Command {
    cmd.build();
    cmd
}

/// Builds the whole command tree now, for the processes this one forks next: lvmeta-server
/// calls it before it forks its workers, each of which then parses its command line with the
/// tree inherited instead of building one (under an emulator such as QEMU's TCG that was
/// ~1 ms of a 50 ms command).
pub fn prepare() {
    let tree = built(cli());
    *PREPARED.lock().unwrap_or_else(|p| p.into_inner()) = Some(tree);
}

/// Parses `argv` with the tree [`prepare`]d in this process, else with [`cli_for`]'s. The
/// prepared tree is left where it is, never dropped: it lives in memory shared with the
/// server until a write copies it, and freeing its every argument would copy most of it.
fn parse(argv: &[String]) -> Result<ArgMatches, clap::Error> {
    let mut prepared = PREPARED.lock().unwrap_or_else(|p| p.into_inner());
    match prepared.as_mut() {
        Some(tree) => tree.try_get_matches_from_mut(argv),
        None => cli_for(argv).try_get_matches_from(argv),
    }
}

/// The man page groups: (page name, title, subcommand names). Every subcommand is in one.
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
use lvmeta::ops::{
    Ctx, Layout, LvcreateOptions, LvremoveOptions, LvrenameOptions, LvresizeOptions, MirrorLog,
    OpError, PvckOptions, PvcreateOptions, PvremoveOptions, ResizeDir, Selection, SizeArg,
    VgcfgOptions, VgchangeOptions, VgckOptions, VgcreateOptions, VgextendOptions, VgreduceOptions,
    VgremoveOptions, VgrenameOptions,
};
use lvmeta::report::{self, ReportKind};
use lvmeta::units;

/// What a command produced: lines for stdout, and whether it found problems (vgck, pvck).
#[derive(Debug, Default)]
pub struct Outcome {
    pub stdout: String,
    /// Warnings (stale or damaged metadata copies, missing PVs) for stderr.
    pub stderr: String,
    pub failed: bool,
}

/// An error of a command; its `Display` is lvm2's wording ([`wording::error`]).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{}", wording::error(self))]
    Op(#[from] OpError),
    #[error("{}", wording::error(self))]
    Config(#[from] lvmeta::env::EnvError),
    #[error("{}", wording::error(self))]
    Usage(String),
    /// A `-S` selection lvm2 would refuse (exit 5, as lvm2).
    #[error("{}", wording::error(self))]
    Select(#[from] lvmeta::select::SelectError),
    #[error("{}", wording::error(self))]
    Activation(#[from] lvmeta::activation::ActivationError),
    #[error("{}", wording::error(self))]
    Cluster(#[from] clvmd_client::ClientError),
    /// A node that cannot see every PV of a shared VG refuses to join it.
    #[error("{}", wording::error(self))]
    NotUniform(String),
    /// A well-formed request lvm2 refuses when it runs (exit 5), in lvm2's words.
    #[error("{}", wording::error(self))]
    Refused(String),
}

impl CliError {
    /// lvm's exit codes: EINVALID_CMD_LINE = 3, ECMD_FAILED = 5.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Op(e) => e.exit_code(),
            CliError::Config(_) => 5,
            CliError::Usage(_) => 3,
            CliError::Select(_) => 5,
            CliError::Activation(e) => e.exit_code(),
            CliError::Cluster(_) => 5,
            CliError::NotUniform(_) | CliError::Refused(_) => 5,
        }
    }
}

fn usage(e: impl std::fmt::Display) -> CliError {
    CliError::Usage(e.to_string())
}

/// A size or unit on the command line lvm2 would refuse, in its words.
pub(crate) fn bad_units(e: units::UnitsError) -> CliError {
    usage(wording::units(&e))
}

fn strings(m: &ArgMatches, id: &str) -> Vec<String> {
    m.get_many::<String>(id)
        .map(|v| v.cloned().collect())
        .unwrap_or_default()
}

fn paths(m: &ArgMatches, id: &str) -> Vec<PathBuf> {
    strings(m, id).into_iter().map(PathBuf::from).collect()
}

/// Builds the environment from the common options (`--devices`, `--config`, `--lock-dir`),
/// halvm.toml and lvm.conf, through the one builder every halvm tool uses; the
/// configuration it was built from comes with it, so a command reads no file again.
pub fn env_from(common: &CommonOptions) -> Result<lvmeta::env::Built, CliError> {
    // Used only when halvm.toml says lock_manager = "dlm"; it connects per lock taken.
    let cluster = clvmd_client::DlmLocking::new(clvmd_client::socket_path(), CLUSTER_LOCK_WAIT);
    let mut built =
        lvmeta::env::build_with_cluster(&common.env_options(), Some(std::sync::Arc::new(cluster)))?;
    if common.test {
        built.env.enter_test_mode();
    }
    Ok(built)
}

/// How long a VG or global lock held by another node is retried (lvm2 with lvmlockd retries
/// too): long enough for a burst of commands from every node to pass one by one.
const CLUSTER_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

fn size_arg(cmd: &str, m: &ArgMatches) -> Result<Option<SizeArg>, CliError> {
    // lvm2's words for a bad size (exit 3).
    let parse = |e: units::UnitsError| {
        usage(format!(
            "{}\nError during parsing of command line.",
            wording::units(&e)
        ))
    };
    if let Some(s) = m.get_one::<String>("size") {
        let (sign, sectors) = units::parse_size(s).map_err(parse)?;
        if sectors == 0 && sign == units::Sign::Absolute {
            return Err(usage(format!(
                "--size may not be zero.\nRun `{cmd} --help' for more information."
            )));
        }
        return Ok(Some(SizeArg::Sectors(sign, sectors)));
    }
    if let Some(s) = m.get_one::<String>("extents") {
        let (sign, e) = units::parse_extents(s).map_err(parse)?;
        return Ok(Some(SizeArg::Extents(sign, e)));
    }
    Ok(None)
}

/// lvextend's, lvreduce's and lvresize's options, as the command line gives them.
fn lvresize_options(cmd: &str, m: &ArgMatches) -> Result<LvresizeOptions, CliError> {
    let size = size_arg(cmd, m)?.ok_or_else(|| usage(format!("{cmd} needs -L or -l")))?;
    let (vg, lv) = split_lv(m.get_one::<String>("lv").expect("required"))?;
    Ok(LvresizeOptions {
        vg,
        lv,
        size,
        pvs: paths(m, "pvs"),
        dir: match cmd {
            "lvextend" => ResizeDir::Extend,
            "lvreduce" => ResizeDir::Reduce,
            _ => ResizeDir::Any,
        },
        // `-f` where the command has it (lvreduce, lvresize; not lvextend).
        force: matches!(m.try_get_one::<bool>("force"), Ok(Some(true))),
    })
}

/// lvm.conf's backups and archives (with `--config`'s overrides), as the environment was
/// built from them.
fn lvm_backups(built: &lvmeta::env::Built) -> Option<lvmeta::ops::LvmBackups> {
    built.lvm.backups(&built.env.host)
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

/// `-S`: a selection and where the columns it reads stand in a report's rows (fetched after
/// the report's own columns, used, then dropped).
struct RowFilter {
    expr: lvmeta::select::Expr,
    fields: Vec<&'static report::FieldDef>,
    from: usize,
}

impl RowFilter {
    /// Parses `text` and appends the columns it reads to `fields`.
    fn new(
        kind: ReportKind,
        text: &str,
        fields: &mut Vec<&'static report::FieldDef>,
    ) -> Result<RowFilter, CliError> {
        let expr = lvmeta::select::parse(kind, text)?;
        let own = expr.fields();
        let from = fields.len();
        fields.extend(own.iter().copied());
        Ok(RowFilter {
            expr,
            fields: own,
            from,
        })
    }

    /// Whether a row fetched with those columns is selected.
    fn keeps(&self, row: &[report::Cell]) -> bool {
        self.expr.matches(&|f| {
            self.fields
                .iter()
                .position(|g| std::ptr::eq(*g, f))
                .map_or(report::Cell::Empty, |i| row[self.from + i].clone())
        })
    }
}

fn run_report(
    ctx: &Ctx,
    kind: ReportKind,
    ro: &ReportOptions,
    targets: &[String],
    all: bool,
) -> Result<Outcome, CliError> {
    if ro.fields.iter().any(|o| o == "help") {
        // lvm2 lists the fields on stderr and succeeds.
        return Ok(Outcome {
            stderr: field_help(kind),
            ..Outcome::default()
        });
    }
    if ro.select.as_deref().is_some_and(lvmeta::select::is_help) {
        // lvm2 lists the selection fields and operators on stderr and succeeds.
        return Ok(Outcome {
            stderr: lvmeta::select::help(),
            ..Outcome::default()
        });
    }
    let mut fields = report::select_fields(kind, &ro.fields).map_err(OpError::from)?;
    let shown = fields.len();
    let selection = match &ro.select {
        Some(text) => match RowFilter::new(kind, text, &mut fields) {
            Ok(f) => Some(f),
            // lvm2 has begun its JSON report when the selection fails: it closes it empty.
            Err(CliError::Select(e)) if ro.render.json => {
                return Ok(Outcome {
                    stdout: "  {\n      \"report\": [\n      ]\n  }\n".into(),
                    stderr: e.lines.iter().map(|l| format!("  {l}\n")).collect(),
                    failed: true,
                })
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    let sorted_from = fields.len();
    // -O: sort keys are fetched as extra columns, used, then dropped.
    let mut descending = Vec::new();
    for key in &ro.sort {
        let (desc, name) = match key.strip_prefix('-') {
            Some(n) => (true, n),
            None => (false, key.trim_start_matches('+')),
        };
        let f = report::select_fields(kind, &[name.to_string()]).map_err(OpError::from)?;
        fields.extend(f.iter().copied());
        descending.extend(std::iter::repeat_n(desc, f.len()));
    }
    let sel = Selection {
        all_lvs: all,
        foreign: ro.foreign,
    };
    let (mut rows, warnings) = ctx.report_with_warnings(kind, &fields, targets, sel)?;
    if let Some(f) = &selection {
        rows.retain(|r| f.keeps(r));
    }
    if !descending.is_empty() || selection.is_some() {
        rows.sort_by(|a, b| {
            descending
                .iter()
                .enumerate()
                .map(|(i, &desc)| {
                    let o = cmp_cells(&a[sorted_from + i], &b[sorted_from + i]);
                    if desc {
                        o.reverse()
                    } else {
                        o
                    }
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        for r in &mut rows {
            r.truncate(shown);
        }
        fields.truncate(shown);
    }
    Ok(Outcome {
        stdout: report::render(kind, &fields, &rows, &ro.render),
        stderr: lines(warnings.iter().map(wording::report_warning).collect()),
        failed: false,
    })
}

/// The positional targets of lvchange/lvremove (`VG/LV`, id `lvs`) or vgchange (VGs, id
/// `vg`); with `-S`, the LVs or VGs the selection picks among them (all when none is named).
pub(crate) fn targets(ctx: &Ctx, m: &ArgMatches, id: &str) -> Result<Vec<String>, CliError> {
    let named = strings(m, id);
    let Some(text) = m.try_get_one::<String>("select").ok().flatten() else {
        return Ok(named);
    };
    let kind = if id == "vg" {
        ReportKind::Vgs
    } else {
        ReportKind::Lvs
    };
    let names = if kind == ReportKind::Vgs {
        "vg_name"
    } else {
        "vg_name,lv_name"
    };
    let mut fields = report::select_fields(kind, &[names.to_string()]).map_err(OpError::from)?;
    let base = fields.len();
    let filter = RowFilter::new(kind, text, &mut fields)?;
    let sel = Selection {
        all_lvs: false,
        foreign: false,
    };
    let (rows, _) = ctx.report_with_warnings(kind, &fields, &named, sel)?;
    let text = |c: &report::Cell| match c {
        report::Cell::Str(s) => s.clone(),
        _ => String::new(),
    };
    Ok(rows
        .iter()
        .filter(|r| filter.keeps(r))
        .map(|r| {
            if base == 1 {
                text(&r[0])
            } else {
                format!("{}/{}", text(&r[0]), text(&r[1]))
            }
        })
        .collect())
}

/// Orders two report cells as lvm2's `-O` does: numbers and sizes by value, text by bytes,
/// empty first.
fn cmp_cells(a: &report::Cell, b: &report::Cell) -> std::cmp::Ordering {
    use report::Cell as C;
    use std::cmp::Ordering;
    match (a, b) {
        (C::Size(x), C::Size(y)) => x.cmp(y),
        (C::Num(x), C::Num(y)) => x.cmp(y),
        (C::Pct(x), C::Pct(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (C::Time(x), C::Time(y)) => x.cmp(y),
        (C::Str(x), C::Str(y)) => x.cmp(y),
        (C::Empty, C::Empty) => Ordering::Equal,
        (C::Empty, _) => Ordering::Less,
        (_, C::Empty) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

/// `-o help`: the fields a report knows, by section, in lvm2's layout.
fn field_help(kind: ReportKind) -> String {
    use report::FieldType as T;
    let mut out = String::new();
    for (t, title, all) in [
        (T::Lv, "Logical Volume Fields", "lv_all"),
        (T::Pv, "Physical Volume Fields", "pv_all"),
        (T::Vg, "Volume Group Fields", "vg_all"),
        (T::Seg, "Logical Volume Segment Fields", "seg_all"),
    ] {
        if !kind.allowed(t) {
            continue;
        }
        out.push_str(&format!("  {title}\n  {}\n", "-".repeat(title.len())));
        out.push_str(&format!("    {all:<28}- All fields in this section.\n"));
        for f in report::FIELDS.iter().filter(|f| f.ftype == t) {
            // lvm2's line: the field's description (lib/report/columns.h).
            out.push_str(&format!("    {:<28}- {}\n", f.name, f.desc));
        }
        out.push_str("  \n");
    }
    out
}

/// Runs one parsed command line.
pub fn run(matches: &ArgMatches) -> Result<Outcome, CliError> {
    let (name, m) = matches
        .subcommand()
        .ok_or_else(|| usage("no command given"))?;
    let built = env_from(&CommonOptions::from_matches(m)).map_err(|e| match e {
        // A bad --config string is a command line error to lvm2 (exit 3).
        CliError::Config(c @ lvmeta::env::EnvError::ConfigString { .. }) => usage(format!(
            "{}\nRun `{name} --help' for more information.",
            wording::env(&c)
        )),
        e => e,
    })?;
    run_in(matches, &built)
}

/// Runs one parsed command line in an environment already built ([`env_from`] for [`run`];
/// tests build theirs, e.g. without device-mapper).
pub fn run_in(matches: &ArgMatches, built: &lvmeta::env::Built) -> Result<Outcome, CliError> {
    let (name, m) = matches
        .subcommand()
        .ok_or_else(|| usage("no command given"))?;
    let test_mode = built.env.test_mode;
    let ctx = Ctx { env: &built.env };
    if let Some(r) = activation::dispatch(name, m, &ctx) {
        return r;
    }
    let out = |s: String| {
        Ok(Outcome {
            stdout: lines(s.lines().map(str::to_string).collect()),
            stderr: String::new(),
            failed: false,
        })
    };
    match name {
        "pvcreate" => {
            let mdasize = match m.get_one::<String>("metadatasize") {
                Some(s) => {
                    let (sign, sectors) = units::parse_size(s).map_err(bad_units)?;
                    if sign != units::Sign::Absolute {
                        return Err(usage("--metadatasize takes an absolute size"));
                    }
                    Some(sectors * 512)
                }
                None => None,
            };
            let data_alignment = match m.get_one::<String>("dataalignment") {
                Some(s) => {
                    // lvm2's unit for --dataalignment is KiB.
                    let with_unit = if s.ends_with(|c: char| c.is_ascii_digit()) {
                        format!("{s}k")
                    } else {
                        s.clone()
                    };
                    let (sign, sectors) = units::parse_size(&with_unit).map_err(bad_units)?;
                    if sign != units::Sign::Absolute {
                        return Err(usage("--dataalignment takes an absolute size"));
                    }
                    Some(sectors * 512)
                }
                None => None,
            };
            let uuid = m.get_one::<String>("uuid").cloned();
            let restore_file = m.get_one::<String>("restorefile").map(PathBuf::from);
            // lvm2's devices/require_restorefile_with_uuid (default 1).
            if uuid.is_some() && restore_file.is_none() && !m.get_flag("norestorefile") {
                return Err(usage(
                    "--restorefile is required with --uuid\nRun `pvcreate --help' for more information.",
                ));
            }
            let r = ctx.pvcreate(&PvcreateOptions {
                pvs: paths(m, "pvs"),
                metadata_size: mdasize,
                data_alignment,
                uuid,
                restore_file,
                force: m.get_flag("force"),
            })?;
            Ok(Outcome {
                stdout: lines(msg::pvs_created(&r)),
                stderr: String::new(),
                failed: false,
            })
        }
        "pvremove" => Ok(Outcome {
            stdout: lines(msg::pvs_wiped(&ctx.pvremove(&PvremoveOptions {
                pvs: paths(m, "pvs"),
                force_twice: m.get_count("force") >= 2,
            })?)),
            stderr: String::new(),
            failed: false,
        }),
        "pvck" => {
            let (r, ok) = ctx.pvck(&PvckOptions {
                pvs: paths(m, "pvs"),
            })?;
            Ok(Outcome {
                stdout: lines(r.iter().map(wording::pv_finding).collect()),
                stderr: String::new(),
                failed: !ok,
            })
        }
        "pvs" | "vgs" | "lvs" => {
            let (kind, targets, all) = match name {
                "pvs" => (ReportKind::Pvs, "pvs", false),
                "vgs" => (ReportKind::Vgs, "vgs", false),
                _ => (ReportKind::Lvs, "targets", m.get_flag("all")),
            };
            let ro = ReportOptions::from_matches(m)?;
            run_report(&ctx, kind, &ro, &strings(m, targets), all)
        }
        "vgcreate" => {
            let es = match m.get_one::<String>("physicalextentsize") {
                Some(s) => {
                    let (sign, sectors) = units::parse_size(s).map_err(bad_units)?;
                    if sign != units::Sign::Absolute {
                        return Err(usage("-s takes an absolute size"));
                    }
                    sectors
                }
                None => 8192,
            };
            let vg = m.get_one::<String>("vg").expect("required");
            let o = VgcreateOptions {
                extent_size: es,
                system_id: m.get_one::<String>("systemid").cloned(),
                tags: strings(m, "addtag"),
                shared_lock_args: match m.get_flag("shared") {
                    true => Some(lvmeta::ops::shared::dlm_lock_args(&shared::cluster_name()?)),
                    false => None,
                },
                ..VgcreateOptions::new(vg, paths(m, "pvs"))
            };
            let mut said = msg::pvs_created(&ctx.pvcreate_unlabelled(&o.pvs)?);
            ctx.vgcreate(&o)?;
            if let Some(args) = &o.shared_lock_args {
                let started = shared::lockstart(&ctx, vg, None)?;
                said.push(format!(
                    "Volume group \"{vg}\" successfully created (lock type dlm, {args})\n  {started}"
                ));
                return out(said.join("\n"));
            }
            said.push(format!("Volume group \"{vg}\" successfully created"));
            out(said.join("\n"))
        }
        "vgextend" => {
            let vg = m.get_one::<String>("vg").expect("required");
            let o = VgextendOptions {
                vg: vg.clone(),
                pvs: paths(m, "pvs"),
                restore_missing: m.get_flag("restoremissing"),
            };
            // lvm2 initialises unlabelled devices first.
            let mut said = match o.restore_missing {
                true => Vec::new(),
                false => msg::pvs_created(&ctx.pvcreate_unlabelled(&o.pvs)?),
            };
            ctx.vgextend(&o)?;
            said.push(format!("Volume group \"{vg}\" successfully extended"));
            out(said.join("\n"))
        }
        "vgreduce" => {
            let vg = m.get_one::<String>("vg").expect("required");
            let r = ctx.vgreduce(&VgreduceOptions {
                vg: vg.clone(),
                pvs: paths(m, "pvs"),
                remove_missing: m.get_flag("removemissing"),
                force: m.get_flag("force"),
            })?;
            Ok(Outcome {
                stdout: lines(msg::vg_reduced(vg, &r)),
                ..Outcome::default()
            })
        }
        "vgremove" => {
            let mut s = Vec::new();
            for vg in strings(m, "vgs") {
                ctx.vgremove(&VgremoveOptions {
                    vg: vg.clone(),
                    force: m.get_flag("force"),
                })?;
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
            ctx.vgrename(&VgrenameOptions {
                old: old.clone(),
                new: new.clone(),
            })?;
            out(format!(
                "Volume group \"{old}\" successfully renamed to \"{new}\""
            ))
        }
        "vgchange"
            if m.get_flag("lockstart")
                || m.get_flag("lockstop")
                || m.get_one::<String>("locktype").is_some() =>
        {
            shared::vgchange(&ctx, &built.config, m)
        }
        "vgchange" => {
            let (sid, mut add, mut del) = (
                m.get_one::<String>("systemid"),
                strings(m, "addtag"),
                strings(m, "deltag"),
            );
            // One policy tag at a time: the chosen one's is added, the others' go.
            let mut policy_tags = |chosen: &str, all: Vec<(&str, String)>| {
                for (name, tag) in all {
                    if name == chosen {
                        add.push(tag);
                    } else {
                        del.push(tag);
                    }
                }
            };
            if let Some(p) = m.get_one::<String>("detachpolicy") {
                let all = halvm_config::DetachPolicy::ALL.iter();
                policy_tags(p, all.map(|q| (q.as_str(), q.vg_tag())).collect());
            }
            if let Some(p) = m.get_one::<String>("dgfailpolicy") {
                let all = halvm_config::DgFailurePolicy::ALL.iter();
                policy_tags(p, all.map(|q| (q.as_str(), q.vg_tag())).collect());
            }
            if sid.is_none() && add.is_empty() && del.is_empty() {
                return Err(usage(
                    "vgchange needs --systemid, --addtag, --deltag, --detachpolicy, --dgfailpolicy, --lockstart, --lockstop or --locktype",
                ));
            }
            let mut said = Vec::new();
            for vg in targets(&ctx, m, "vg")? {
                ctx.vgchange(&VgchangeOptions {
                    vg: vg.clone(),
                    system_id: sid.cloned(),
                    add_tags: add.clone(),
                    del_tags: del.clone(),
                    majority_pvs: m.get_flag("majoritypvs"),
                })?;
                said.push(format!("Volume group \"{vg}\" successfully changed"));
            }
            Ok(Outcome {
                stdout: lines(said),
                ..Outcome::default()
            })
        }
        "vgck" => {
            let (r, ok) = ctx.vgck(&VgckOptions {
                vgs: strings(m, "vgs"),
                update_metadata: m.get_flag("updatemetadata"),
            })?;
            // lvm2 prints the device-size warnings on stderr (the copy report stays on stdout).
            let (warn, report): (Vec<_>, Vec<_>) = r.into_iter().partition(|f| f.is_device_size());
            Ok(Outcome {
                stdout: lines(report.iter().map(wording::vg_finding).collect()),
                stderr: lines(warn.iter().map(wording::vg_finding).collect()),
                failed: !ok,
            })
        }
        "vgcfgrestore" if m.get_flag("list") => {
            let vg = m.get_one::<String>("vg").expect("required");
            let files = lvm_backups(built).map(|b| b.list(vg)).unwrap_or_default();
            Ok(Outcome {
                stdout: msg::backup_list(&files),
                ..Outcome::default()
            })
        }
        "vgcfgbackup" | "vgcfgrestore" => {
            let vg = m.get_one::<String>("vg").expect("required");
            // Without -f (vgcfgrestore only): the VG's backup in lvm.conf's backup_dir.
            let file = match m.get_one::<String>("file") {
                Some(f) => PathBuf::from(f),
                None => lvm_backups(built)
                    .and_then(|b| b.backup_of(vg))
                    .ok_or_else(|| {
                        usage("vgcfgrestore needs -f FILE: backups are off in lvm.conf")
                    })?,
            };
            let o = VgcfgOptions {
                vg: vg.clone(),
                file,
            };
            if name == "vgcfgbackup" {
                ctx.vgcfgbackup(&o)?;
                out(format!("Volume group \"{vg}\" successfully backed up."))
            } else {
                ctx.vgcfgrestore(&o)?;
                out(format!("Restored volume group {vg}."))
            }
        }
        "lvcreate" => {
            let size = size_arg(name, m)?.ok_or_else(|| usage("lvcreate needs -L or -l"))?;
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
                    .map_err(bad_units)?;
                    if !sectors.is_power_of_two() || sectors < 8 {
                        return Err(usage(format!(
                            "invalid stripe size {s}: a power of two of at least 4k"
                        )));
                    }
                    sectors
                }
                None => 128,
            };
            // lvm2's refusals of a layout, before anything is read (exit 3).
            let help = "Run `lvcreate --help' for more information.";
            if let (Some(t @ ("raid1" | "mirror")), Some(i)) = (ty, stripes) {
                if i > 1 || t == "raid1" {
                    return Err(usage(format!(
                        "Stripes argument cannot be used with segment type, {t}\n{help}"
                    )));
                }
            }
            // lvm2's `_read_mirror_params`: --mirrorlog (default disk) or --corelog, and
            // only with --type mirror (-m alone is raid1, global/mirror_segtype_default).
            let corelog = m.get_flag("corelog");
            let log_arg = m.get_one::<String>("mirrorlog").map(String::as_str);
            if corelog && log_arg.is_some_and(|l| l != "core") {
                return Err(usage(format!(
                    "Please use only one of --corelog or --mirrorlog.\n{help}"
                )));
            }
            if let (Some(l), true) = (log_arg, ty != Some("mirror")) {
                return Err(usage(if ty.is_some() {
                    format!("Command does not accept option: --mirrorlog {l}.")
                } else {
                    format!("--mirrorlog is supported only with mirrors.\n{help}")
                }));
            }
            let mirror_log =
                match (log_arg, corelog) {
                    (Some("mirrored"), _) => return Err(CliError::Refused(
                        "Log type \"mirrored\" is DEPRECATED. Use RAID1 LV or disk log instead."
                            .into(),
                    )),
                    (Some("core"), _) | (None, true) => Some(MirrorLog::Core),
                    (Some(_), _) => Some(MirrorLog::Disk),
                    (None, false) => None,
                };
            if ty == Some("mirror") && mirrors == Some(0) {
                return Err(usage(format!(
                    "--mirrors must be at least 1 with segment type mirror.\n{help}"
                )));
            }
            let layout = match (ty, stripes.unwrap_or(1), mirrors.unwrap_or(0)) {
                (Some("raid1"), _, m) | (None, 1, m) if m > 0 || ty == Some("raid1") => {
                    Layout::Raid1 { mirrors: m.max(1) }
                }
                (Some("mirror"), _, m) => Layout::Mirror {
                    mirrors: m.max(1),
                    log: mirror_log.unwrap_or(MirrorLog::Disk),
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
            let vg = m.get_one::<String>("lv").expect("required").clone();
            // No -n: ops picks lvm2's next free lvolN.
            let lvname = m.get_one::<String>("name").cloned().unwrap_or_default();
            let new_lv = activation::NewLv::from_args(m)?;
            let mut said = Vec::new();
            let created = ctx.lvcreate(&LvcreateOptions {
                vg: vg.clone(),
                name: lvname,
                size,
                layout,
                pvs: paths(m, "pvs"),
            })?;
            said.extend(created.notes);
            if !test_mode {
                said.extend(activation::after_lvcreate(
                    &ctx,
                    &vg,
                    &created.name,
                    &new_lv,
                )?);
            }
            said.push(format!("Logical volume \"{}\" created.", created.name));
            out(said.join("\n"))
        }
        "lvextend" | "lvreduce" | "lvresize" => {
            let o = lvresize_options(name, m)?;
            let r = ctx.lvresize(&o)?;
            Ok(Outcome {
                stdout: lines(msg::resized(&o.vg, &o.lv, &r)),
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
            // A VG named in the new name must be the same VG (lvm2, exit 3).
            if let Some((nvg, _)) = new.trim_start_matches("/dev/").split_once('/') {
                if nvg != vg {
                    return Err(usage(format!(
                        "Logical volume names must have the same volume group (\"{vg}\" or \"{nvg}\")\nRun `lvrename --help' for more information."
                    )));
                }
            }
            let old = old.rsplit('/').next().unwrap_or(&old).to_string();
            let new = new.rsplit('/').next().unwrap_or(&new).to_string();
            ctx.lvrename(&LvrenameOptions {
                vg: vg.clone(),
                old: old.clone(),
                new: new.clone(),
            })?;
            out(format!(
                "Renamed \"{old}\" to \"{new}\" in volume group \"{vg}\""
            ))
        }
        "lvremove" => {
            let mut by_vg: Vec<(String, Vec<String>)> = Vec::new();
            for t in targets(&ctx, m, "lvs")? {
                let (v, l) = split_lv(&t)?;
                match by_vg.iter_mut().find(|(x, _)| *x == v) {
                    Some((_, ls)) => ls.push(l),
                    None => by_vg.push((v, vec![l])),
                }
            }
            let mut s = Vec::new();
            for (vg, lvs) in by_vg {
                ctx.lvremove(&LvremoveOptions {
                    vg,
                    lvs: lvs.clone(),
                })?;
                s.extend(
                    lvs.iter()
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
pub mod options;
mod shared;
pub mod wording;

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

    /// lvm2's `vgcfgrestore --list` layout.
    /// vgreduce's lines: the PVs removed, or what `--removemissing` did.
    pub fn vg_reduced(vg: &str, r: &lvmeta::ops::VgReduced) -> Vec<String> {
        use lvmeta::ops::VgReduced;
        match r {
            VgReduced::Pvs(pvs) => pvs
                .iter()
                .map(|p| format!("Removed \"{}\" from volume group \"{vg}\"", p.display()))
                .collect(),
            VgReduced::Missing { pvs, lvs } => {
                let mut s: Vec<String> = lvs
                    .iter()
                    .map(|l| format!("Logical volume \"{vg}/{l}\" successfully removed."))
                    .collect();
                s.push(if pvs.is_empty() {
                    format!("Volume group \"{vg}\" is already consistent.")
                } else {
                    format!("Wrote out consistent volume group {vg}.")
                });
                s
            }
        }
    }

    pub fn backup_list(files: &[lvmeta::ops::BackupFile]) -> String {
        let mut out = String::new();
        for f in files {
            out.push_str(&format!(
                "   \n  File:\t\t{}\n  VG name:    \t{}\n  Description:\t{}\n  Backup Time:\t{}\n\n",
                f.path.display(),
                f.vg,
                f.description,
                lvmeta_model::time::ctime_utc(f.creation_time)
            ));
        }
        out
    }

    /// lvm2's lines for a resize: its rounding notes, then the change (sizes in
    /// `display_size` units) or that nothing could be added.
    pub fn resized(vg: &str, lv: &str, r: &Resized) -> Vec<String> {
        use lvmeta_model::sizing::display_size;
        let es = r.extent_size.0;
        let mut said = r.notes.clone();
        said.push(if r.from == r.to {
            format!(
                "Size of logical volume {vg}/{lv} unchanged from {} ({} extents).",
                display_size(r.from.0 * es),
                r.from.0
            )
        } else {
            format!(
                "Size of logical volume {vg}/{lv} changed from {} ({} extents) to {} ({} extents).",
                display_size(r.from.0 * es),
                r.from.0,
                display_size(r.to.0 * es),
                r.to.0
            )
        });
        said.push(format!("Logical volume {vg}/{lv} successfully resized."));
        said
    }
}

/// Runs the command line of this process and returns lvm's exit code for it (see
/// [`main_with`]): through lvmeta-server when one answers on its socket (`LVMETA_SERVER`,
/// lvmeta-server(8); the server's worker runs [`main_with`] on this process's fds, cwd,
/// environment and umask, which saves this command's work, not lvmeta's own start), else
/// here. The `lvmeta` binary (and test copies of it) only pass the code to `process::exit`.
pub fn main_exit() -> i32 {
    lvmeta::env::without_huge_pages();
    let argv: Vec<String> = std::env::args().collect();
    if let lvmeta_forward::Target::Socket(path) = lvmeta_forward::socket_path() {
        if let Some(code) = lvmeta_forward::outcome(lvmeta_forward::forward(&path, &argv), "lvmeta")
        {
            return code;
        }
    }
    main_with(&argv)
}

/// Runs the command line `argv` (argv[0] included) in this process and returns lvm's exit
/// code for it: 0 ok, 3 invalid command line, 5 command failed. The one place errors become
/// exit codes, for the `lvmeta` binary and lvmeta-server's workers alike.
pub fn main_with(argv: &[String]) -> i32 {
    use std::io::Write;
    // Backups name the command run, which in a worker is not the process's own argv.
    lvmeta::env::set_command_line(argv.get(1..).unwrap_or_default());
    let matches = match parse(argv) {
        Ok(m) => m,
        Err(e) => {
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    let _ = e.print();
                    0
                }
                _ => {
                    eprint!("{}", clap_error_as_lvm(&e, argv));
                    3
                }
            };
        }
    };
    // Warnings (and with -v, more) on stderr as lvm2 prints them; warnings and errors also
    // to syslog/journald, as lvm2's log/syslog = 1.
    let level = matches
        .subcommand()
        .map(|(_, m)| verbosity(m))
        .unwrap_or(log::LevelFilter::Warn);
    halvm_syslog::Syslog::new("lvmeta", log::LevelFilter::Warn)
        .with_stderr(level)
        .install();
    if let Some((_, m)) = matches.subcommand() {
        if CommonOptions::from_matches(m).test {
            // lvm2 says it first, on stderr, whatever the command.
            eprintln!("  {}", options::TEST_MODE_NOTICE);
        }
    }
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
            // A selection's error lines carry lvm2's help text, indented as lvm2 logs it.
            let keep_indent = matches!(e, CliError::Select(_));
            for l in wording::error(&e).lines() {
                eprintln!("  {}", if keep_indent { l } else { l.trim_start() });
            }
            e.exit_code()
        }
    }
}

/// The stderr level `-v`/`-q` ask for (see `CommonOptions::verbosity`).
pub fn verbosity(m: &ArgMatches) -> log::LevelFilter {
    CommonOptions::from_matches(m).verbosity()
}

/// A command-line error in lvm2's words (its getopt and command-matching messages) instead
/// of clap's several lines; the exit code is lvm's EINVALID_CMD_LINE (3).
pub fn clap_error_as_lvm(e: &clap::Error, argv: &[String]) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let cmd = argv.get(1).map(String::as_str).unwrap_or("lvmeta");
    let ctx = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(" "),
        _ => String::new(),
    };
    // "--size <SIZE>" or "-L, --size <SIZE>" → "--size"
    let option = |s: String| {
        s.split([' ', '='])
            .find(|w| w.starts_with("--"))
            .map(str::to_string)
            .unwrap_or(s)
    };
    let parse_error = "  Error during parsing of command line.\n";
    match e.kind() {
        ErrorKind::UnknownArgument => {
            format!("{cmd}: unrecognized option '{}'\n{parse_error}", ctx(ContextKind::InvalidArg))
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation | ErrorKind::InvalidUtf8 => format!(
            "  Invalid argument for {}: {}\n{parse_error}",
            option(ctx(ContextKind::InvalidArg)),
            ctx(ContextKind::InvalidValue)
        ),
        ErrorKind::InvalidSubcommand => "  No such command.  Try 'lvmeta --help'.\n".to_string(),
        ErrorKind::ArgumentConflict => format!(
            "  Option {} cannot be used with {}.\n{parse_error}",
            option(ctx(ContextKind::InvalidArg)),
            option(ctx(ContextKind::PriorArg))
        ),
        ErrorKind::MissingRequiredArgument => format!(
            "  No command with matching syntax recognised.  Run '{cmd} --help' for more information.\n  Nearest similar command also needs: {}\n",
            ctx(ContextKind::InvalidArg)
        ),
        _ => format!(
            "  No command with matching syntax recognised.  Run '{cmd} --help' for more information.\n"
        ),
    }
}
