//! nodegate's Pushgateway: what batch jobs push, kept durably and served for scraping.
//!
//! - [`op`]: journal records, the unit of persistence and replay.

pub mod op;
