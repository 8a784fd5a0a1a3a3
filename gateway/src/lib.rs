//! nodegate's Pushgateway: what batch jobs push, kept durably and served for scraping.
//!
//! - [`op`]: journal records, the unit of persistence and replay.
//! - [`path`]: the grouping key in a push URL.
//! - [`proto`]: the protobuf wire format, read zero-copy.
//! - [`parse`]: push bodies (text or protobuf) read into pre-encoded groups.
//! - [`group`]: one group's families and series, pre-encoded.
//! - [`store`]: the striped store, its consistency index, merged scrapes, replay and snapshots.
//! - [`limits`]: what a push and the store may hold.
//! - [`own`]: the gateway's own metrics.
//! - [`body`]: gzip and snappy request bodies.
//! - [`handler`]: the HTTP routes on the engine's server.
//! - [`ui`]: the web UI's pages and assets.
//! - [`json`]: Go's JSON encoding, for `/api/v1`; `native`: native histogram buckets there.
//! - [`persist`]: the write-ahead log, snapshots, recovery and the Pushgateway file import.

pub mod body;
pub mod group;
pub mod handler;
pub mod json;
pub mod limits;
mod native;
pub mod op;
pub mod own;
pub mod parse;
pub mod path;
pub mod persist;
pub mod proto;
pub mod store;
pub mod ui;
