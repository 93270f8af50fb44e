//! The options every lvmeta command shares (lvm2's common options: `--devices`, `--config`,
//! `-y`, `-v`, `-q`, `-t`; halvm's `--halvm-config`, `--lock-dir`) and the report options (`-o`, `-O`, `--units` ...):
//! their clap definitions and the structs they fill, in this one place. Command-specific
//! options fill the library's per-command structs (`lvmeta::ops::LvcreateOptions` ...).

use std::path::PathBuf;

use clap::{Arg, ArgAction, ArgMatches, Command};
use lvmeta::units::Units;

use crate::CliError;

/// lvm2's notice for `-t` (on stderr, before anything else the command says).
pub const TEST_MODE_NOTICE: &str =
    "TEST MODE: Metadata will NOT be updated and volumes will not be (de)activated.";

pub(crate) fn flag(name: &'static str) -> Arg {
    Arg::new(name).long(name).action(ArgAction::SetTrue)
}

/// The options of every command, as lvm2's `OO_ALL`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommonOptions {
    /// `--devices`: use only these devices (None: scan as configured).
    pub devices: Option<Vec<PathBuf>>,
    /// `--config`: lvm.conf settings over the files, as lvm's `--config STRING`.
    pub config: Option<String>,
    /// `--halvm-config`: the halvm.toml to read.
    pub halvm_config: Option<PathBuf>,
    /// `--lock-dir`: where the flock lock files are.
    pub lock_dir: Option<PathBuf>,
    /// `-y`: lvmeta never asks, so accepted only.
    pub yes: bool,
    /// `-v` count.
    pub verbose: u8,
    /// `-q` count.
    pub quiet: u8,
    /// `-t`: run everything up to the commit, then write and (de)activate nothing.
    pub test: bool,
}

impl CommonOptions {
    /// Adds the common options to a command.
    pub fn args(cmd: Command) -> Command {
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
                .value_name("STRING")
                .help("lvm.conf settings overriding the files, as lvm's --config (e.g. 'devices{filter=[\"a|loop|\",\"r|.*|\"]}' or 'devices/filter=[...]')"),
        )
        .arg(
            Arg::new("halvm-config")
                .long("halvm-config")
                .value_name("FILE")
                .help("halvm configuration file (default $HALVM_CONFIG, else /etc/halvm/halvm.toml)"),
        )
        .arg(
            flag("yes")
                .short('y')
                .help("Answer yes to every question, as lvm's -y (lvmeta never asks)"),
        )
        .arg(
            Arg::new("verbose")
                .short('v')
                .long("verbose")
                .action(ArgAction::Count)
                .help("More detail on stderr, up to -vvvv, as lvm's -v"),
        )
        .arg(
            Arg::new("quiet")
                .short('q')
                .long("quiet")
                .action(ArgAction::Count)
                .help("Suppress warnings on stderr, as lvm's -q"),
        )
        .arg(
            flag("test")
                .short('t')
                .help("Dry run, as lvm's --test: check and compute everything, then write, back up and (de)activate nothing"),
        )
        .arg(
            Arg::new("lock-dir")
                .long("lock-dir")
                .value_name("DIR")
                .help("Directory of the flock lock files (default: halvm.toml locking.lock_dir, else lvm.conf global/locking_dir, else /run/lock/lvm, as lvm2)"),
        )
    }

    /// Reads the common options of a parsed subcommand.
    pub fn from_matches(m: &ArgMatches) -> CommonOptions {
        let count = |id: &str| match m.try_get_one::<u8>(id) {
            Ok(Some(n)) => *n,
            _ => 0,
        };
        let flag = |id: &str| matches!(m.try_get_one::<bool>(id), Ok(Some(true)));
        let one = |id: &str| {
            m.try_get_one::<String>(id)
                .ok()
                .flatten()
                .map(PathBuf::from)
        };
        let devices = m.try_get_many::<String>("devices").ok().flatten().map(|v| {
            v.flat_map(|s| {
                s.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
                    .collect::<Vec<_>>()
            })
            .collect()
        });
        CommonOptions {
            devices,
            config: m.try_get_one::<String>("config").ok().flatten().cloned(),
            halvm_config: one("halvm-config"),
            lock_dir: one("lock-dir"),
            yes: flag("yes"),
            verbose: count("verbose"),
            quiet: count("quiet"),
            test: flag("test"),
        }
    }

    /// The stderr level `-v`/`-q` ask for: warnings by default, info with -v, debug with
    /// -vv, trace with -vvv; -q keeps errors only.
    pub fn verbosity(&self) -> log::LevelFilter {
        if self.quiet > 0 {
            return log::LevelFilter::Error;
        }
        match self.verbose {
            0 => log::LevelFilter::Warn,
            1 => log::LevelFilter::Info,
            2 => log::LevelFilter::Debug,
            _ => log::LevelFilter::Trace,
        }
    }

    /// What the one environment builder needs from the command line.
    pub fn env_options(&self) -> lvmeta::env::EnvOptions {
        lvmeta::env::EnvOptions {
            config: self.halvm_config.clone(),
            devices: self.devices.clone(),
            lock_dir: self.lock_dir.clone(),
            lvm_system_dir: None,
            lvm_config: self.config.clone(),
        }
    }
}

