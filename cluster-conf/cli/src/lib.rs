//! The cluster-conf command line.
