//! rgmanager cluster.conf parsing, validation and translation to Pacemaker.
