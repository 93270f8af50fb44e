//! Reads of a shared disk see what another node wrote, not this host's page cache.

use halvm_testkit::{require_root, LoopDevice};
use lvmeta_ondisk::dev::{BlockDev, FileDev};
use lvmeta_ondisk::units::Bytes;
use std::os::unix::fs::FileExt;

/// Another node's write is modelled by writing the loop device's backing file directly:
/// it bypasses `/dev/loopN`'s page cache exactly as a write from another host does.
#[test]
fn root_a_fresh_open_reads_what_another_node_wrote() {
    require_root();
    let dir = std::env::temp_dir().join(format!("halvm-shared-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lo = LoopDevice::new(&dir, "shared", 8);
    let mut buf = [0u8; 512];
    // This host reads the sector once: the old bytes are now in its page cache.
    let before = FileDev::open(lo.path()).unwrap();
    before.read_at(Bytes(4096), &mut buf).unwrap();
    assert_eq!(buf, [0u8; 512]);
    let backing = std::fs::OpenOptions::new()
        .write(true)
        .open(lo.backing_file())
        .unwrap();
    backing.write_all_at(&[0xabu8; 512], 4096).unwrap();
    backing.sync_all().unwrap();
    // The cache still holds the old sector: a plain read through it is stale...
    before.read_at(Bytes(4096), &mut buf).unwrap();
    assert_eq!(
        buf, [0u8; 512],
        "the scenario needs a cached stale sector to mean anything"
    );
    // ...and the next command's open drops it.
    let after = FileDev::open(lo.path()).unwrap();
    after.read_at(Bytes(4096), &mut buf).unwrap();
    assert_eq!(buf, [0xabu8; 512], "read the cached sector, not the disk");
    drop(lo);
    let _ = std::fs::remove_dir_all(&dir);
}
