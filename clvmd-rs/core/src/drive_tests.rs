//! Tests of the targeted drive ([`Node::dirty`], [`Node::wakes`]): whatever inputs came, a
//! step leaves nothing a pass over every resource would do; and an input about one resource
//! drives that one alone, however many locks are held.

use std::collections::VecDeque;

use halvm_dlm::Granted;
use proptest::prelude::*;

use super::*;

fn uuid(i: usize) -> String {
    format!("{i:032x}")
}

fn lv_res(i: usize) -> ResourceName {
    ResourceName::lv(&uuid(i)).expect("an LV UUID")
}

fn vg_ls() -> LockspaceName {
    LockspaceName::for_vg("vg").expect("a VG name")
}

/// One node and a stand-in for its driver: each lockspace's work (joins, leaves, DLM calls)
/// is answered in order, as the daemon's lockspace threads do, and so is the rest; the
/// node's own multicasts come back in order.
struct Driver {
    node: Node,
    now: u64,
    /// Per lockspace, what the node asked of the DLM and was not answered yet.
    dlm: BTreeMap<LockspaceName, VecDeque<Output>>,
    /// Device-mapper, fence, watch and commit work not answered yet.
    other: VecDeque<Output>,
    own: VecDeque<CpgMsg>,
    replies: Vec<(ConnId, Response)>,
    lkid: u32,
    /// Check every step against a pass over every resource ([`Node::assert_rested`]).
    check: bool,
}

impl Driver {
    /// Node 1 in a group with node 2 (a daemon as new as it), quorate, with VG `vg` started
    /// (`existed`: a previous daemon left its lockspaces joined, with orphans to adopt).
    fn new(existed: bool) -> Self {
        let mut d = Driver {
            node: Node::new(NodeConfig {
                node_id: 1,
                node_name: "node1".into(),
                quorum_loss: QuorumLoss::Freeze,
                detach: Detach::Global,
                dg_failure: DgFailure::Dgdisable,
            }),
            now: 1,
            dlm: BTreeMap::new(),
            other: VecDeque::new(),
            own: VecDeque::new(),
            replies: Vec::new(),
            lkid: 0,
            check: true,
        };
        d.step(Input::ClusterName(Some("c".into())));
        d.step(Input::Membership {
            members: vec![1, 2],
        });
        d.step(Input::Cpg {
            from: 2,
            msg: snapshot(crate::cpg::CPG_VERSION, Vec::new()),
        });
        d.step(Input::Quorum { quorate: true });
        d.request(
            100,
            Request::LockStart {
                vg: "vg".into(),
                lock_args: "1.0.0:c".into(),
            },
        );
        for ls in [LockspaceName::global(), vg_ls()] {
            if let Some(Output::Join { ls: l }) = d.dlm.get_mut(&ls).and_then(|q| q.pop_front()) {
                d.step(Input::Joined {
                    ls: l,
                    result: Ok(existed),
                });
            }
        }
        d
    }

    fn step(&mut self, input: Input) {
        let outs = self.node.step(self.now, input);
        if self.check {
            self.node.assert_rested();
        }
        for o in outs {
            match o {
                Output::Reply { conn, response } => self.replies.push((conn, response)),
                Output::Cpg(m) => self.own.push_back(m),
                Output::Join { ref ls } | Output::Leave { ref ls } | Output::Dlm { ref ls, .. } => {
                    self.dlm.entry(ls.clone()).or_default().push_back(o)
                }
                o => self.other.push_back(o),
            }
        }
    }

    fn request(&mut self, conn: ConnId, request: Request) {
        self.step(Input::Request { conn, request });
    }

