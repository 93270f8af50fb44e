//! The one device-mapper ioctl lvmeta makes itself: `DM_LIST_DEVICES` with flags of its
//! choosing. The `devicemapper` crate lists devices without `DM_UUID_FLAG`, and then every
//! uuid costs a call (or an open and a read in sysfs) per device; with the flag the kernel
//! (dm ioctl 4.46, Linux 5.14, and later) puts each device's uuid after its name, one call
//! for all, as lvm2's device cache asks for them. Bindings only: `lvmeta_dm::list` is the
//! one safe place that calls them and reads the answer.

pub use devicemapper_sys::{
    dm_ioctl, dm_name_list, DM_BUFFER_FULL_FLAG, DM_IOCTL, DM_LIST_DEVICES_CMD,
    DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID, DM_NAME_LIST_FLAG_HAS_UUID, DM_UUID_FLAG, DM_VERSION_MAJOR,
};

/// `sizeof(struct dm_ioctl)`: the header at the start of every request and answer.
pub const DM_IOCTL_SIZE: usize = std::mem::size_of::<dm_ioctl>();

nix::ioctl_readwrite_bad!(
    /// `ioctl(fd, DM_LIST_DEVICES, buf)`: `buf` starts with a `struct dm_ioctl` whose
    /// `data_size` is the length of the whole buffer; the kernel writes its answer (a header
    /// and, at `data_start`, a chain of `struct dm_name_list`) back over it.
    ///
    /// # Safety
    /// `fd` is device-mapper's control node and `buf` points to at least `data_size`
    /// writable bytes, as its header says.
    dm_list_devices,
    nix::request_code_readwrite!(DM_IOCTL, DM_LIST_DEVICES_CMD, DM_IOCTL_SIZE),
    u8
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout the reader in `lvmeta_dm::list` decodes by offset.
    #[test]
    fn layouts_are_the_kernels() {
        assert_eq!(DM_IOCTL_SIZE, 312);
        assert_eq!(std::mem::offset_of!(dm_ioctl, data_size), 12);
        assert_eq!(std::mem::offset_of!(dm_ioctl, data_start), 16);
        assert_eq!(std::mem::offset_of!(dm_ioctl, flags), 28);
        assert_eq!(std::mem::offset_of!(dm_name_list, dev), 0);
        assert_eq!(std::mem::offset_of!(dm_name_list, next), 8);
        assert_eq!(std::mem::offset_of!(dm_name_list, name), 12);
        assert_eq!((DM_IOCTL, DM_LIST_DEVICES_CMD), (0xfd, 2));
        assert_eq!(DM_UUID_FLAG, 1 << 14);
        assert_eq!(DM_BUFFER_FULL_FLAG, 1 << 8);
        assert_eq!(
            (
                DM_NAME_LIST_FLAG_HAS_UUID,
                DM_NAME_LIST_FLAG_DOESNT_HAVE_UUID
            ),
            (1, 2)
        );
    }
}
