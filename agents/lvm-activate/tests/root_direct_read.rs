//! The O_DIRECT block read of monitor depths 10/20 on a real block device (root tier:
//! needs a loop device).

use halvm_lvm_activate::backend::read_direct;

#[test]
fn root_direct_read_of_a_loop_device() {
    halvm_testkit::require_root();
    let dir = tempfile::tempdir().unwrap();
    let dev = halvm_testkit::LoopDevice::new(dir.path(), "disk", 4);
    read_direct(dev.path(), 0).unwrap();
    read_direct(dev.path(), 8 * 1024 - 8).unwrap(); // the last 4 KiB block of 4 MiB
    let past_end = read_direct(dev.path(), 8 * 1024).unwrap_err();
    assert_eq!(
        past_end.kind(),
        std::io::ErrorKind::UnexpectedEof,
        "{past_end}"
    );
    // A vanished device is an error, not a success.
    let gone = dev.path().to_path_buf();
    drop(dev);
    if gone.exists() {
        // The loop node stays, detached: reading it fails (ENXIO) or returns nothing.
        assert!(read_direct(&gone, 0).is_err());
    }
}
