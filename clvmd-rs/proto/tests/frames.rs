//! Frame codec properties: round trips, chunked delivery, and hostile input.

use clvmd_proto::*;
use proptest::prelude::*;

fn mode() -> impl Strategy<Value = Mode> {
    prop::sample::select(Mode::ALL.to_vec())
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![Just(Scope::Global), "\\PC{0,20}".prop_map(Scope::Vg)]
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (any::<u32>(), "\\PC{0,30}")
            .prop_map(|(version, client)| Request::Hello { version, client }),
        ("\\PC{0,20}", "\\PC{0,40}")
            .prop_map(|(vg, lock_args)| Request::LockStart { vg, lock_args }),
        ("\\PC{0,20}", any::<bool>()).prop_map(|(vg, force)| Request::LockStop { vg, force }),
        (scope(), mode(), any::<u32>()).prop_map(|(scope, mode, wait_ms)| Request::Lock {
            scope,
            mode,
            wait_ms
        }),
        (scope(), any::<Option<u32>>(), any::<bool>(), any::<bool>()).prop_map(
            |(scope, seqno, removed, quiet)| Request::Unlock {
                scope,
                seqno,
                removed,
                quiet,
            }
        ),
        ("\\PC{0,20}", "[a-zA-Z0-9-]{0,40}", "\\PC{0,20}", mode()).prop_map(
            |(vg, lv_uuid, lv_name, mode)| Request::LvLock {
                vg,
                lv_uuid,
                lv_name,
                mode
            }
        ),
        ("\\PC{0,20}", "[a-zA-Z0-9-]{0,40}", "\\PC{0,20}").prop_map(|(vg, lv_uuid, lv_name)| {
            Request::LvUnlock {
                vg,
                lv_uuid,
                lv_name,
            }
        }),
        Just(Request::Status),
        Just(Request::Sync),
        (
            "\\PC{0,20}",
            "[a-zA-Z0-9-]{0,40}",
            any::<u32>(),
            "[ -~\t\n]{0,200}",
            "\\PC{0,40}",
            prop::option::of(prop::sample::select(vec![
                DgFailure::Dgdisable,
                DgFailure::Leave
            ]))
        )
            .prop_map(|(vg, vg_uuid, disk_seqno, metadata, error, policy)| {
                Request::CarryCommit(CarryCommit {
                    vg,
                    vg_uuid,
                    disk_seqno,
                    metadata,
                    error,
                    policy,
                })
            }),
    ]
}

fn holder() -> impl Strategy<Value = Holder> {
    prop_oneof![
        Just(Holder::OtherHost),
        (any::<u32>(), "\\PC{0,20}", mode()).prop_map(|(id, name, mode)| Holder::Node {
            id,
            name,
            mode
        }),
    ]
}