/// `-S/--select`, for the reports and for lvchange, vgchange, lvremove.
pub fn select_arg() -> Arg {
    Arg::new("select")
        .short('S')
        .long("select")
        .value_name("SELECTION")
        .allow_hyphen_values(true)
        .help("Only what matches lvm's selection criteria, e.g. 'lv_size>1g && lv_tags={a,b}' (fields as -o names them; =, !=, <, <=, >, >=, =~, !~; &&, ||, !( ), ( ))")
}

/// The LV operands of lvchange and lvremove: optional with `-S`, which then selects among them.
pub fn selected_lvs_arg() -> Arg {
    Arg::new("lvs")
        .value_name("VG/LV")
        .num_args(1..)
        .required_unless_present("select")
        .help("LVs (with -S, VGs or LVs to select among)")
}

/// The options of the report commands (pvs, vgs, lvs).
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// `-o`, as given (comma lists, a leading + adds to the defaults).
    pub fields: Vec<String>,
    /// `-O` keys, split; a leading `-` sorts descending.
    pub sort: Vec<String>,
    /// How the rows are written (`--units`, `--nosuffix`, `--noheadings`, `--separator`,
    /// `--aligned`, `--reportformat`).
    pub render: lvmeta::report::Options,
    /// `--foreign`: also VGs owned by another host.
    pub foreign: bool,
    /// `-S/--select`: lvm2's selection criteria (parsed by `lvmeta::select`).
    pub select: Option<String>,
}

impl ReportOptions {
    /// Adds the report options to a command.
    pub fn args(cmd: Command) -> Command {
        cmd.arg(
            Arg::new("options")
                .short('o')
                .long("options")
                .value_name("FIELD,...")
                .action(ArgAction::Append)
                .help("Fields to show; a leading + adds to the default fields; -o help lists them"),
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
        .arg(
            Arg::new("sort")
                .short('O')
                .long("sort")
                .value_name("[-]FIELD,...")
                .allow_hyphen_values(true)
                .action(ArgAction::Append)
                .help(
                    "Sort rows by these fields, as lvm's -O; a leading - sorts that field descending",
                ),
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
        .arg(select_arg())
    }

    /// Reads the report options; a bad `--units` is a usage error.
    pub fn from_matches(m: &ArgMatches) -> Result<ReportOptions, CliError> {
        let strings = |id: &str| -> Vec<String> {
            m.get_many::<String>(id)
                .map(|v| v.cloned().collect())
                .unwrap_or_default()
        };
        let units = match m.get_one::<String>("units") {
            Some(u) => Units::parse(u).map_err(crate::bad_units)?,
            None => Units::default(),
        };
        Ok(ReportOptions {
            fields: strings("options"),
            sort: strings("sort")
                .iter()
                .flat_map(|s| s.split(',').map(str::trim).map(str::to_string))
                .filter(|k| !k.is_empty())
                .collect(),
            render: lvmeta::report::Options {
                units,
                suffix: !m.get_flag("nosuffix"),
                headings: !m.get_flag("noheadings"),
                separator: m.get_one::<String>("separator").cloned(),
                aligned: m.get_flag("aligned"),
                json: m
                    .get_one::<String>("reportformat")
                    .is_some_and(|f| f == "json"),
                zone: lvmeta::localtime::Zone::system(),
            },
            foreign: m.get_flag("foreign"),
            select: m.get_one::<String>("select").cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> CommonOptions {
        let cmd = CommonOptions::args(Command::new("x"));
        CommonOptions::from_matches(&cmd.try_get_matches_from(args).unwrap())
    }

    #[test]
    fn common_options_fill_the_struct() {
        let o = parse(&[
            "x",
            "-t",
            "-vv",
            "-y",
            "--devices",
            "/a,/b",
            "--devices",
            "/c",
            "--config",
            "devices/scan=[\"/x\"]",
            "--halvm-config",
            "/h.toml",
            "--lock-dir",
            "/l",
        ]);
        assert_eq!(
            o,
            CommonOptions {
                devices: Some(vec!["/a".into(), "/b".into(), "/c".into()]),
                config: Some("devices/scan=[\"/x\"]".into()),
                halvm_config: Some("/h.toml".into()),
                lock_dir: Some("/l".into()),
                yes: true,
                verbose: 2,
                quiet: 0,
                test: true,
            }
        );
        assert_eq!(o.verbosity(), log::LevelFilter::Debug);
        assert_eq!(
            parse(&["x", "-q", "-v"]).verbosity(),
            log::LevelFilter::Error
        );
        assert_eq!(parse(&["x"]), CommonOptions::default());
    }

    #[test]
    fn every_subcommand_has_the_common_options() {
        for s in crate::cli().get_subcommands() {
            for id in [
                "devices", "config", "lock-dir", "yes", "verbose", "quiet", "test",
            ] {
                assert!(
                    s.get_arguments().any(|a| a.get_id() == id),
                    "{} lacks --{id}",
                    s.get_name()
                );
            }
        }
    }
}
