//! nodegate's Pushgateway: what batch jobs push, kept durably and served for scraping.
//!
//! - [`op`]: journal records, the unit of persistence and replay.
//! - [`path`]: the grouping key in a push URL.
//! - [`proto`]: the protobuf wire format, read zero-copy.

pub mod op;
pub mod path;
pub mod proto;