fn response() -> impl Strategy<Value = Response> {
    prop_oneof![
        (any::<u32>(), any::<u32>(), "\\PC{0,20}").prop_map(|(version, node_id, node_name)| {
            Response::Hello {
                version,
                node_id,
                node_name,
            }
        }),
        Just(Response::Done),
        (any::<u32>(), "\\PC{0,20}")
            .prop_map(|(node_id, node_name)| Response::Carried { node_id, node_name }),
        (any::<Option<u32>>(), any::<bool>()).prop_map(|(r_version, lvb_invalid)| {
            Response::Granted {
                r_version,
                lvb_invalid,
            }
        }),
        ("\\PC{0,30}", holder()).prop_map(|(resource, holder)| Response::Busy { resource, holder }),
        "\\PC{0,60}".prop_map(|message| Response::Failed {
            kind: ErrorKind::Dlm,
            message
        }),
        (
            any::<u32>(),
            any::<bool>(),
            prop::collection::vec(("\\PC{0,12}", mode(), holder()), 0..5)
        )
            .prop_map(|(node_id, quorate, locks)| Response::Status(Status {
                node_id,
                node_name: "n".into(),
                cluster_name: Some("c".into()),
                quorate,
                members: vec![Member {
                    id: node_id,
                    name: None
                }],
                lockspaces: vec![LockspaceStatus {
                    name: "lvm_vg".into(),
                    state: "running".into(),
                    seqno: Some(node_id),
                    locks: locks
                        .into_iter()
                        .map(|(resource, mode, h)| LockStatus {
                            resource,
                            lv_name: None,
                            mode,
                            holders: vec!["persistent EX".into()],
                            remote: vec![RemoteHold {
                                node: 2,
                                name: None,
                                mode
                            }],
                            last_busy: Some(h),
                        })
                        .collect(),
                }],
                frozen: vec![FrozenVg {
                    vg: "vg".into(),
                    state: "frozen".into(),
                    how: "fail-io".into(),
                    for_ms: u64::from(node_id),
                    error: Some("EBUSY".into()),
                    stranded: Some("merged".into()),
                }],
                cluster_stack: (node_id % 2 == 0).then(|| "dlm_controld is not running".into()),
                disabled_vgs: vec![],
                peer_refreshes: vec![],
                failed_lvs: vec![FailedLv {
                    vg: "vg".into(),
                    lv: "m".into(),
                    uuid: "u".into(),
                    dead_legs: vec![0, 2],
                    dead_log: false,
                    action: "reported".into(),
                    for_ms: 3,
                    error: None,
                }],
            })),
    ]
}

proptest! {
    #[test]
    fn requests_roundtrip_through_frames(reqs in prop::collection::vec(request(), 1..8), cut in any::<prop::sample::Index>()) {
        let mut stream = Vec::new();
        for r in &reqs {
            stream.extend(encode_frame(r, MAX_REQUEST).unwrap());
        }
        // Delivered in two arbitrary pieces, the reader yields the same messages.
        let at = cut.index(stream.len() + 1);
        let mut rd = FrameReader::new(MAX_REQUEST);
        let mut got = Vec::new();
        for part in [&stream[..at], &stream[at..]] {
            rd.push(part);
            while let Some(m) = rd.next_message::<Request>().unwrap() {
                got.push(m);
            }
        }
        prop_assert_eq!(got, reqs);
        prop_assert_eq!(rd.pending(), 0);
    }

    #[test]
    fn responses_roundtrip_through_blocking_io(resp in response()) {
        let mut buf = Vec::new();
        write_frame(&mut buf, &resp, MAX_RESPONSE).unwrap();
        let back: Response = read_frame(&mut buf.as_slice(), MAX_RESPONSE).unwrap();
        prop_assert_eq!(back, resp);
    }

    /// A text the daemon would carry is one whose JSON is at most twice as long, so any
    /// accepted text fits a request frame; anything else is refused, never truncated.
    #[test]
    fn carried_texts_are_bounded_and_fit_a_frame(text in "\\PC{0,300}|[ -~\t\n]{0,300}|(\"|\\\\){0,300}", ctl in any::<bool>()) {
        let text = if ctl { format!("{text}\u{1}") } else { text };
        match carry_text_problem(&text) {
            None => {
                prop_assert!(!text.is_empty() && text.len() <= MAX_CARRY_TEXT);
                let json = serde_json::to_string(&text).unwrap();
                prop_assert!(json.len() <= 2 * text.len() + 2, "{}", json.len());
            }
            Some(why) => prop_assert!(text.is_empty() || ctl || text.len() > MAX_CARRY_TEXT, "{}", why),
        }
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_frame::<Request>(&bytes, MAX_REQUEST);
        let _ = read_frame::<Request>(&mut bytes.as_slice(), MAX_REQUEST);
    }

    #[test]
    fn truncated_frames_are_errors(req in request(), keep in any::<prop::sample::Index>()) {
        let f = encode_frame(&req, MAX_REQUEST).unwrap();
        let n = keep.index(f.len());
        prop_assert!(decode_frame::<Request>(&f[..n], MAX_REQUEST).unwrap().is_none());
        let e = read_frame::<Request>(&mut &f[..n], MAX_REQUEST).unwrap_err();
        prop_assert!(matches!(e, FrameError::Closed | FrameError::Truncated), "{e}");
    }
}

