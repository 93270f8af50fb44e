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
            .help("Directory for local flock locks (default from the configuration, /run/lock/halvm)"),
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
}

fn vg_arg(required: bool) -> Arg {
    Arg::new("vg").value_name("VG").required(required).help("Volume group name")
}

fn pv_list(help: &'static str) -> Arg {
    Arg::new("pvs").value_name("PV").num_args(1..).required(true).help(help)
}

fn size_args(cmd: Command, signed: bool) -> Command {
    let sz = if signed { "[+|-]SIZE[UNIT]" } else { "SIZE[UNIT]" };
    let ex = if signed { "[+|-]N[%FREE|%VG|%PVS]" } else { "N[%FREE|%VG|%PVS]" };
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
    cmd.arg(Arg::new("lv").value_name(value_name).required(true).help(help))
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
                .arg(pv_list("Devices to add")),
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
        .arg(flag("force").short('f').help("Accepted for lvm compatibility (lvmeta never asks)")),
        lv_target(size_args(
            Command::new("lvresize").about("Grow or shrink a logical volume"),
            true,
        ))
        .arg(flag("force").short('f').help("Accepted for lvm compatibility")),
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
                .arg(flag("force").short('f').help("Accepted for lvm compatibility")),
        ),
        report(common(
            Command::new("lvs")
                .about("Report logical volumes")
                .arg(flag("all").short('a').help("Also show internal LVs (mirror/raid images, logs)"))
                .arg(Arg::new("targets").value_name("VG|VG/LV").num_args(0..).help("Only these VGs or LVs")),
        )),
    ];
    let subs = subs
        .into_iter()
        .map(|c| {
            if matches!(c.get_name(), "lvcreate" | "lvextend" | "lvreduce" | "lvresize") {
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
    ("lvmeta-pv", "physical volume commands of lvmeta", &["pvcreate", "pvremove", "pvs", "pvck"]),
    (
        "lvmeta-vg",
        "volume group commands of lvmeta",
        &[
            "vgcreate", "vgextend", "vgreduce", "vgremove", "vgrename", "vgchange", "vgs", "vgck",
            "vgcfgbackup", "vgcfgrestore",
        ],
    ),
    (
        "lvmeta-lv",
        "logical volume commands of lvmeta",
        &["lvcreate", "lvextend", "lvreduce", "lvresize", "lvrename", "lvremove", "lvs"],
    ),
];

/// A command holding only one group's subcommands, for its man page.
pub fn group_cli(name: &str) -> Option<Command> {
    let (page, title, subs) = MAN_GROUPS.iter().find(|g| g.0 == name)?;
    let full = cli();
    let mut cmd = Command::new(*page).about(*title);
    for s in full.get_subcommands().filter(|s| subs.contains(&s.get_name())) {
        cmd = cmd.subcommand(s.clone());
    }
    Some(cmd)
}
