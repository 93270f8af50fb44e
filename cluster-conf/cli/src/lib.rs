//! The cluster-conf command line: `validate`, `to-pcs`, `to-crm`, `to-cib`, and the cluster
//! stack's files `to-corosync`, `to-dlm-conf`.
//!
//! [`cli`] is the clap definition (the man page and the tests reuse it); [`run`] does the work
//! and returns a [`CliError`]; `main.rs` maps errors to exit codes.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, ArgMatches, Command};
use halvm_rgmanager::{
    parse, to_corosync, to_dlm_conf, translate, ClusterConf, ConfErrors, Format, Plan, StackFile,
};

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: the cluster.conf is malformed or invalid.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: bad command line (clap's own).
pub const EXIT_USAGE: u8 = 2;
/// Exit status: the input could not be read or the output not written.
pub const EXIT_IO: u8 = 3;
/// Exit status: `--strict` and the translation reported warnings.
pub const EXIT_WARNINGS: u8 = 4;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: invalid cluster.conf:\n{}", path.display(), indent(&errors.to_string()))]
    Invalid { path: PathBuf, errors: ConfErrors },
    #[error("{}: cannot translate to the cluster stack:\n{}", path.display(), indent(&errors.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")))]
    Stack {
        path: PathBuf,
        errors: Vec<halvm_rgmanager::StackError>,
    },
    #[error("--addr {given:?}: expected NODE=ADDR or NODE=ADDR,ADDR1")]
    Addr { given: String },
    #[error("{warnings} warning(s) in the translation report and --strict was given")]
    Strict { warnings: usize },
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn file_arg() -> Arg {
    Arg::new("file")
        .value_name("FILE")
        .required(true)
        .value_parser(clap::value_parser!(PathBuf))
        .help("The cluster.conf to read (- for standard input)")
}

fn translate_cmd(name: &'static str, about: &'static str) -> Command {
    Command::new(name)
        .about(about)
        .arg(file_arg())
        .arg(
            Arg::new("output")
                .short('o')
                .long("output")
                .value_name("OUT")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Write the result to OUT instead of standard output"),
        )
        .arg(
            Arg::new("strict")
                .long("strict")
                .action(ArgAction::SetTrue)
                .help("Exit with status 4 when the translation report has warnings (the output is still written)"),
        )
        .arg(
            Arg::new("quiet")
                .short('q')
                .long("quiet")
                .action(ArgAction::SetTrue)
                .help("Do not print the translation report on standard error (it stays in the output as comments)"),
        )
}

/// The clap definition of `cluster-conf`.
pub fn cli() -> Command {
    Command::new("cluster-conf")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Validate an rgmanager cluster.conf and translate it to Pacemaker")
        .long_about(
            "Validate an rgmanager cluster.conf (cman/rgmanager clusters) and translate its nodes, \
             fence devices, failover domains and services to Pacemaker: a pcs script, crm configure \
             text or a full CIB. Whatever has no exact equivalent is reported on standard error and \
             written as comments into the output; nothing is dropped silently.",
        )
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("validate")
                .about("Parse and validate FILE; print a summary and the translation report")
                .arg(file_arg())
                .arg(
                    Arg::new("strict")
                        .long("strict")
                        .action(ArgAction::SetTrue)
                        .help("Exit with status 4 when the translation report has warnings"),
                )
                .arg(
                    Arg::new("quiet")
                        .short('q')
                        .long("quiet")
                        .action(ArgAction::SetTrue)
                        .help("Print nothing on success"),
                ),
        )
        .subcommand(translate_cmd(
            "to-pcs",
            "Translate FILE to a bash script of pcs commands (CIB=cib.xml runs them on a CIB file with pcs -f)",
        ))
        .subcommand(translate_cmd(
            "to-crm",
            "Translate FILE to crm configure text (crm configure load update OUT)",
        ))
        .subcommand(translate_cmd(
            "to-cib",
            "Translate FILE to a complete CIB XML document (crm_verify -x OUT checks it)",
        ))
        .subcommand(
            translate_cmd(
                "to-corosync",
                "Write the corosync.conf FILE implies: cluster name, nodelist, two_node, knet, totem timing, logging",
            )
            .arg(
                Arg::new("addr")
                    .long("addr")
                    .value_name("NODE=ADDR[,ADDR1]")
                    .action(ArgAction::Append)
                    .help("Use ADDR as NODE's ring0 address (and ADDR1 as its ring1) instead of the node name and <altname>; repeatable"),
            ),
        )
        .subcommand(translate_cmd(
            "to-dlm-conf",
            "Write the /etc/dlm/dlm.conf FILE implies (<dlm> and <fence_daemon post_join_delay>)",
        ))
}

