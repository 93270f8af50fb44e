//! rgmanager `cluster.conf` parsing, validation and translation to Pacemaker,
//! and the corosync.conf and dlm.conf it implies ([`to_corosync`], [`to_dlm_conf`]).
//!
//! [`parse`] reads and validates a cluster.conf into a [`ClusterConf`] (every error names the
//! element and its line). [`translate`] turns it into a [`Plan`]: the Pacemaker objects plus
//! a report of everything that has no exact equivalent. The plan renders as a full CIB
//! ([`render_cib`]), a `pcs` script ([`render_pcs`]) or `crm configure` text ([`render_crm`]).

mod corosync;
mod error;
mod model;
mod parse;

pub use corosync::{to_corosync, to_dlm_conf, StackError, StackFile, CMAN_JOIN_MS, CMAN_TOKEN_MS};
pub use error::{ConfError, ConfErrors};
pub use model::*;
pub use parse::{parse, MAX_DEPTH};
mod plan;
mod render;
mod translate;

pub use plan::*;
pub use render::{render_cib, render_crm, render_pcs, sh_quote, CIB_SCHEMA};
pub use translate::{translate, xml_id};

/// The output formats of a translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Cib,
    Pcs,
    Crm,
}

impl Format {
    pub fn render(self, plan: &Plan) -> String {
        match self {
            Format::Cib => render_cib(plan),
            Format::Pcs => render_pcs(plan),
            Format::Crm => render_crm(plan),
        }
    }
}
