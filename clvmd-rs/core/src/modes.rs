//! VxVM activation modes of a shared VG, enforced with the DLM: one resource per VG
//! ([`MODE_RESOURCE`] in `lvm_<vg>`) held by the daemon in the DLM mode that has exactly
//! VxVM's conflict table, `sr` = CR, `sw` = CW, `ro` = PR, `ew` = PW:
//!
//! | held \ asked | ew (PW) | ro (PR) | sr (CR) | sw (CW) |
//! |---|---|---|---|---|
//! | ew (PW) | fail | fail | ok | fail |
//! | ro (PR) | fail | ok | ok | fail |
//! | sr (CR) | ok | ok | ok | ok |
//! | sw (CW) | fail | fail | ok | ok |
//!
//! `off` releases it. Changing a held mode is one DLM conversion (NOQUEUE): it is granted or
//! refused as a whole, and a refused change keeps the mode held before.

use clvmd_proto::{ErrorKind, Mode, Request, Response};
use halvm_dlm::ResourceName;

use super::{failed, not_started, ConnId, Node, Owner};

pub use clvmd_proto::MODE_RESOURCE;

/// VxVM's name of a DLM mode used as an activation mode.
pub fn vx_name(m: Mode) -> &'static str {
    match m {
        Mode::Pw => "exclusive-write",
        Mode::Pr => "read-only",
        Mode::Cr => "shared-read",
        Mode::Cw => "shared-write",
        Mode::Nl => "off",
        Mode::Ex => "exclusive",
    }
}

impl Node {
    pub(super) fn vg_mode(&mut self, conn: ConnId, vg: String, mode: Mode) {
        if !matches!(mode, Mode::Nl | Mode::Cr | Mode::Cw | Mode::Pr | Mode::Pw) {
            return self.reply(
                conn,
                failed(
                    ErrorKind::Invalid,
                    "activation modes are sr (CR), sw (CW), ro (PR), ew (PW) or off (NL)",
                ),
            );
        }
        if mode != Mode::Nl && !self.quorate {
            return self.reply(
                conn,
                failed(
                    ErrorKind::NoQuorum,
                    format!(
                        "cannot set VG {vg} {}: this node is not quorate",
                        vx_name(mode)
                    ),
                ),
            );
        }
        let Some(name) = self.vg_ls(conn, &vg) else {
            return;
        };
        let res = ResourceName::new(MODE_RESOURCE).expect("a valid resource name");
        if mode == Mode::Nl {
            let Some(ls) = self.ls.get(&name) else {
                return self.reply(conn, not_started(&name));
            };
            if !ls.res.contains_key(&res) && !ls.existed {
                return self.reply(conn, Response::Done);
            }
        }
        let req = Request::VgMode {
            vg: vg.clone(),
            mode,
        };
        self.hold_persistent(
            conn,
            name,
            res,
            format!("activation mode of VG {vg}"),
            mode,
            req,
        );
    }

    /// The activation mode this node holds on `vg` (None: off).
    pub fn vg_mode_held(&self, vg: &str) -> Option<Mode> {
        let name = halvm_dlm::LockspaceName::for_vg(vg).ok()?;
        let res = ResourceName::new(MODE_RESOURCE).ok()?;
        self.ls
            .get(&name)?
            .res
            .get(&res)?
            .holders
            .get(&Owner::Persistent)
            .copied()
    }
}