fn read_input(path: &Path) -> Result<String, CliError> {
    let err = |source| CliError::Read {
        path: path.to_path_buf(),
        source,
    };
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map_err(err)?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).map_err(err)
    }
}

/// Reads, parses and validates FILE.
pub fn load_conf(path: &Path) -> Result<ClusterConf, CliError> {
    let text = read_input(path)?;
    parse(&text).map_err(|errors| CliError::Invalid {
        path: path.to_path_buf(),
        errors,
    })
}

/// Reads, parses, validates and translates FILE.
pub fn load(path: &Path) -> Result<Plan, CliError> {
    Ok(translate(&load_conf(path)?))
}

/// `--addr NODE=ADDR[,ADDR1]` values.
fn addrs(sub: &ArgMatches) -> Result<Vec<(String, Vec<String>)>, CliError> {
    sub.get_many::<String>("addr")
        .into_iter()
        .flatten()
        .map(|given| {
            let bad = || CliError::Addr {
                given: given.clone(),
            };
            let (node, list) = given.split_once('=').ok_or_else(bad)?;
            if node.is_empty() {
                return Err(bad());
            }
            Ok((
                node.to_string(),
                list.split(',').map(str::to_string).collect(),
            ))
        })
        .collect()
}

/// `to-corosync` and `to-dlm-conf`: the cluster stack's files rather than Pacemaker's.
fn stack_file(name: &str, sub: &ArgMatches, path: &Path) -> Result<StackFile, CliError> {
    let conf = load_conf(path)?;
    let out = match name {
        "to-corosync" => to_corosync(&conf, &addrs(sub)?),
        _ => to_dlm_conf(&conf),
    };
    out.map_err(|errors| CliError::Stack {
        path: path.to_path_buf(),
        errors,
    })
}

/// Prints a translation's notes on stderr, each with the input's path.
fn report<N: std::fmt::Display>(notes: &[N], path: &Path, stderr: &mut dyn Write) {
    for n in notes {
        // A failing stderr must not turn a good translation into an error.
        let _ = writeln!(stderr, "cluster-conf: {}: {n}", path.display());
    }
}

fn write_out(out: &mut dyn Write, text: &str, p: &Path) -> Result<(), CliError> {
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|source| CliError::Write {
            path: p.to_path_buf(),
            source,
        })
}

/// What every translating command does with its result: `text` to `-o` or stdout, the
/// `notes` on stderr unless `--quiet`, and `--strict` fails when `warnings` is not zero.
fn deliver<N: std::fmt::Display>(
    sub: &ArgMatches,
    text: &str,
    notes: &[N],
    warnings: usize,
    path: &Path,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Result<(), CliError> {
    match sub.get_one::<PathBuf>("output") {
        Some(out) => std::fs::write(out, text).map_err(|source| CliError::Write {
            path: out.clone(),
            source,
        })?,
        None => write_out(stdout, text, Path::new("<stdout>"))?,
    }
    if !sub.get_flag("quiet") {
        report(notes, path, stderr);
    }
    if sub.get_flag("strict") && warnings > 0 {
        return Err(CliError::Strict { warnings });
    }
    Ok(())
}

/// Runs the command line `args` (including the program name).
pub fn run<I, T>(args: I, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Result<(), RunError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = cli().try_get_matches_from(args).map_err(RunError::Usage)?;
    execute(&matches, stdout, stderr).map_err(RunError::Cli)
}

/// What [`run`] can fail with: a usage error (clap renders it, including --help) or a
/// [`CliError`].
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Usage(clap::Error),
    #[error(transparent)]
    Cli(CliError),
}

