//! nodegate's engine.
pub mod collector;
pub mod encode;
pub mod float;
pub mod lex;
pub mod serve;
pub mod source;
pub mod tz;