#[test]
fn oversized_length_is_refused_before_the_body() {
    let header = ((MAX_REQUEST + 1) as u32).to_le_bytes();
    assert!(matches!(
        decode_frame::<Request>(&header, MAX_REQUEST),
        Err(FrameError::TooLarge { .. })
    ));
    let mut huge = u32::MAX.to_le_bytes().to_vec();
    huge.extend_from_slice(b"{}");
    assert!(matches!(
        read_frame::<Request>(&mut huge.as_slice(), MAX_REQUEST),
        Err(FrameError::TooLarge { .. })
    ));
    assert!(matches!(
        decode_frame::<Request>(&[0, 0, 0, 0], MAX_REQUEST),
        Err(FrameError::Empty)
    ));
    let big = Request::LockStart {
        vg: "v".repeat(MAX_REQUEST),
        lock_args: String::new(),
    };
    assert!(matches!(
        encode_frame(&big, MAX_REQUEST),
        Err(FrameError::TooLarge { .. })
    ));
}

/// The largest carried text, made of the characters JSON escapes, fits a request frame with
/// the request's other fields; one byte more, or a control character, is refused by the
/// bound both ends check (the client before sending, the daemon before multicasting).
#[test]
fn the_largest_carried_text_fits_and_more_is_refused() {
    let worst = "\"\\\n\t".repeat(MAX_CARRY_TEXT / 4);
    assert_eq!(worst.len(), MAX_CARRY_TEXT);
    assert_eq!(carry_text_problem(&worst), None);
    let req = Request::CarryCommit(CarryCommit {
        vg: "v".repeat(127),
        vg_uuid: "u".repeat(38),
        disk_seqno: u32::MAX,
        metadata: worst.clone(),
        error: "e".repeat(4096),
        policy: Some(DgFailure::Leave),
    });
    let f = encode_frame(&req, MAX_REQUEST).unwrap();
    let (back, _) = decode_frame::<Request>(&f, MAX_REQUEST).unwrap().unwrap();
    assert_eq!(back, req);
    let over = format!("{worst}x");
    assert!(carry_text_problem(&over).unwrap().contains("exceeds"));
    assert!(carry_text_problem("vg {\u{0}}")
        .unwrap()
        .contains("control"));
    assert!(carry_text_problem("").is_some());
    // A frame claiming more than the bound is refused before its body is read.
    let header = ((MAX_REQUEST + 1) as u32).to_le_bytes();
    assert!(matches!(
        decode_frame::<Request>(&header, MAX_REQUEST),
        Err(FrameError::TooLarge { .. })
    ));
}