fn execute(m: &ArgMatches, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Result<(), CliError> {
    let (name, sub) = m.subcommand().expect("subcommand_required");
    let path = sub.get_one::<PathBuf>("file").expect("required").clone();
    if name == "to-corosync" || name == "to-dlm-conf" {
        let file = stack_file(name, sub, &path)?;
        log::info!(
            "{name} {}: writing to {}, {} note(s)",
            path.display(),
            sub.get_one::<PathBuf>("output")
                .map_or("standard output".into(), |p| p.display().to_string()),
            file.notes.len()
        );
        let notes = file.notes.len();
        return deliver(sub, &file.text, &file.notes, notes, &path, stdout, stderr);
    }
    let plan = load(&path)?;
    if name == "validate" {
        if !sub.get_flag("quiet") {
            let services = plan.groups.len();
            let summary = format!(
                "{}: valid: cluster {} (config_version {}), {} node(s), {} fence device resource(s), {} service(s), {} location constraint(s), {} warning(s)\n",
                path.display(),
                plan.cluster_name,
                plan.config_version,
                plan.nodes.len(),
                plan.stonith.len(),
                services,
                plan.locations.len(),
                plan.warnings().count()
            );
            write_out(stdout, &summary, Path::new("<stdout>"))?;
            report(&plan.notes, &path, stderr);
        }
        let warnings = plan.warnings().count();
        if sub.get_flag("strict") && warnings > 0 {
            return Err(CliError::Strict { warnings });
        }
        return Ok(());
    }
    let format = match name {
        "to-pcs" => Format::Pcs,
        "to-crm" => Format::Crm,
        "to-cib" => Format::Cib,
        other => unreachable!("unknown subcommand {other}"),
    };
    let text = format.render(&plan);
    log::info!(
        "{name} {}: cluster {}, {} service(s), {} warning(s)",
        path.display(),
        plan.cluster_name,
        plan.groups.len(),
        plan.warnings().count()
    );
    deliver(
        sub,
        &text,
        &plan.notes,
        plan.warnings().count(),
        &path,
        stdout,
        stderr,
    )
}

/// The prose of `cluster-conf(8)` after the generated sections.
pub const MAN_SECTIONS: &[(&str, &str)] = &[
    (
        "Translation",
        "Each <service> becomes a resource group whose members are its resources in rgmanager start order: a parent before its children; siblings by type (lvm, fs, clusterfs, netfs, nfsexport, nfsclient, ip, smb, script) and then in document order. ref= references to <resources> are resolved; attributes on the referring element override the global ones.\n\n<lvm> becomes ocf:halvm:LVM-activate with vgname, lvname, vg_access_mode=system_id and activation_mode=exclusive. <fs> becomes ocf:heartbeat:Filesystem (device, directory, fstype, options, force_unmount; force_fsck=1 gives run_fsck=force). <ip> becomes ocf:heartbeat:IPaddr2 (ip, cidr_netmask). <script> becomes lsb:NAME with a warning. Other rgmanager agents are reported and left out.\n\nFailover domains become location constraints on the group: in an ordered domain a node of priority P scores (101 - P) * 10000, so priority 1 is INFINITY and priority 2 is 990000 (a node without priority scores 500000); every node of an unordered domain scores INFINITY. A restricted domain adds a rule giving -INFINITY to every node outside the domain; this is done per resource rather than with symmetric-cluster=false, which would also confine services without a domain and the fence devices. nofailback sets resource-stickiness=INFINITY on the group.\n\nrecovery=relocate sets migration-threshold=1; recovery=restart with max_restarts=N sets migration-threshold=N+1 (rgmanager restarts N times and relocates at the next failure); restart_expire_time sets failure-timeout; recovery=disable sets on-fail=stop on the monitor operations. autostart=0 sets target-role=Stopped. exclusive=1 adds -INFINITY colocations between that service and every other one.\n\nEach <fencedevice> becomes a stonith resource with the agent's parameters (ipaddr, login, passwd and port renamed to ip, username, password and plug) and pcmk_host_list naming the nodes it fences; per-node port attributes become pcmk_host_map. Other per-node attributes give one stonith resource per node. When a node has several fence methods, or one method with several devices, fencing levels reproduce the method order. Without fence devices stonith-enabled=false is set, with a warning.\n\ncman two_node and expected_votes, node votes, <logging>, <dlm>, <totem> and <quorumd> are reported with the corosync.conf or dlm.conf setting to use.\n\nto-corosync writes the corosync.conf the cluster.conf implies, as clufter does with corosync 3's knet transport: totem cluster_name; one nodelist entry per clusternode with its nodeid, name, ring0_addr (the node name, or --addr) and ring1_addr (<altname>, or --addr), node votes as quorum_votes; quorum with corosync_votequorum and two_node: 1 for a two_node cluster of two nodes (cman's expected_votes is left out: votequorum derives it from the nodelist). Totem token is cman's default of 10000 ms unless <totem token> says otherwise, join 60 ms, and for two nodes consensus token + 2000 ms as cman had (for more nodes corosync's default, 1.2 x token). cman encrypted by default, so crypto_cipher aes256 and crypto_hash sha256 are set unless <totem secauth=\"off\">: put the same /etc/corosync/authkey (corosync-keygen) on every node. <logging> keys carry over. corosync -t checks the result.\n\nto-dlm-conf writes /etc/dlm/dlm.conf from <dlm> (protocol, plock and fencing settings under dlm_controld's names) and <fence_daemon post_join_delay>; timewarn and enable_deadlk are gone from the kernel's DLM and are reported.",
    ),
    (
        "Using the pcs script",
        "The script runs pcs against the live cluster, or, with the environment variable CIB naming a CIB file, against that file with pcs -f. An empty CIB file is made with cibadmin --empty > cib.xml (or pcs cluster cib cib.xml on a running cluster); push the result with pcs cluster cib-push cib.xml --config. Set PCS_CREATE_FLAGS=--force when the resource or fence agents are not installed on the machine that runs the script, since pcs checks parameters against the agents' metadata.",
    ),
    (
        "Exit status",
        ".TP\n.B 0\nSuccess.\n.TP\n.B 1\nThe cluster.conf is malformed XML or invalid; every problem is printed with its line.\n.TP\n.B 2\nBad command line.\n.TP\n.B 3\nThe input could not be read or the output could not be written.\n.TP\n.B 4\n--strict was given and the translation report has warnings (the output is still written).",
    ),
    (
        "Examples",
        ".nf\ncluster-conf validate /etc/cluster/cluster.conf\ncluster-conf to-cib /etc/cluster/cluster.conf -o cib.xml && crm_verify -x cib.xml\ncibadmin --empty > cib.xml\ncluster-conf to-pcs /etc/cluster/cluster.conf > convert.sh\nCIB=cib.xml bash convert.sh && pcs cluster cib-push cib.xml --config\ncluster-conf to-crm /etc/cluster/cluster.conf -o conf.crm && crm configure load update conf.crm\ncluster-conf to-corosync /etc/cluster/cluster.conf --addr node1=10.0.0.1 --addr node2=10.0.0.2 -o /etc/corosync/corosync.conf\ncluster-conf to-dlm-conf /etc/cluster/cluster.conf -o /etc/dlm/dlm.conf\n.fi",
    ),
    (
        "See also",
        ".BR pcs (8),\n.BR crm (8),\n.BR crm_verify (8),\n.BR halvm.toml (5)",
    ),
];
