//! Journal records: every change to the gateway's state as one [`Op`], the unit the
//! write-ahead log stores and the store replays on start.
//!
//! A change is logged before it is acknowledged, and the store's state is exactly what
//! replaying its ops in order produces, so persistence never has to understand families:
//! a push is recorded as its grouping key and its (decompressed) body, and replay parses the
//! body again through the same path a live push takes. A snapshot is a run of `Put` ops, one
//! per group, that recreate the state it captured.
//!
//! # Record layout
//!
//! All integers little-endian. `u32` lengths bound every variable part, so a record can be
//! decoded without trusting anything but its own bytes:
//!
//! ```text
//! u8  version (1)
//! u8  kind: 1 Put, 2 Post, 3 Delete, 4 Wipe, 5 Failure
//! u8  body format: 0 text 0.0.4, 1 protobuf-delimited MetricFamily, 2 snapshot (see
//!     `Format::Snapshot`)
//! i64 time, Unix milliseconds: the push time (push_time_seconds, family timestamps) or, for
//!     Failure, the failure time
//! u32 number of grouping labels, then per label: u32 name length, name, u32 value length,
//!     value (names sorted, `job` among them; none for Wipe)
//! u32 body length, body
//! ```

use smallvec::SmallVec;
use std::fmt;

/// Current record version.
const VERSION: u8 = 1;

/// What a change does.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Kind {
    /// Replace the group's families with the body's (`PUT`).
    Put,
    /// Replace the families the body names (`POST`).
    Post,
    /// Remove the group (`DELETE`).
    Delete,
    /// Remove every group (admin wipe).
    Wipe,
    /// A push to this group was refused: mark `push_failure_time_seconds`, creating the group
    /// if it is new, as upstream does.
    Failure,
}

/// How a body is encoded.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Format {
    /// Text exposition format 0.0.4.
    Text,
    /// Varint-length-delimited protobuf `io.prometheus.client.MetricFamily` messages.
    Protobuf,
    /// A group as [`Store::snapshot`](crate::store::Store::snapshot) writes it: protobuf as
    /// above, every family carrying its push time (field 1000, Unix milliseconds), and the
    /// two push-time gauges included with their exact values (field 1001, milliseconds).
    /// Only the store writes it; live pushes are never read this way.
    Snapshot,
}

/// A grouping label: name and value, raw bytes.
pub type Label<'a> = (&'a [u8], &'a [u8]);

/// One change to the gateway's state, borrowed from a request or a journal record.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Op<'a> {
    /// What it does.
    pub kind: Kind,
    /// The body's encoding (ignored for Delete, Wipe and Failure).
    pub format: Format,
    /// Unix milliseconds: when the change was received.
    pub time_ms: i64,
    /// The grouping key, sorted by label name, `job` included; empty for Wipe.
    pub labels: SmallVec<[Label<'a>; 8]>,
    /// The decompressed body; empty for Delete, Wipe and Failure.
    pub body: &'a [u8],
}

/// Why a record could not be decoded. The log reader treats it as damage.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The record ends before a part it announces.
    Truncated,
    /// An unknown version byte.
    Version(u8),
    /// An unknown kind byte.
    Kind(u8),
    /// An unknown body-format byte.
    Format(u8),
    /// Bytes after the body.
    Trailing,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("record truncated"),
            DecodeError::Version(v) => write!(f, "unknown record version {v}"),
            DecodeError::Kind(k) => write!(f, "unknown record kind {k}"),
            DecodeError::Format(b) => write!(f, "unknown body format {b}"),
            DecodeError::Trailing => f.write_str("bytes after the record's body"),
        }
    }
}

impl std::error::Error for DecodeError {}

