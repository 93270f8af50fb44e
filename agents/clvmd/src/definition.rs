//! The clvmd agent's definition: parameters (heartbeat lvmlockd's names where they mean the
//! same), actions and descriptions.

use halvm_ocf::{AgentDefinition, ParamDef, ParamType, STANDARD_ACTIONS};

pub const DEFAULT_DAEMON: &str = "/usr/sbin/clvmd-rs";
pub const DEFAULT_SOCKET: &str = clvmd_proto::DEFAULT_SOCKET;
pub const DEFAULT_PIDFILE: &str = "/run/clvmd-rs/clvmd-rs.pid";

const LONGDESC: &str = "\
This agent runs clvmd-rs, the cluster lock daemon of halvm, on every node: configure it as a \
clone (pcs resource create clvmd ocf:halvm:clvmd clone interleave=true), after the DLM \
(ocf:pacemaker:controld clone) and before the ocf:halvm:LVM-activate resources of shared \
volume groups (vg_access_mode=lvmlockd or clvmd). It is the counterpart of resource-agents' \
ocf:heartbeat:lvmlockd: clvmd-rs takes the same DLM locks as lvmlockd (lockspace lvm_<vg>, \
VGLK, GLLK, LV locks), so both kinds of node exclude each other.

Start checks that dlm_controld runs (the DLM cluster name is published under \
/sys/kernel/config/dlm), then starts the daemon, which binds its socket and puts itself in \
the background, and waits until the socket answers. A daemon that died with activation locks \
held leaves them as DLM orphans; the new one adopts them when a volume group's lockspace is \
started again (lvmlockd needs -A 1 for that; clvmd-rs always does it).

Monitor reports 0 while the daemon answers on its socket, 7 when no daemon runs, and an error \
when the daemon's process is alive but does not answer.

Stop refuses (exit 1) while logical volumes are active under the daemon's locks, naming \
them: as resource-agents' lvmlockd agent, it does not deactivate volumes behind the \
resources that activated them (stop those first; the order constraint does it). Otherwise it \
stops every lockspace, then the daemon (SIGTERM), and waits until it has gone.

The halvm.toml of every node must set lock_manager = \"dlm\" in its [locking] section, so \
that lvmeta and LVM-activate use the daemon for shared volume groups.";

pub const PARAMS: &[ParamDef] = &[
    ParamDef {
        default: Some(DEFAULT_DAEMON),
        longdesc: "The clvmd-rs daemon binary (an absolute path).",
        ..ParamDef::new("daemon", ParamType::String, "The clvmd-rs binary")
    },
    ParamDef {
        default: Some(DEFAULT_PIDFILE),
        longdesc: "The daemon's pid file (an absolute path).",
        ..ParamDef::new("pidfile", ParamType::String, "pid file")
    },
    ParamDef {
        default: Some(DEFAULT_SOCKET),
        longdesc: "The unix socket the daemon serves (an absolute path). lvmeta and LVM-activate find a socket other than the default through $CLVMD_RS_SOCKET.",
        ..ParamDef::new("socket_path", ParamType::String, "socket path")
    },
    ParamDef {
        longdesc: "Append the daemon's log lines to this file instead of sending them to syslog (an absolute path).",
        ..ParamDef::new("log_file", ParamType::String, "Log file of the daemon")
    },
    ParamDef {
        default: Some("false"),
        longdesc: "Log debug messages of the daemon.",
        ..ParamDef::new("debug", ParamType::Boolean, "Debug logging")
    },
];

pub static DEFINITION: AgentDefinition = AgentDefinition {
    name: "clvmd",
    version: env!("CARGO_PKG_VERSION"),
    shortdesc: "This agent manages the clvmd-rs cluster lock daemon",
    longdesc: LONGDESC,
    params: PARAMS,
    actions: STANDARD_ACTIONS,
    check_levels: &[0],
};
