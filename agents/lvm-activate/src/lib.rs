//! LVM-activate: drop-in for resource-agents' LVM-activate.
