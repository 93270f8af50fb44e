//! Shared VGs (lvm2's `lock_type = "dlm"`; `vgcreate --shared` is [`super::VgcreateOptions`]'s
//! `shared_lock_args`): converting to and from local locking, and reading what a lockstart
//! needs. The cluster locks themselves come from
//! [`crate::env::Env::cluster`] through the transaction driver.

use lvmeta_model::{self as model, VolumeGroup};

use super::{Ctx, Result};
use crate::txn::WriteOpts;

/// lvm2's `lock_args` for a dlm VG in `cluster`.
pub fn dlm_lock_args(cluster: &str) -> String {
    format!("1.0.0:{cluster}")
}

/// A VG's lock type and arguments, as its metadata says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    pub lock_type: Option<String>,
    pub lock_args: Option<String>,
    /// lvm 2.02's clvmd flag (`vgcreate -cy`).
    pub clustered: bool,
    /// PVs of the VG this host cannot see: (PV UUID, device it was last seen on).
    pub missing: Vec<(String, String)>,
}

impl LockInfo {
    pub fn is_dlm(&self) -> bool {
        self.lock_type.as_deref() == Some("dlm")
    }
}

/// `vgchange --locktype`'s options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VgLockTypeOptions {
    pub vg: String,
    /// Some: to dlm with these lock arguments ([`dlm_lock_args`]); None: to none.
    pub dlm_lock_args: Option<String>,
}

impl Ctx<'_> {
    /// What a VG's metadata says about its locking, read under the local lock only: a
    /// lockstart needs it before the VG's cluster lock can exist (lvm2 reads it so too). A
    /// VG owned by another host is refused as every read refuses it, except a CLUSTERED VG
    /// of lvm 2.02, whose caller says how to convert it (the conversion takes it over).
    pub fn vg_lock_info(&self, name: &str) -> Result<LockInfo> {
        self.read_vg_local(name, true, |_, r| {
            let clustered = r.vg.status.contains(model::Flag::Clustered);
            if !clustered {
                self.check_owner(&r.vg, false)?;
            }
            Ok(LockInfo {
                lock_type: r.vg.lock_type.clone().filter(|t| !t.is_empty()),
                lock_args: r.vg.lock_args.clone().filter(|t| !t.is_empty()),
                clustered,
                missing: r
                    .missing()
                    .iter()
                    .map(|p| (p.id.clone(), super::last_seen(p)))
                    .collect(),
            })
        })
    }

    /// `vgchange --locktype dlm|none`. To dlm: the VG loses its system ID and lvm 2.02's
    /// CLUSTERED flag and gets `lock_args`; to none: it becomes this host's (its system ID),
    /// which needs the VG's cluster lock (so the lockspace must be started).
    pub fn vgchange_locktype(&self, o: &VgLockTypeOptions) -> Result<()> {
        let (name, to_dlm) = (o.vg.as_str(), o.dlm_lock_args.as_deref());
        let opts = WriteOpts {
            // A CLUSTERED VG made by lvm 2.02 may carry a foreign system ID: converting it is
            // the explicit take-over.
            override_foreign: true,
            ..WriteOpts::default()
        };
        let host_sid = self.env.system_id.clone();
        self.modify_vg(name, &opts, |t| {
            let vg = &mut t.vg;
            vg.status.remove(model::Flag::Clustered);
            match to_dlm {
                Some(args) => {
                    vg.lock_type = Some("dlm".into());
                    vg.lock_args = Some(args.into());
                    vg.system_id = None;
                }
                None => {
                    vg.lock_type = None;
                    vg.lock_args = None;
                    vg.system_id = host_sid;
                }
            }
            set_lv_lock_args(vg);
            Ok(())
        })?;
        Ok(())
    }
}

/// LV `lock_args` as lvm2 keeps them (`lockd_init_lv_args`): `"dlm"` on every visible LV of a
/// dlm VG, none otherwise. lvmlockd takes no lock for an LV without them ("Skip LV lock: no
/// lock args"), so an LV made without them would be activated by a stock node beside ours.
pub(crate) fn set_lv_lock_args(vg: &mut VolumeGroup) {
    let dlm = vg.lock_type.as_deref() == Some("dlm");
    for lv in vg.lvs.iter_mut() {
        lv.lock_args = (dlm && lv.is_visible()).then(|| "dlm".to_string());
    }
}