#[test]
fn unknown_fields_and_types_are_rejected() {
    let body = br#"{"status2":null}"#;
    let mut f = (body.len() as u32).to_le_bytes().to_vec();
    f.extend_from_slice(body);
    assert!(matches!(
        decode_frame::<Request>(&f, MAX_REQUEST),
        Err(FrameError::Json(_))
    ));
    let body = br#"{"lock_stop":{"vg":"a","force":true,"extra":1}}"#;
    let mut f = (body.len() as u32).to_le_bytes().to_vec();
    f.extend_from_slice(body);
    assert!(decode_frame::<Request>(&f, MAX_REQUEST).is_err());
    // A carry without its seqno, or with a seqno out of range, is no request.
    for body in [
        &br#"{"carry_commit":{"vg":"a","vg_uuid":"u","metadata":"x","error":"e","policy":null}}"#[..],
        br#"{"carry_commit":{"vg":"a","vg_uuid":"u","disk_seqno":4294967296,"metadata":"x","error":"e","policy":null}}"#,
        br#"{"carry_commit":{"vg":"a","vg_uuid":"u","disk_seqno":1,"metadata":7,"error":"e","policy":null}}"#,
    ] {
        let mut f = (body.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(body);
        assert!(decode_frame::<Request>(&f, MAX_REQUEST).is_err());
    }
}

#[test]
fn wire_spelling_is_stable() {
    let f = encode_frame(
        &Request::Lock {
            scope: Scope::Vg("vg0".into()),
            mode: Mode::Ex,
            wait_ms: 0,
        },
        MAX_REQUEST,
    )
    .unwrap();
    assert_eq!(
        std::str::from_utf8(&f[4..]).unwrap(),
        r#"{"lock":{"scope":{"vg":"vg0"},"mode":"ex","wait_ms":0}}"#
    );
    assert_eq!(
        serde_json::to_string(&Request::Status).unwrap(),
        r#""status""#
    );
    assert_eq!(serde_json::to_string(&Request::Sync).unwrap(), r#""sync""#);
}

#[test]
fn io_blocked_names_the_reason() {
    let mut st = Status {
        node_id: 1,
        node_name: "node1".into(),
        cluster_name: None,
        quorate: true,
        members: vec![],
        lockspaces: vec![],
        frozen: vec![],
        cluster_stack: None,
        disabled_vgs: vec![],
        peer_refreshes: vec![],
        failed_lvs: vec![FailedLv {
            vg: "vg".into(),
            lv: "m".into(),
            uuid: "u1".into(),
            dead_legs: vec![1],
            dead_log: false,
            action: "stopped".into(),
            for_ms: 5,
            error: None,
        }],
    };
    assert_eq!(st.io_blocked("vg", "u2"), None);
    assert!(st
        .io_blocked("vg", "u1")
        .unwrap()
        .contains("vg/m: mirror leg(s) [1] failed"));
    st.failed_lvs[0].action = "reported".into();
    assert_eq!(st.io_blocked("vg", "u1"), None);
    st.frozen.push(FrozenVg {
        vg: "vg".into(),
        state: "frozen".into(),
        how: "freeze".into(),
        for_ms: 10,
        error: None,
        stranded: None,
    });
    assert!(st.io_blocked("vg", "u2").unwrap().contains("lost quorum"));
    assert_eq!(st.io_blocked("other", "u2"), None);
    st.frozen[0].state = "stranded".into();
    st.frozen[0].stranded = Some("a partition merge; reboot this node".into());
    assert!(st
        .io_blocked("vg", "u2")
        .unwrap()
        .contains("frozen for good (freeze) on node"));
    st.frozen.clear();
    st.disabled_vgs.push(DisabledVg {
        vg: "vg".into(),
        policy: DgFailure::Dgdisable,
        node_id: 3,
        node_name: "node3".into(),
        error: "no metadata copy".into(),
        for_ms: 1,
        lockspace_joined: true,
    });
    // dgdisable leaves I/O alone; a leave reports every LV of the VG.
    assert_eq!(st.io_blocked("vg", "u2"), None);
    st.disabled_vgs[0].policy = DgFailure::Leave;
    assert!(st.io_blocked("vg", "u2").unwrap().contains("left VG vg"));
    assert_eq!(st.io_blocked("other", "u2"), None);
}

/// `quiet` is sent only when set, so a daemon from before it (which refuses unknown fields)
/// parses every other unlock, and an unlock from an older client parses here.
#[test]
fn unlock_quiet_is_sent_only_when_set() {
    let unlock = |quiet| Request::Unlock {
        scope: Scope::Vg("vg".into()),
        seqno: Some(3),
        removed: false,
        quiet,
    };
    let json = |r: &Request| serde_json::to_string(r).unwrap();
    assert!(
        !json(&unlock(false)).contains("quiet"),
        "{}",
        json(&unlock(false))
    );
    assert!(json(&unlock(true)).contains("\"quiet\":true"));
    let old: Request =
        serde_json::from_str(r#"{"unlock":{"scope":{"vg":"vg"},"seqno":3,"removed":false}}"#)
            .unwrap();
    assert_eq!(old, unlock(false));
}
