//! Man page material from an agent definition, for `halvm_man::render`: a clap command
//! whose subcommands are the actions, and prose sections for parameters, environment and
//! exit status.

use crate::definition::{ActionName, AgentDefinition, ParamType};
use crate::exit::OcfExit;
use crate::metadata::{param_longdesc, param_shortdesc};

/// A command describing the agent's invocation (`AGENT ACTION`); documentation only.
pub fn cli(def: &AgentDefinition) -> clap::Command {
    let mut cmd = clap::Command::new(def.name)
        .version(def.version)
        .about(def.shortdesc)
        .long_about(def.longdesc.trim())
        .disable_version_flag(true)
        .disable_help_flag(true)
        .subcommand_required(true);
    let mut seen = Vec::new();
    for a in def.actions {
        if seen.contains(&a.name) {
            continue;
        }
        seen.push(a.name);
        cmd = cmd.subcommand(
            clap::Command::new(a.name.as_str())
                .about(action_about(a.name))
                .disable_help_flag(true),
        );
    }
    cmd
}

fn action_about(a: ActionName) -> &'static str {
    match a {
        ActionName::Start => "Activates the resource; exits 0 only once it is verifiably running.",
        ActionName::Stop => "Deactivates the resource; exits 0 also when it was not running.",
        ActionName::Monitor => "Reports the state: 0 running, 7 cleanly stopped, an error when it should run and does not. With interval 0, or none (Pacemaker's probes may carry none), it is a probe.",
        ActionName::MetaData => "Prints the OCF meta-data XML; runs as any user and touches nothing.",
        ActionName::ValidateAll => "Checks the parameters and their combinations.",
        ActionName::Reload => "Applies changed parameters without a restart.",
        ActionName::Promote => "Promotes the instance.",
        ActionName::Demote => "Demotes the instance.",
        ActionName::Notify => "Receives clone notifications.",
        ActionName::MigrateTo => "Migrates the resource to another node.",
        ActionName::MigrateFrom => "Completes a migration to this node.",
    }
}

/// `(title, body)` sections in `halvm_man::Section` syntax: paragraphs separated by blank
/// lines, lines starting with `.` passed through as roff.
pub fn sections(def: &AgentDefinition) -> Vec<(String, String)> {
    let mut params = String::new();
    params.push_str(
        "Parameters are passed as environment variables OCF_RESKEY_<name>. Empty values count as unset. Unknown parameters are ignored with a warning.\n\n",
    );
    for p in def.params {
        let mut facts = vec![p.kind.to_string()];
        if p.required {
            facts.push("required".to_string());
        }
        if let Some(d) = p.default {
            facts.push(format!("default \"{d}\""));
        }
        if p.kind == ParamType::Boolean {
            facts.push("true: 1, yes, true, on; false: 0, no, false, off".to_string());
        }
        params.push_str(&format!(
            ".TP\n.B {}\n{} ({}).\n",
            p.name.replace('-', "\\-"),
            param_shortdesc(p),
            facts.join("; ")
        ));
        let long = param_longdesc(p);
        let long: Vec<&str> = long.lines().collect();
        let mut body = String::new();
        for line in long {
            if line.trim().is_empty() {
                body.push_str(".sp\n");
            } else {
                body.push_str(line.trim_end());
                body.push('\n');
            }
        }
        params.push_str(".sp\n");
        params.push_str(&body);
        params.push('\n');
    }
    let mut actions =
        String::from("Default timeouts and intervals advertised in the meta-data:\n\n");
    for a in def.actions {
        let mut line = format!(
            ".TP\n.B {}\ntimeout {}s",
            a.name.as_str().replace('-', "\\-"),
            a.timeout_s
        );
        if let Some(i) = a.interval_s {
            line.push_str(&format!(", interval {i}s"));
        }
        if let Some(d) = a.depth {
            line.push_str(&format!(", depth {d}"));
        }
        actions.push_str(&line);
        actions.push_str("\n\n");
    }
    let levels: Vec<String> = def.check_levels.iter().map(u32::to_string).collect();
    let environment = format!(
        "OCF_RESKEY_<name>: instance parameters. OCF_RESOURCE_INSTANCE: the resource name, used in the log tag. OCF_CHECK_LEVEL (or OCF_RESKEY_OCF_CHECK_LEVEL): monitor depth, one of {}; other values round down to the nearest supported level. CRM_meta_interval / OCF_RESKEY_CRM_meta_interval: a monitor with interval 0, or without one, is a probe. CRM_meta_timeout: the action's timeout in milliseconds. OCF_ROOT: the OCF tree, default /usr/lib/ocf.\n\nHA_LOGFACILITY: syslog facility (default daemon; none disables syslog). HA_LOGFILE: a file that log lines are appended to as ocf-shellfuncs writes them (\"<date> <tag>:    <LEVEL>: <message>\"), debug messages excepted. HA_DEBUGLOG: a file that every line, debug ones included, is appended to (\"<tag>:<TAB><date><LEVEL>: <message>\"). HA_DATEFMT: the date's strftime format (default \"%b %d %T \"). HA_debug: debug messages are logged only when set and not 0. HA_LOGTAG: overrides the log tag, which is otherwise {}(<instance>)[<pid>]. With neither HA_LOGFACILITY nor HA_LOGFILE set, messages also go to standard error. Messages that the libraries log through the log facade go the same ways.",
        levels.join(", "),
        def.name
    );
    let mut exit =
        String::from("Failures print one line \"ocf-exit-reason:<reason>\" on standard error.\n\n");
    for e in OcfExit::ALL {
        exit.push_str(&format!(".TP\n.B {}\n{}\n\n", e.code(), e.name()));
    }
    vec![
        ("Parameters".to_string(), params),
        ("Actions".to_string(), actions),
        ("Environment".to_string(), environment),
        ("Exit status".to_string(), exit),
    ]
}
