//! nodegate's engine: everything between the kernel's text and the bytes on the wire.
//!
//! ```text
//!   /proc, /sys ──► source ──► collector::<name>::scan ──► encode::Encoder ──► exporter
//!   (kept fds, pread)          (&[u8] in, no I/O)          (sort, merge)       (Node, Exporter,
//!                                                                              Handler)
//!                                                                                 │
//!   clients ◄──────────────────────── serve (mio loop + workers) ◄───────────────┘
//! ```
//!
//! - [`source`]: files opened once and re-read with `pread` at offset 0, directories listed
//!   with `getdents64`, per-device state, the fd budget, `--path.*`.
//! - [`lex`], [`float`], [`quote`], [`glob`], [`tz`]: byte-level helpers with Go's semantics
//!   (`strings.Fields`, `strconv`, `FormatFloat`, `%q`, `filepath.Match`, `time.Local`).
//! - [`netlink`]: a kept netlink socket, dumps read into reused buffers, zero-copy attribute
//!   iteration (rtnetlink, sock_diag, generic netlink); [`netaddr`] writes the addresses it
//!   returns as Go's `net` package does.
//! - [`collector`]: one module per node_exporter collector; [`collector::REGISTRY`] lists them
//!   with their flags.
//! - [`encode`]: the text exposition format 0.0.4 as client_golang writes it.
//! - [`textparse`]: the text format read back, as `expfmt.TextParser` reads it (textfile
//!   collector, pushed bodies).
//! - [`exporter`]: a scrape of the enabled collectors, self-metrics, the HTTP routes.
//! - [`process`]: the `process_*` self-metrics.
//! - [`serve`]: HTTP/1.1 on one event loop, handlers on worker threads.
//! - [`sys`]: the system calls with no safe wrapper elsewhere (`adjtimex`, ethtool, perf and
//!   btrfs ioctls); the only module allowed `unsafe`.
//!
//! Nothing on the scrape path allocates once its buffers have grown to the host's size:
//! buffers are owned by long-lived structs and cleared, not rebuilt.

pub mod collector;
pub mod encode;
pub mod errno;
pub mod exporter;
pub mod float;
pub mod glob;
pub mod lex;
pub mod netaddr;
pub mod netlink;
pub mod process;
pub mod quote;
pub mod serve;
pub mod source;
pub mod sys;
pub mod textparse;
pub mod tz;
