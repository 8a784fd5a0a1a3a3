//! nodegate's Pushgateway: what batch jobs push, kept durably and served for scraping.
//!
//! - [`op`]: journal records, the unit of persistence and replay.
//! - [`persist`]: the write-ahead log, snapshots, recovery and the Pushgateway file import.

pub mod op;
pub mod persist;
