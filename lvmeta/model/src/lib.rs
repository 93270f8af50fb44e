//! Volume-group model (PVs, LVs, segments) and the extent allocator, free of I/O.