    /// Answers the first call of the `k`th lockspace with work pending; `outcome` picks one
    /// the DLM may give to that call.
    fn answer(&mut self, k: usize, outcome: u8) {
        let busy: Vec<LockspaceName> = self
            .dlm
            .iter()
            .filter(|(_, q)| !q.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        if busy.is_empty() {
            return;
        }
        let ls = &busy[k % busy.len()];
        let o = self
            .dlm
            .get_mut(ls)
            .and_then(|q| q.pop_front())
            .expect("busy");
        let input = match o {
            Output::Join { ls } => Input::Joined {
                ls,
                result: match outcome % 3 {
                    0 => Ok(false),
                    1 => Ok(true),
                    _ => Err("join failed".into()),
                },
            },
            Output::Leave { ls } => Input::Left { ls, result: Ok(()) },
            Output::Dlm { tag, op, .. } => {
                self.lkid += 1;
                let granted = |lkid| {
                    Ok(Outcome::Granted(Granted {
                        lkid,
                        lvb: None,
                        lvb_invalid: false,
                    }))
                };
                let result = match (op, outcome % 4) {
                    (_, 3) => Err("EIO".into()),
                    (DlmOp::Unlock { lkid, .. }, _) => granted(lkid),
                    (DlmOp::Convert { lkid, .. }, 0 | 1) => granted(lkid),
                    (DlmOp::Lock { .. } | DlmOp::Adopt { .. }, 0 | 1) => granted(LockId(self.lkid)),
                    (DlmOp::Adopt { .. }, _) if outcome % 8 == 2 => Ok(Outcome::NoOrphan),
                    _ => Ok(Outcome::WouldBlock),
                };
                Input::DlmDone { tag, result }
            }
            o => unreachable!("{o:?}"),
        };
        self.step(input);
    }

    /// Answers the first device-mapper, fence, watch or commit work.
    fn answer_other(&mut self) {
        let Some(o) = self.other.pop_front() else {
            return;
        };
        let input = match o {
            Output::Dm { tag, .. } => Input::DmDone {
                tag,
                result: Ok(crate::dm::DmReport::default()),
            },
            Output::Fence { tag, .. } => Input::FenceDone {
                tag,
                result: Ok(()),
            },
            Output::Watch { tag, .. } => Input::WatchDone {
                tag,
                result: Ok(Vec::new()),
            },
            Output::WriteCommit { tag, .. } => Input::CommitWritten {
                tag,
                result: Ok(()),
            },
            o => unreachable!("{o:?}"),
        };
        self.step(input);
    }

    /// Delivers the node's next multicast back to it.
    fn own(&mut self) {
        if let Some(msg) = self.own.pop_front() {
            self.step(Input::Cpg { from: 1, msg });
        }
    }

    /// Grants every call and delivers everything, until nothing is pending.
    fn settle(&mut self) {
        loop {
            if self.dlm.values().any(|q| !q.is_empty()) {
                self.answer(0, 0);
            } else if !self.other.is_empty() {
                self.answer_other();
            } else if !self.own.is_empty() {
                self.own();
            } else {
                return;
            }
        }
    }

    /// Steps `input` and says which resources the step drove, and how many passes over
    /// every resource it made.
    fn driving(&mut self, input: Input) -> (BTreeSet<ResourceName>, u32) {
        self.step(input);
        let driven = self.node.driven.iter().map(|(_, r)| r.clone()).collect();
        (driven, self.node.scans)
    }
}

fn snapshot(version: u32, holds: Vec<(String, String, Mode)>) -> CpgMsg {
    CpgMsg::Snapshot {
        name: "node2".into(),
        holds,
        disabled: Vec::new(),
        version,
    }
}

fn lv_lock(i: usize, mode: Mode) -> Request {
    Request::lv("vg".to_string(), uuid(i), format!("lv{i}"), mode)
}

fn scope(global: bool) -> Scope {
    if global {
        Scope::Global
    } else {
        Scope::Vg("vg".into())
    }
}

#[test]
fn an_input_about_one_of_a_thousand_lv_locks_drives_that_one_alone() {
    let mut d = Driver::new(false);
    // (Unchecked while filling: each check is a pass over every resource.)
    d.check = false;
    for i in 0..1000 {
        d.request(1, lv_lock(i, Mode::Ex));
        d.settle();
    }
    d.check = true;
    assert_eq!(d.node.active_lvs("vg").len(), 1000);
    let one = |r: ResourceName| (BTreeSet::from([r]), 0);
    let none = (BTreeSet::new(), 0);
    let (lv, vglk) = (lv_res(1000), ResourceName::vglk());
    assert_eq!(d.driving(Input::Connected { conn: 7, pid: 7 }), none);
    let hello = Request::Hello {
        version: clvmd_proto::PROTOCOL_VERSION,
        client: "test".into(),
    };
    let req = |request| Input::Request { conn: 7, request };
    assert_eq!(d.driving(req(hello)), none);
    // An lvchange -aey: the VG lock, its release, the LV's lock; then its -an.
    let lock = Request::Lock {
        scope: scope(false),
        mode: Mode::Pr,
        wait_ms: 0,
    };
    assert_eq!(d.driving(req(lock)), one(vglk.clone()));
    let grant = |d: &mut Driver| {
        let Some(Output::Dlm { tag, op, .. }) = d.dlm.get_mut(&vg_ls()).unwrap().pop_front() else {
            panic!("no DLM call");
        };
        let lkid = match op {
            DlmOp::Convert { lkid, .. } | DlmOp::Unlock { lkid, .. } => lkid,
            _ => LockId(7),
        };
        d.driving(Input::DlmDone {
            tag,
            result: Ok(Outcome::Granted(Granted {
                lkid,
                lvb: None,
                lvb_invalid: false,
            })),
        })
    };
    // (Its NL lock was made at the lockstart: one conversion.)
    assert_eq!(grant(&mut d), one(vglk.clone()));
    assert!(matches!(
        d.replies.last(),
        Some((7, Response::Granted { .. }))
    ));
    let unlock = Request::Unlock {
        scope: scope(false),
        seqno: None,
        removed: false,
        quiet: false,
    };
    assert_eq!(d.driving(req(unlock)), one(vglk.clone()));
    assert_eq!(grant(&mut d), one(vglk.clone()));
    assert_eq!(d.driving(req(lv_lock(1000, Mode::Ex))), one(lv.clone()));
    assert_eq!(grant(&mut d), one(lv.clone()));
    assert_eq!(d.driving(req(lv_lock(1000, Mode::Nl))), one(lv.clone()));
    assert_eq!(grant(&mut d), one(lv.clone()));
    assert!(d.dlm.values().all(|q| q.is_empty()));
    // Another node's announcements about it, and time passing with nothing due.
    let held = CpgMsg::Held {
        ls: vg_ls().to_string(),
        res: lv_res(5).to_string(),
        mode: Mode::Pr,
    };
    assert_eq!(d.driving(Input::Cpg { from: 2, msg: held }), one(lv_res(5)));
    d.now += 10;
    assert_eq!(d.driving(Input::Tick), none);
    // A disconnection looks at every resource (without allocating) but drives only those
    // the client had something in.
    assert_eq!(d.driving(Input::Disconnected { conn: 7 }), none);
    assert_eq!(d.node.active_lvs("vg").len(), 1000);
    // A membership change drives every resource (rare).
    let (driven, _) = d.driving(Input::Membership {
        members: vec![1, 2],
    });
    assert_eq!(driven.len(), 1002);
}

#[test]
fn a_waiters_retry_and_deadline_drive_it_when_they_come() {
    let mut d = Driver::new(false);
    for i in 0..100 {
        d.request(1, lv_lock(i, Mode::Ex));
        d.settle();
    }
    // Node 2 holds the VG lock (and said so): ours is refused and retried after a backoff,
    // then given up at its deadline.
    d.step(Input::Cpg {
        from: 2,
        msg: CpgMsg::Held {
            ls: vg_ls().to_string(),
            res: "VGLK".into(),
            mode: Mode::Ex,
        },
    });
    d.request(
        7,
        Request::Lock {
            scope: scope(false),
            mode: Mode::Ex,
            wait_ms: 300,
        },
    );
    let vglk = ResourceName::vglk();
    let mut refusals = 0;
    while !d.replies.iter().any(|(c, _)| *c == 7) {
        match d.dlm.get_mut(&vg_ls()).unwrap().pop_front() {
            Some(Output::Dlm {
                tag,
                op: DlmOp::Lock { .. },
                ..
            }) => d.step(Input::DlmDone {
                tag,
                result: Ok(Outcome::Granted(Granted {
                    lkid: LockId(9),
                    lvb: None,
                    lvb_invalid: false,
                })),
            }),
            Some(Output::Dlm { tag, .. }) => {
                refusals += 1;
                d.step(Input::DlmDone {
                    tag,
                    result: Ok(Outcome::WouldBlock),
                })
            }
            Some(o) => panic!("{o:?}"),
            None => {
                d.now = d.node.next_wake().expect("a retry or the deadline");
                let (driven, scans) = d.driving(Input::Tick);
                assert_eq!(scans, 0);
                assert!(driven.iter().all(|r| *r == vglk), "{driven:?}");
            }
        }
    }
    assert!(refusals >= 2, "{refusals}");
    assert_eq!(d.now, 301, "given up at its deadline");
    assert!(matches!(d.replies.last(), Some((7, Response::Busy { .. }))));
}

/// What a random run does next (indices are taken modulo what exists).
#[derive(Debug, Clone)]
enum Op {
    Connect(u64),
    Disconnect(u64),
    Lock(u64, bool, bool, u32),
    Unlock(u64, bool, Option<u32>),
    LvLock(u64, usize, usize),
    LvUnlock(u64, usize),
    VgMode(u64, usize),
    LockStart(u64),
    LockStop(u64, bool),
    Sync(u64),
    Answer(usize, u8),
    AnswerOther,
    Own,
    Held(u32, bool, usize, usize),
    Waiting(u32, bool, usize, usize),
    Snapshot(u32, u32, Option<(usize, usize)>),
    Barrier(u32, u64),
    BarrierAck(u32, u64),
    Members(u8),
    Quorum(bool),
    Tick(u64),
    Wake,
}

fn op() -> impl Strategy<Value = Op> {
    let conn = 1u64..5;
    let node = 2u32..4;
    prop_oneof![
        1 => conn.clone().prop_map(Op::Connect),
        1 => conn.clone().prop_map(Op::Disconnect),
        4 => (conn.clone(), any::<bool>(), any::<bool>(), prop_oneof![Just(0u32), 1u32..2000])
            .prop_map(|(c, g, ex, w)| Op::Lock(c, g, ex, w)),
        3 => (conn.clone(), any::<bool>(), prop::option::of(1u32..5))
            .prop_map(|(c, g, s)| Op::Unlock(c, g, s)),
        4 => (conn.clone(), 0usize..3, 1usize..6).prop_map(|(c, l, m)| Op::LvLock(c, l, m)),
        2 => (conn.clone(), 0usize..3).prop_map(|(c, l)| Op::LvUnlock(c, l)),
        1 => (conn.clone(), 0usize..6).prop_map(|(c, m)| Op::VgMode(c, m)),
        1 => conn.clone().prop_map(Op::LockStart),
        1 => (conn.clone(), any::<bool>()).prop_map(|(c, f)| Op::LockStop(c, f)),
        1 => conn.prop_map(Op::Sync),
        12 => (any::<usize>(), any::<u8>()).prop_map(|(k, o)| Op::Answer(k, o)),
        2 => Just(Op::AnswerOther),
        4 => Just(Op::Own),
        3 => (node.clone(), global(), remote_res(), remote_mode())
            .prop_map(|(n, g, r, m)| Op::Held(n, g, r, m)),
        3 => (node.clone(), global(), remote_res(), remote_mode())
            .prop_map(|(n, g, r, m)| Op::Waiting(n, g, r, m)),
        1 => (node.clone(), 0u32..3, prop::option::of((0usize..5, 1usize..6)))
            .prop_map(|(n, v, h)| Op::Snapshot(n, v, h)),
        1 => (node.clone(), 1u64..4).prop_map(|(n, t)| Op::Barrier(n, t)),
        1 => (node, 1u64..4).prop_map(|(n, t)| Op::BarrierAck(n, t)),
        1 => (0u8..8).prop_map(Op::Members),
        1 => any::<bool>().prop_map(Op::Quorum),
        2 => (0u64..1500).prop_map(Op::Tick),
        3 => Just(Op::Wake),
    ]
}

// Another node's announcements are mostly about the VG's lock, the one waited for (an LV's
// lock is refused at once), and mostly releases or the modes commands take.
fn global() -> impl Strategy<Value = bool> {
    prop_oneof![4 => Just(false), 1 => Just(true)]
}

fn remote_res() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(0usize), 1 => 1usize..5]
}

