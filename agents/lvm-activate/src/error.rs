//! LVM-activate's failures, and their one mapping onto the framework's error (and so onto
//! OCF exit codes).

use halvm_ocf::OcfError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivateError {
    #[error("volume group {vg} does not exist or is not visible on this node")]
    VgNotFound { vg: String },
    #[error("volume group {vg} is not visible any more while it should be active")]
    VgVanished { vg: String },
    #[error("volume group {vg} does not match vg_access_mode={configured}: it has {found}")]
    AccessModeMismatch {
        vg: String,
        configured: String,
        found: String,
    },
    #[error("volume group {vg} contains no logical volume")]
    NoLogicalVolumes { vg: String },
    #[error("logical volume {lv} is not in volume group {vg}")]
    LvNotInVg { vg: String, lv: String },
    #[error("this host has no LVM system ID (set system_id_source in lvm.conf)")]
    NoLocalSystemId,
    #[error("this node's cluster name is unknown: {detail}")]
    NoLocalNodeName { detail: String },
    #[error("volume group {vg} is owned by {owner}, and the cluster membership needed to tell whether it is alive is unavailable: {detail}")]
    MembershipUnknown {
        vg: String,
        owner: String,
        detail: String,
    },
    /// Only when run by hand: Pacemaker's start takes a live member's VG over.
    #[error("volume group {vg} is owned by {owner}, which is a live cluster member (this start does not come from Pacemaker, which would have found it stopped there)")]
    OwnedByLiveNode { vg: String, owner: String },
    #[error("volume group {vg} is owned by {owner}, which is not a node of this cluster")]
    ForeignOwner { vg: String, owner: String },
    #[error("volume group {vg} carries tag {tag} without an owner tag {tag}:<node>; remove the tag once no node uses the VG")]
    UnknownTagOwner { vg: String, tag: String },
    #[error("volume group {vg} is missing PVs {} and its ownership cannot change{}", missing.join(", "), hint_text(hint))]
    MissingPvs {
        vg: String,
        missing: Vec<String>,
        hint: Option<String>,
    },
    #[error("logical volume {vg}/{lv} has data on missing PVs {}{}", missing.join(", "), hint_text(hint))]
    LvNeedsMissingPvs {
        vg: String,
        lv: String,
        missing: Vec<String>,
        hint: Option<String>,
    },
    #[error("{vg}: {} should be active but {}", lvs.join(", "), if lvs.len() == 1 { "is not" } else { "are not" })]
    NotActive { vg: String, lvs: Vec<String> },
    #[error("{vg}: only part of the volumes are active, {} not", inactive.join(", "))]
    PartiallyActive { vg: String, inactive: Vec<String> },
    #[error("{vg}/{lv}: the device-mapper device has failed")]
    DeviceFailed { vg: String, lv: String },
    #[error("volume group {vg} is now owned by {owner} while its volumes are active here")]
    OwnershipLost { vg: String, owner: String },
    #[error("{vg}: activation of {} did not take effect", lvs.join(", "))]
    ActivationIneffective { vg: String, lvs: Vec<String> },
    #[error("{vg}/{lv}: reading sector {sector} failed: {detail}")]
    ReadFailed {
        vg: String,
        lv: String,
        sector: u64,
        detail: String,
    },
    #[error("volume group {vg} is CLUSTERED (made by lvm 2.02's clvmd), which no lock daemon of this stack serves; convert it once, with its LVs inactive everywhere: lvmeta vgchange --locktype dlm {vg}")]
    ClusteredVg { vg: String },
    #[error("volume group {vg} is shared (lock_type dlm) but halvm.toml does not select the cluster lock manager: set lock_manager = \"dlm\" in its [locking] section")]
    LockManagerNotConfigured { vg: String },
    #[error("the cluster lock daemon clvmd-rs is not running on this node ({detail}); run the ocf:halvm:clvmd clone, ordered before the resources of volume group {vg}")]
    LockDaemonDown { vg: String, detail: String },
    #[error("{why}")]
    IoStopped { vg: String, why: String },
    #[error(transparent)]
    Backend(#[from] BackendError),
}

fn hint_text(hint: &Option<String>) -> String {
    hint.as_ref()
        .map(|h| format!("; consider {h}"))
        .unwrap_or_default()
}

impl From<ActivateError> for OcfError {
    fn from(e: ActivateError) -> OcfError {
        let why = e.to_string();
        match e {
            ActivateError::AccessModeMismatch { vg, .. }
            | ActivateError::ClusteredVg { vg }
            | ActivateError::NoLogicalVolumes { vg }
            | ActivateError::LvNotInVg { vg, .. } => OcfError::Misconfigured { resource: vg, why },
            // heartbeat's config_verify of use_lvmlockd exits OCF_ERR_ARGS: this node's setup.
            ActivateError::NoLocalSystemId
            | ActivateError::NoLocalNodeName { .. }
            | ActivateError::LockManagerNotConfigured { .. } => OcfError::LocalSetup { what: why },
            ActivateError::Backend(BackendError::NotAvailable { what }) => {
                OcfError::NotInstalled { what }
            }
            ActivateError::Backend(BackendError::Io { vg, .. })
            | ActivateError::Backend(BackendError::HeldElsewhere { vg, .. }) => {
                OcfError::Failed { resource: vg, why }
            }
            ActivateError::VgNotFound { vg }
            | ActivateError::VgVanished { vg }
            | ActivateError::MembershipUnknown { vg, .. }
            | ActivateError::OwnedByLiveNode { vg, .. }
            | ActivateError::ForeignOwner { vg, .. }
            | ActivateError::UnknownTagOwner { vg, .. }
            | ActivateError::MissingPvs { vg, .. }
            | ActivateError::LvNeedsMissingPvs { vg, .. }
            | ActivateError::NotActive { vg, .. }
            | ActivateError::PartiallyActive { vg, .. }
            | ActivateError::DeviceFailed { vg, .. }
            | ActivateError::OwnershipLost { vg, .. }
            | ActivateError::ActivationIneffective { vg, .. }
            // As heartbeat's lvmlockd_check ("lvmlockd daemon is not running!"): a generic
            // error, so Pacemaker recovers (tries again, or elsewhere) instead of banning the
            // resource from the cluster (6) or this node for good (5).
            | ActivateError::LockDaemonDown { vg, .. }
            // The lock daemon stranded the VG (frozen for good after a partition merge or the
            // cluster stack lost): a generic error, so Pacemaker recovers the resource
            // elsewhere (and fences this node when the stop cannot finish).
            | ActivateError::IoStopped { vg, .. }
            | ActivateError::ReadFailed { vg, .. } => OcfError::Failed { resource: vg, why },
        }
    }
}

impl ActivateError {
    /// The exit code this failure ends in.
    pub fn exit_code(&self) -> u8 {
        OcfError::from(self.clone()).exit().code()
    }
}

/// What the volume backend (`crate::backend`) reports; defined here so that the planner,
/// which uses [`ActivateError`], does not depend on the backend module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The facility is not part of this build or host.
    #[error("{what}")]
    NotAvailable { what: String },
    /// A cluster lock refused because another node holds it (`what`: "LV vg/lv").
    #[error("{what} is locked by {holder}")]
    HeldElsewhere {
        vg: String,
        what: String,
        holder: String,
    },
    /// An operation failed.
    #[error("{op} on {vg}{}: {detail}", lv.as_ref().map(|l| format!("/{l}")).unwrap_or_default())]
    Io {
        op: String,
        vg: String,
        lv: Option<String>,
        detail: String,
    },
}
