//! nodegate's Pushgateway: what batch jobs push, kept durably and served for scraping.
//!
//! - [`op`]: journal records, the unit of persistence and replay.
//! - [`path`]: the grouping key in a push URL.
//! - [`proto`]: the protobuf wire format, read zero-copy.
//! - [`parse`]: push bodies (text or protobuf) read into pre-encoded groups.
//! - [`group`]: one group's families and series, pre-encoded.

pub mod group;
pub mod json;
pub mod op;
pub mod own;
pub mod parse;
pub mod path;
pub mod proto;
pub mod store;
