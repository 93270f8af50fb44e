//! Activation planner: the device-mapper devices, names, UUIDs and tables LVM2 would create for an LV (no I/O).
