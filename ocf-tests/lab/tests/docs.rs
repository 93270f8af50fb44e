//! Keeps man/halvm-lab.1 current (UPDATE_GOLDEN=1 refreshes it) and checks the CLI definition.

use halvm_man::Section;

const EXIT_STATUS: &str = "\
0: success; for run, the exit code of the command in the node is passed through.

1: generic failure (a host tool, the control channel, the supervisor).

2: bad arguments or configuration.

3: a prerequisite is missing (root, qemu-system-x86, busybox-static, kmod, corosync, dlm-controld, pacemaker; run scripts/install-deps).

4: no lab is running in the run directory, or one already is (up).

5: timed out waiting for a node, quorum, dlm_controld or Pacemaker.

6: unknown node or shared disk, the node is powered off, or the disk is already plugged or unplugged there.";

const LAB: &str = "\
Each node is a QEMU virtual machine (TCG, 1 vCPU, 768 MiB by default) booting Debian's stock linux-image-6.1.0-*-amd64 kernel, downloaded with apt-get download on first use and cached, unpacked and depmod'ed under /var/cache/halvm-lab (or $HALVM_LAB_CACHE). An initramfs built on the fly from busybox-static mounts the host root read-only over 9p, puts a tmpfs overlay on it and switches to a per-node init that loads virtio_blk, virtio_net, dm-mod, dm-mirror, dm-raid and dlm, mounts configfs, names the node nodeN, brings up the network, links /dev/misc to /dev, sets DM_DISABLE_UDEV=1 and runs the control agent halvm-lab-agent.

Nodes reach each other on 10.77.0.0/24 (the cluster network, nodeN is 10.77.0.1N) and are controlled over 10.78.0.0/24 (the control network, host side 10.78.0.1), two bridges inside a network namespace of the lab's own. partition cuts only the cluster network, so a partitioned node can still be driven.

Every node has private disks /dev/disk/by-id/virtio-nodeN-dK and the shared raw images /dev/disk/by-id/virtio-sharedK (share-rw=on, cache=none), visible in every node under the same name.

A shared disk can be taken from one node: up --unplugged NODE:DISK leaves it out of that node at boot (a LUN not zoned to the host), and unplug NODE DISK removes it from a running node with QEMU's device_del over the node's monitor socket (nodeN.qmp in the lab directory). The guest's ACPI PCI hotplug driver then removes the device even while it is open, so device-mapper tables on it get I/O errors from then on. plug NODE DISK attaches it again with blockdev-add and device_add under the same serial (the kernel name, vdX, may change) and makes its /dev/disk/by-id link, since the guests run no udev; both return once the guest kernel shows the change. A disk stays detached from a node across restart until plug; status lists a node's detached disks as unplugged=DISK,...

With the cluster enabled, every node's init starts corosync (knet, no crypto, token 5000, two_node for two nodes) and dlm_controld (protocol=tcp, post_join_delay=5, fencing through fence_halvm_lab with action=off) at boot, like a real machine, so a node that is restarted rejoins by itself; --pacemaker adds Pacemaker with a stonith resource fence-lab of type fence_halvm_lab (pcmk_reboot_action=off). kill pulls the plug; the survivors then fence the node. restart pulls the plug, waits until the survivors have fenced the node (so the fence cannot hit the fresh boot), boots it and waits until it is quorate with dlm_controld ready again. The fence agent asks the lab's power service on 10.78.0.1:7101 to power a node off or on; it speaks the fence-agents protocol (options on stdin or argv; actions metadata, list, status, on, off, reboot, monitor, validate-all).";

const FILES: &str = "\
/run/halvm-lab: state, control socket ctl.sock and supervisor.log of the running lab (--run-dir).

/var/tmp/halvm-lab/NAME: the lab's images, helper binaries, generated configuration, the serial console of each node (nodeN.console) and the power service's log (power.log); removed by down (kept with HALVM_LAB_KEEP=1). Labs whose owning process died are swept away by the next start.

/var/cache/halvm-lab: downloaded kernel package and the unpacked kernel.";

const EXAMPLES: &str = "\
.nf
halvm-lab up --nodes 3 --pacemaker
halvm-lab run node1 -- dlm_tool status
halvm-lab run node2 -- halvm-dlm-probe demo RES1 ex --noqueue
halvm-lab kill node1
halvm-lab restart node1
halvm-lab partition node2; halvm-lab heal node2
halvm-lab unplug node3 shared1; halvm-lab plug node3 shared1
halvm-lab up --nodes 3 --shared-disks 2 --unplugged node3:shared1
halvm-lab down
.fi";

fn page() -> String {
    halvm_man::render(
        &halvm_lab::cli(),
        "1",
        &[
            Section { title: "THE LAB", body: LAB },
            Section { title: "EXIT STATUS", body: EXIT_STATUS },
            Section { title: "FILES", body: FILES },
            Section { title: "EXAMPLES", body: EXAMPLES },
            Section {
                title: "SEE ALSO",
                body: "corosync.conf(5), dlm.conf(5), dlm_tool(8), pacemakerd(8), stonith_admin(8), qemu-system-x86_64(1)",
            },
        ],
    )
}

#[test]
fn man_page_is_current() {
    halvm_testkit::assert_golden(halvm_man::page_path("halvm-lab", "1"), &page());
}

#[test]
fn cli_definition_is_consistent() {
    halvm_lab::cli().debug_assert();
}

#[test]
fn cli_unplugged_takes_node_colon_disk() {
    let m = halvm_lab::cli()
        .try_get_matches_from([
            "halvm-lab",
            "up",
            "--unplugged",
            "node3:shared1",
            "--unplugged",
            "node2:shared0-p1",
        ])
        .expect("valid");
    let (_, up) = m.subcommand().expect("up");
    let v: Vec<&(String, String)> = up.get_many("unplugged").expect("values").collect();
    assert_eq!(
        v,
        [
            &("node3".to_string(), "shared1".to_string()),
            &("node2".to_string(), "shared0-p1".to_string())
        ]
    );
    for bad in ["node3", "node3:", ":shared0", "a:b:c"] {
        assert!(
            halvm_lab::cli()
                .try_get_matches_from(["halvm-lab", "up", "--unplugged", bad])
                .is_err(),
            "{bad} accepted"
        );
    }
    // plug and unplug need both a node and a disk.
    for verb in ["plug", "unplug"] {
        let code =
            halvm_lab::cli::main_with_args(["halvm-lab", verb, "node1"].map(String::from)).unwrap();
        assert_eq!(code, 2, "{verb}");
    }
}

#[test]
fn cli_run_needs_a_command() {
    let code =
        halvm_lab::cli::main_with_args(["halvm-lab".to_string(), "run".into(), "node1".into()])
            .unwrap();
    assert_eq!(code, 2);
}

#[test]
fn cli_reports_missing_run_dir() {
    let dir = std::env::temp_dir().join(format!("halvm-lab-cli-test-{}", std::process::id()));
    let err = halvm_lab::cli::main_with_args(
        ["halvm-lab", "--run-dir", dir.to_str().unwrap(), "status"].map(String::from),
    )
    .unwrap_err();
    assert!(
        matches!(err, halvm_lab::LabError::NotRunning { .. }),
        "{err}"
    );
    assert_eq!(halvm_lab::cli::exit_code(&err), 4);
}
