//! The client library (lvmeta's LockManager for dlm VGs, activation calls) against real
//! daemon loops, in-process, on an in-memory DLM shared by two "nodes" (two daemons without
//! corosync: each is a CPG group of one, so a holder on the other node is "another host").

use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clvmd_client::{Client, ClientError, DlmLocking};
use clvmd_proto::{Holder, Mode, Scope};
use clvmd_rs::server::{bind, serve, Options};
use halvm_dlm::MemDlm;
use lvmeta::lock::{LockManager, LockMode};

const LV: &str = "abcdef-0123-4567-89AB-CDEF-0123-456789";

struct Cluster {
    dir: tempfile::TempDir,
    dlm: MemDlm,
}

impl Cluster {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cluster_name"), "testcluster\n").unwrap();
        Cluster {
            dir,
            dlm: MemDlm::new(),
        }
    }

    /// Starts a daemon loop for DLM node `id` in a thread; returns its socket.
    fn daemon(&self, id: u32) -> PathBuf {
        let socket = self.dir.path().join(format!("n{id}.sock"));
        let listener: UnixListener = bind(&socket).unwrap();
        let opts = Options {
            socket: socket.clone(),
            pidfile: self.dir.path().join(format!("n{id}.pid")),
            foreground: true,
            node_name: Some(format!("n{id}")),
            corosync: false,
            debug: false,
            log_file: None,
            cluster_name_file: self.dir.path().join("cluster_name"),
            quorum_loss: clvmd_rs::QuorumLoss::Freeze,
            detach: clvmd_rs::Detach::Global,
            dg_failure: clvmd_proto::DgFailure::Dgdisable,
            fence_dir: self.dir.path().join("fence"),
        };
        let dlm = Arc::new(self.dlm.node(id));
        // The loop runs until the test process ends.
        std::thread::spawn(move || serve(&opts, listener, dlm, true).unwrap());
        let mut c = Client::connect(&socket, "test").unwrap();
        c.lock_start("vg", "1.0.0:testcluster").unwrap();
        socket
    }
}

#[test]
fn lvmeta_locks_carry_the_seqno_and_exclude_across_nodes() {
    let cl = Cluster::new();
    let (s1, s2) = (cl.daemon(1), cl.daemon(2));
    let m1 = DlmLocking::new(&s1, Duration::from_secs(5));
    let m2 = DlmLocking::new(&s2, Duration::from_millis(200));
    let mut g = m1.lock_vg("vg", LockMode::Exclusive).unwrap();
    // Held on node 1: node 2's reader gives up after its wait, naming the holder.
    let t = Instant::now();
    let e = m2.lock_vg("vg", LockMode::Shared).unwrap_err().to_string();
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(150),
        "it waited: answered after {waited:?} with {e}"
    );
    assert!(e.contains("another host (not running clvmd-rs)"), "{e}");
    g.note_committed_seqno(41);
    drop(g);
    let mut c2 = Client::connect(&s2, "t").unwrap();
    assert_eq!(
        c2.lock(Scope::Vg("vg".into()), Mode::Pr, Duration::ZERO)
            .unwrap(),
        Some(41)
    );
    // A writer on node 1 waits for node 2's reader and gets the lock when it goes (timed
    // from before the spawn: a thread started late on a loaded host must not shorten it).
    let t = Instant::now();
    let waiter = std::thread::spawn(move || {
        let g = m1.lock_vg("vg", LockMode::Exclusive).unwrap();
        (t.elapsed(), g.mode())
    });
    std::thread::sleep(Duration::from_millis(300));
    drop(c2); // closing the connection releases its locks
    let (waited, mode) = waiter.join().unwrap();
    assert!(waited >= Duration::from_millis(250), "{waited:?}");
    assert_eq!(mode, LockMode::Exclusive);
    cl.dlm.assert_compatible();
}

#[test]
fn global_lock_through_lvmeta_interface() {
    let cl = Cluster::new();
    let s1 = cl.daemon(1);
    let m = DlmLocking::new(&s1, Duration::ZERO);
    let g = m.lock_global(LockMode::Exclusive).unwrap();
    assert_eq!(
        cl.dlm.holders("lvm_global", "GLLK")[0].mode,
        halvm_dlm::Mode::Ex
    );
    drop(g);
    let t = Instant::now();
    while cl.dlm.holders("lvm_global", "GLLK")[0].mode != halvm_dlm::Mode::Nl {
        assert!(t.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn activation_locks_outlive_the_client_and_conflicts_name_the_holder() {
    let cl = Cluster::new();
    let (s1, s2) = (cl.daemon(1), cl.daemon(2));
    {
        let mut c1 = Client::connect(&s1, "lvchange").unwrap();
        c1.lv_lock("vg", LV, "lv1", Mode::Ex).unwrap();
    } // lvchange -aey exits
    let mut c2 = Client::connect(&s2, "lvchange").unwrap();
    for mode in [Mode::Ex, Mode::Pr] {
        match c2.lv_lock("vg", LV, "lv1", mode).unwrap_err() {
            ClientError::Busy { resource, holder } => {
                assert_eq!(resource, "LV vg/lv1");
                assert_eq!(holder, Holder::OtherHost);
            }
            e => panic!("{e}"),
        }
    }
    let st = Client::connect(&s1, "status").unwrap().status().unwrap();
    let lock = st
        .lockspaces
        .iter()
        .flat_map(|l| &l.locks)
        .find(|l| l.resource == LV)
        .unwrap();
    assert_eq!(lock.mode, Mode::Ex);
    assert_eq!(lock.holders, vec!["persistent EX".to_string()]);
    Client::connect(&s1, "lvchange -an")
        .unwrap()
        .lv_unlock("vg", LV, "lv1")
        .unwrap();
    c2.lv_lock("vg", LV, "lv1", Mode::Ex).unwrap();
    let e = Client::connect(&s1, "stop").unwrap().lock_stop("vg", false);
    assert!(e.is_ok(), "{e:?}");
    let e = Client::connect(&s2, "stop")
        .unwrap()
        .lock_stop("vg", false)
        .unwrap_err();
    assert!(e.to_string().contains("lv1"), "{e}");
}

#[test]
fn wrong_cluster_is_refused_with_both_names() {
    let cl = Cluster::new();
    let s1 = cl.daemon(1);
    let e = Client::connect(&s1, "t")
        .unwrap()
        .lock_start("vg2", "1.0.0:othercluster")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("othercluster") && e.contains("testcluster"),
        "{e}"
    );
}

/// lvm2's `lvchange -an` goes through when the VG's lockspace is not started here or no lock
/// daemon runs (lockd_lv "un": no lock can be held then); activation still needs both.
#[test]
fn deactivation_needs_neither_a_started_lockspace_nor_the_daemon() {
    let cl = Cluster::new();
    let s1 = cl.daemon(1);
    let m = DlmLocking::new(&s1, Duration::ZERO);
    m.unlock_lv("notstarted", LV, "lv1").unwrap();
    let e = m
        .lock_lv("notstarted", LV, "lv1", LockMode::Exclusive)
        .unwrap_err();
    assert!(e.to_string().contains("not started"), "{e}");
    let gone = DlmLocking::new(cl.dir.path().join("nobody.sock"), Duration::ZERO);
    gone.unlock_lv("vg", LV, "lv1").unwrap();
    let e = gone
        .lock_lv("vg", LV, "lv1", LockMode::Exclusive)
        .unwrap_err();
    assert!(e.to_string().contains("clvmd-rs"), "{e}");
}