impl<'a> Op<'a> {
    /// Appends the record's bytes to `out`. Allocates only if `out` must grow.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        out.push(match self.kind {
            Kind::Put => 1,
            Kind::Post => 2,
            Kind::Delete => 3,
            Kind::Wipe => 4,
            Kind::Failure => 5,
        });
        out.push(match self.format {
            Format::Text => 0,
            Format::Protobuf => 1,
            Format::Snapshot => 2,
        });
        out.extend_from_slice(&self.time_ms.to_le_bytes());
        put_len(out, self.labels.len());
        for (name, value) in &self.labels {
            put_bytes(out, name);
            put_bytes(out, value);
        }
        put_bytes(out, self.body);
    }

    /// Reads a record written by [`Op::encode`]; the op borrows from `src`.
    ///
    /// # Errors
    /// [`DecodeError`] when `src` is not exactly one well-formed record.
    pub fn decode(src: &'a [u8]) -> Result<Op<'a>, DecodeError> {
        let mut r = Reader(src);
        let version = r.u8()?;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let kind = match r.u8()? {
            1 => Kind::Put,
            2 => Kind::Post,
            3 => Kind::Delete,
            4 => Kind::Wipe,
            5 => Kind::Failure,
            k => return Err(DecodeError::Kind(k)),
        };
        let format = match r.u8()? {
            0 => Format::Text,
            1 => Format::Protobuf,
            2 => Format::Snapshot,
            b => return Err(DecodeError::Format(b)),
        };
        let time_ms = i64::from_le_bytes(r.array()?);
        let n = r.len()?;
        let mut labels = SmallVec::new();
        for _ in 0..n {
            let name = r.bytes()?;
            let value = r.bytes()?;
            labels.push((name, value));
        }
        let body = r.bytes()?;
        if !r.0.is_empty() {
            return Err(DecodeError::Trailing);
        }
        Ok(Op { kind, format, time_ms, labels, body })
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    // Lengths come from requests bounded far below 4 GiB (the body limit).
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn len(&mut self) -> Result<usize, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.len()?;
        self.take(n)
    }
}

/// Where the handler makes a change durable before acknowledging it.
pub trait Journal: Send + Sync + fmt::Debug {
    /// Appends one encoded [`Op`] and returns once it is durable (on disk, for a file
    /// journal; at once, with persistence switched off). Concurrent callers may be committed
    /// together.
    ///
    /// # Errors
    /// The record is not durable and the change must not be acknowledged (a 5xx for the
    /// client); the store is left as it was.
    fn append(&self, record: &[u8]) -> std::io::Result<()>;
}

/// The journal of `--persistence.file=""`: nothing is kept across restarts.
#[derive(Debug, Default)]
pub struct Volatile;

impl Journal for Volatile {
    fn append(&self, _record: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Op<'static> {
        Op {
            kind: Kind::Post,
            format: Format::Protobuf,
            time_ms: 1_700_000_000_123,
            labels: SmallVec::from_slice(&[(&b"instance"[..], &b""[..]), (b"job", b"batch\xff")]),
            body: b"\x05\x0a\x03abc",
        }
    }

    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        let op = sample();
        op.encode(&mut buf);
        let back = Op::decode(&buf).unwrap();
        assert_eq!(format!("{back:?}"), format!("{op:?}"));
    }

    #[test]
    fn every_proper_prefix_is_truncated_and_trailing_bytes_refused() {
        let mut buf = Vec::new();
        sample().encode(&mut buf);
        for n in 0..buf.len() {
            assert_eq!(Op::decode(&buf[..n]), Err(DecodeError::Truncated), "prefix {n}");
        }
        buf.push(0);
        assert_eq!(Op::decode(&buf), Err(DecodeError::Trailing));
    }

    #[test]
    fn unknown_bytes_are_named() {
        let mut good = Vec::new();
        sample().encode(&mut good);
        for (at, byte, want) in [
            (0, 9, DecodeError::Version(9)),
            (1, 7, DecodeError::Kind(7)),
            (2, 3, DecodeError::Format(3)),
            (2, 7, DecodeError::Format(7)),
        ] {
            let mut bad = good.clone();
            bad[at] = byte;
            assert_eq!(Op::decode(&bad), Err(want));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_ops_round_trip(
            kind in 0..5u8, proto: bool, time_ms: i64,
            labels in prop::collection::vec((any::<Vec<u8>>(), any::<Vec<u8>>()), 0..6),
            body: Vec<u8>,
        ) {
            let mut buf = Vec::new();
            let op = Op {
                kind: [Kind::Put, Kind::Post, Kind::Delete, Kind::Wipe, Kind::Failure][kind as usize],
                format: if proto { Format::Protobuf } else { Format::Text },
                time_ms,
                labels: labels.iter().map(|(n, v)| (&n[..], &v[..])).collect(),
                body: &body,
            };
            op.encode(&mut buf);
            prop_assert_eq!(Op::decode(&buf), Ok(op));
        }

        #[test]
        fn arbitrary_bytes_never_panic(src: Vec<u8>) {
            let _ = Op::decode(&src);
        }
    }
}