fn remote_mode() -> impl Strategy<Value = usize> {
    // Mode::ALL: NL, CR, CW, PR, PW, EX.
    prop_oneof![3 => Just(0usize), 2 => Just(3usize), 2 => Just(5usize), 1 => 0usize..6]
}

/// Resource `r` of the VG's lockspace (or the global one): its lock, an LV's, the
/// activation mode's.
fn named(global: bool, r: usize) -> (String, String) {
    let ls = if global {
        LockspaceName::global()
    } else {
        vg_ls()
    };
    let res = match r {
        0 if global => ResourceName::gllk(),
        0 => ResourceName::vglk(),
        4 => ResourceName::new(modes::MODE_RESOURCE).expect("valid"),
        i => lv_res(i - 1),
    };
    (ls.to_string(), res.to_string())
}

fn run(existed: bool, ops: Vec<Op>) {
    let mut d = Driver::new(existed);
    for op in ops {
        match op {
            Op::Connect(conn) => d.step(Input::Connected { conn, pid: 1 }),
            Op::Disconnect(conn) => d.step(Input::Disconnected { conn }),
            Op::Lock(conn, global, ex, wait_ms) => d.request(
                conn,
                Request::Lock {
                    scope: scope(global),
                    mode: if ex { Mode::Ex } else { Mode::Pr },
                    wait_ms,
                },
            ),
            Op::Unlock(conn, global, seqno) => d.request(
                conn,
                Request::Unlock {
                    scope: scope(global),
                    seqno,
                    removed: false,
                    quiet: false,
                },
            ),
            Op::LvLock(conn, l, m) => d.request(conn, lv_lock(l, Mode::ALL[m])),
            Op::LvUnlock(conn, l) => d.request(conn, lv_lock(l, Mode::Nl)),
            Op::VgMode(conn, m) => d.request(
                conn,
                Request::VgMode {
                    vg: "vg".into(),
                    mode: Mode::ALL[m],
                },
            ),
            Op::LockStart(conn) => d.request(
                conn,
                Request::LockStart {
                    vg: "vg".into(),
                    lock_args: "1.0.0:c".into(),
                },
            ),
            Op::LockStop(conn, force) => d.request(
                conn,
                Request::LockStop {
                    vg: "vg".into(),
                    force,
                },
            ),
            Op::Sync(conn) => d.request(conn, Request::Sync),
            Op::Answer(k, outcome) => d.answer(k, outcome),
            Op::AnswerOther => d.answer_other(),
            Op::Own => d.own(),
            Op::Held(from, global, r, m) | Op::Waiting(from, global, r, m) => {
                let (ls, res) = named(global, r);
                let mode = Mode::ALL[m];
                let msg = if matches!(op, Op::Held(..)) {
                    CpgMsg::Held { ls, res, mode }
                } else {
                    CpgMsg::Waiting { ls, res, mode }
                };
                d.step(Input::Cpg { from, msg });
            }
            Op::Snapshot(from, version, hold) => {
                let holds = hold
                    .map(|(r, m)| {
                        let (ls, res) = named(false, r);
                        (ls, res, Mode::ALL[m])
                    })
                    .into_iter()
                    .collect();
                d.step(Input::Cpg {
                    from,
                    msg: snapshot(version, holds),
                });
            }
            Op::Barrier(from, token) => d.step(Input::Cpg {
                from,
                msg: CpgMsg::Barrier { token },
            }),
            Op::BarrierAck(from, token) => d.step(Input::Cpg {
                from,
                msg: CpgMsg::BarrierAck { origin: 1, token },
            }),
            Op::Members(mask) => {
                let members = (1..=3).filter(|n| mask & (1 << (n - 1)) != 0).collect();
                d.step(Input::Membership { members });
            }
            Op::Quorum(quorate) => d.step(Input::Quorum { quorate }),
            Op::Tick(ms) => {
                d.now += ms;
                d.step(Input::Tick);
            }
            Op::Wake => {
                if let Some(t) = d.node.next_wake() {
                    d.now = d.now.max(t);
                    d.step(Input::Tick);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(96),
        .. ProptestConfig::default()
    })]

    /// Any inputs: after each step, a pass over every resource does nothing more (driving,
    /// telling) and next_wake agrees with a scan of every resource ([`Node::assert_rested`]).
    #[test]
    fn a_step_leaves_nothing_for_a_pass_over_every_resource(
        existed in any::<bool>(),
        ops in prop::collection::vec(op(), 1..300),
    ) {
        run(existed, ops);
    }
}
