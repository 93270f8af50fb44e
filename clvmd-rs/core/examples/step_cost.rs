//! What one client request costs the state machine with n LV activation locks held (a
//! measurement, not a test: nothing is asserted about time).
//!
//! `bench/clvmd-step.sh [rounds]` (or `cargo run -p clvmd-core --release --example step_cost`)
//!
//! One node, a group of one, every DLM call granted at once by a stand-in (so only
//! [`Node::step`] and [`Node::next_wake`] are timed, as the daemon calls them). A round is an
//! `lvchange -an`'s requests plus the activation before it: hello, VG lock PR, VG unlock, LV
//! lock EX, LV unlock, each with its DLM completions, on a connection of its own (connected
//! and disconnected, as an lvm command's).

use std::collections::VecDeque;
use std::time::Instant;

use clvmd_core::{DlmOp, Input, Node, NodeConfig, Output};
use clvmd_proto::{Mode, Request, Response, Scope};
use halvm_dlm::{Granted, LockId, Outcome};

struct Bench {
    node: Node,
    now: u64,
    lkid: u32,
    steps: u64,
    conn: u64,
}

impl Bench {
    /// Steps `input` and everything it sets off (DLM calls granted, own multicasts back).
    fn feed(&mut self, input: Input) -> Vec<Response> {
        let mut pending = VecDeque::from([input]);
        let mut replies = Vec::new();
        while let Some(i) = pending.pop_front() {
            let outs = self.node.step(self.now, i);
            let _ = self.node.next_wake();
            self.steps += 1;
            for o in outs {
                match o {
                    Output::Reply { response, .. } => replies.push(response),
                    Output::Join { ls } => pending.push_back(Input::Joined {
                        ls,
                        result: Ok(false),
                    }),
                    Output::Dlm { tag, op, .. } => {
                        self.lkid += 1;
                        let lkid = match op {
                            DlmOp::Convert { lkid, .. } | DlmOp::Unlock { lkid, .. } => lkid,
                            _ => LockId(self.lkid),
                        };
                        pending.push_back(Input::DlmDone {
                            tag,
                            result: Ok(Outcome::Granted(Granted {
                                lkid,
                                lvb: None,
                                lvb_invalid: false,
                            })),
                        });
                    }
                    Output::Cpg(msg) => pending.push_back(Input::Cpg { from: 1, msg }),
                    _ => {}
                }
            }
        }
        replies
    }

    fn ask(&mut self, request: Request) -> Response {
        let conn = self.conn;
        let r = self.feed(Input::Request { conn, request });
        assert_eq!(r.len(), 1, "{r:?}");
        r.into_iter().next().expect("one")
    }
}

fn uuid(i: usize) -> String {
    format!("{i:032x}")
}

fn lv(i: usize, mode: Mode) -> Request {
    Request::lv("vg".to_string(), uuid(i), format!("lv{i}"), mode)
}

fn bench(held: usize, rounds: usize) {
    let mut b = Bench {
        node: Node::new(NodeConfig {
            node_id: 1,
            node_name: "node1".into(),
            quorum_loss: Default::default(),
            detach: Default::default(),
            dg_failure: clvmd_proto::DgFailure::Dgdisable,
        }),
        now: 1,
        lkid: 0,
        steps: 0,
        conn: 1,
    };
    b.feed(Input::ClusterName(Some("c".into())));
    b.feed(Input::Membership { members: vec![1] });
    b.feed(Input::Quorum { quorate: true });
    b.feed(Input::Connected { conn: 1, pid: 1 });
    let r = b.ask(Request::LockStart {
        vg: "vg".into(),
        lock_args: "1.0.0:c".into(),
    });
    assert_eq!(r, Response::Done);
    for i in 0..held {
        assert_eq!(b.ask(lv(i, Mode::Ex)), Response::Done);
    }
    let steps = b.steps;
    let t = Instant::now();
    for n in 0..rounds {
        b.now += 1;
        b.conn += 1;
        b.feed(Input::Connected {
            conn: b.conn,
            pid: 1,
        });
        b.ask(Request::Hello {
            version: clvmd_proto::PROTOCOL_VERSION,
            client: "bench".into(),
        });
        let vg = Scope::Vg("vg".into());
        let r = b.ask(Request::Lock {
            scope: vg.clone(),
            mode: Mode::Pr,
            wait_ms: 0,
        });
        assert!(matches!(r, Response::Granted { .. }), "{r:?}");
        let r = b.ask(Request::Unlock {
            scope: vg,
            seqno: None,
            removed: false,
            quiet: false,
        });
        assert_eq!(r, Response::Done);
        let i = held + n % 8;
        assert_eq!(b.ask(lv(i, Mode::Ex)), Response::Done);
        assert_eq!(b.ask(lv(i, Mode::Nl)), Response::Done);
        b.feed(Input::Disconnected { conn: b.conn });
    }
    let el = t.elapsed();
    let requests = rounds * 5;
    let steps = b.steps - steps;
    println!(
        "{held:>5} LV locks held: {:>8.2} us a request, {:>7.2} us a step ({requests} requests, \
         {steps} steps, {:.1} ms)",
        el.as_secs_f64() * 1e6 / requests as f64,
        el.as_secs_f64() * 1e6 / steps as f64,
        el.as_secs_f64() * 1e3
    );
}

fn main() {
    let rounds = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    for held in [10, 100, 1000] {
        bench(held, rounds);
    }
}
