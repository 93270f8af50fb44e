//! LVM2 on-disk structures: label, PV header, metadata area header and the circular text buffer.
