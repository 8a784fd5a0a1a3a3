//! A Pushgateway persistence file turned into the ops that recreate its state, so that
//! `--persistence.file=<the Pushgateway's file>` carries its groups over.
//!
//! Per group, in order:
//! - the families are bucketed by their push time (upstream stamps every family a request
//!   wrote with that request's time, so a bucket is what one request left behind); the
//!   oldest bucket becomes a `Put`, each later one a `Post`, each op timed as its bucket, so
//!   every family keeps its own timestamp;
//! - if `push_time_seconds` is later than the newest bucket (an empty `POST`), an empty `Post`
//!   at that time; a group with no families at all becomes an empty `Put` at that time;
//! - if `push_failure_time_seconds` is set, a `Failure` at that time. A group that only ever
//!   failed (`push_time_seconds` 0) is that `Failure` alone, which creates it as upstream did.
//!
//! Bodies are protobuf-delimited: each family's bytes from the file behind a varint length,
//! so nothing is re-encoded. The two synthetic gauges are not carried in bodies, as the store
//! makes its own. Times are cut to milliseconds, the resolution of [`Op::time_ms`].

use super::gob::{Family, Group};
use crate::op::{Kind, Op};

const PUSH_TIME: &[u8] = b"push_time_seconds";
const PUSH_FAILURE_TIME: &[u8] = b"push_failure_time_seconds";

/// One imported group: its labels and the ops that recreate it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Imported {
    /// Grouping labels sorted by name.
    pub labels: Vec<(Vec<u8>, Vec<u8>)>,
    /// `(kind, time_ms, protobuf-delimited body)`, to apply in order.
    pub ops: Vec<(Kind, i64, Vec<u8>)>,
}

impl Imported {
    /// The ops, borrowing from `self`.
    pub(crate) fn for_each_op(&self, f: &mut dyn FnMut(&Op<'_>)) {
        let labels = self.labels.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        let mut op = Op {
            kind: Kind::Put,
            format: crate::op::Format::Protobuf,
            time_ms: 0,
            labels,
            body: &[],
        };
        for (kind, time_ms, body) in &self.ops {
            op.kind = *kind;
            op.time_ms = *time_ms;
            op.body = body;
            f(&op);
        }
    }
}

/// Turns decoded groups into ops, groups sorted by their labels so the result does not
/// depend on the file's map order.
pub(crate) fn import(groups: &[Group<'_>]) -> Vec<Imported> {
    let mut out: Vec<Imported> = groups.iter().map(import_group).collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}

fn import_group(g: &Group<'_>) -> Imported {
    let mut labels: Vec<(Vec<u8>, Vec<u8>)> =
        g.labels.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
    labels.sort();
    labels.dedup_by(|a, b| a.0 == b.0);

    let push_ms = synthetic(g, PUSH_TIME);
    let failure_ms = synthetic(g, PUSH_FAILURE_TIME);

    let mut pushed: Vec<&Family<'_>> = g
        .families
        .iter()
        .filter(|f| f.name != PUSH_TIME && f.name != PUSH_FAILURE_TIME && !f.proto.is_empty())
        .collect();
    pushed.sort_by(|a, b| (a.time_ms.unwrap_or(0), a.name).cmp(&(b.time_ms.unwrap_or(0), b.name)));

    let mut ops = Vec::new();
    for bucket in pushed.chunk_by(|a, b| a.time_ms.unwrap_or(0) == b.time_ms.unwrap_or(0)) {
        let kind = if ops.is_empty() { Kind::Put } else { Kind::Post };
        let mut body = Vec::new();
        for f in bucket {
            put_varint(&mut body, f.proto.len() as u64);
            body.extend_from_slice(f.proto);
        }
        ops.push((kind, bucket[0].time_ms.unwrap_or(0), body));
    }
    match ops.last() {
        Some(&(_, last, _)) if push_ms > last => ops.push((Kind::Post, push_ms, Vec::new())),
        Some(_) => {}
        None if push_ms == 0 && failure_ms != 0 => {} // only ever failed: the Failure creates it
        None => ops.push((Kind::Put, push_ms, Vec::new())),
    }
    if failure_ms != 0 {
        ops.push((Kind::Failure, failure_ms, Vec::new()));
    }
    Imported { labels, ops }
}

/// A synthetic gauge's time in milliseconds, 0 for "never". The gauge holds float seconds;
/// its family's timestamp is the same instant to the nanosecond when upstream set it, so that
/// is preferred when the two agree (the float alone can be a millisecond off after
/// rounding); a gauge pushed under that name (upstream lets one override the failure time)
/// keeps its own value.
fn synthetic(g: &Group<'_>, name: &[u8]) -> i64 {
    let Some(f) = g.families.iter().rev().find(|f| f.name == name) else { return 0 };
    let ms = gauge_value(f.proto).map_or(0, seconds_to_ms);
    match f.time_ms {
        _ if ms == 0 => 0,
        Some(t) if t.abs_diff(ms) <= 1 => t,
        _ => ms,
    }
}

/// Float seconds (as the gauges hold them) to whole milliseconds, saturating; NaN is 0.
fn seconds_to_ms(s: f64) -> i64 {
    // `as` saturates and maps NaN to 0, which is what a nonsense gauge should become.
    (s * 1000.0).round() as i64
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `MetricFamily.metric[0].gauge.value` from protobuf bytes, if present and well-formed.
fn gauge_value(family: &[u8]) -> Option<f64> {
    let metric = proto_field(family, 4)?; // MetricFamily.metric, the first one
    let gauge = proto_field(metric, 2)?; // Metric.gauge
    let v = proto_last(gauge, 1)?; // Gauge.value, a double
    let mut b = [0; 8];
    b.copy_from_slice(v.get(..8)?);
    Some(f64::from_le_bytes(b))
}

/// The first length-delimited field `num` in a message.
fn proto_field(msg: &[u8], num: u64) -> Option<&[u8]> {
    let mut found = None;
    walk(msg, |n, wire, v| {
        if n == num && wire == 2 && found.is_none() {
            found = Some(v);
        }
    })?;
    found
}

/// The last 64-bit field `num` (protobuf's rule for a repeated scalar: the last one wins).
fn proto_last(msg: &[u8], num: u64) -> Option<&[u8]> {
    let mut found = None;
    walk(msg, |n, wire, v| {
        if n == num && wire == 1 {
            found = Some(v);
        }
    })?;
    found
}

/// Calls `f(field number, wire type, value bytes)` for each field; `None` if malformed.
fn walk<'a>(mut msg: &'a [u8], mut f: impl FnMut(u64, u8, &'a [u8])) -> Option<()> {
    while !msg.is_empty() {
        let key = varint(&mut msg)?;
        let wire = (key & 7) as u8;
        let n = match wire {
            0 => {
                let mut peek = msg;
                varint(&mut peek)?;
                msg.len() - peek.len()
            }
            1 => 8,
            2 => usize::try_from(varint(&mut msg)?).ok()?,
            5 => 4,
            _ => return None, // groups are not used by MetricFamily
        };
        let (v, rest) = (msg.get(..n)?, msg.get(n..)?);
        f(key >> 3, wire, if wire == 0 { &[] } else { v });
        msg = rest;
    }
    Some(())
}

fn varint(src: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let (&b, rest) = src.split_first()?;
        *src = rest;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A MetricFamily `{name, type GAUGE, metric {gauge {value}}}` as protobuf bytes.
    pub(crate) fn gauge_family(name: &[u8], value: f64) -> Vec<u8> {
        let mut gauge = vec![0x09];
        gauge.extend_from_slice(&value.to_le_bytes());
        let mut metric = vec![0x12, gauge.len() as u8];
        metric.extend_from_slice(&gauge);
        let mut fam = vec![0x0a, name.len() as u8];
        fam.extend_from_slice(name);
        fam.extend_from_slice(&[0x18, 0x01, 0x22, metric.len() as u8]);
        fam.extend_from_slice(&metric);
        fam
    }

    fn fam<'a>(name: &'a [u8], time_ms: i64, proto: &'a [u8]) -> Family<'a> {
        Family { name, time_ms: Some(time_ms), proto }
    }

    #[test]
    fn gauge_values_read() {
        assert_eq!(gauge_value(&gauge_family(b"x", 1.5)), Some(1.5));
        assert_eq!(gauge_value(b""), None);
        assert_eq!(gauge_value(b"\x22\x05\x12"), None);
        assert_eq!(seconds_to_ms(1.795_557_734_437_745_8e9), 1_795_557_734_438);
        assert_eq!(seconds_to_ms(f64::NAN), 0);
    }

    #[test]
    fn buckets_become_put_then_posts_then_failure() {
        let pt = gauge_family(PUSH_TIME, 30.0);
        let pf = gauge_family(PUSH_FAILURE_TIME, 40.0);
        let (a, b, c) = (b"\x0a\x01a".to_vec(), b"\x0a\x01b".to_vec(), b"\x0a\x01c".to_vec());
        let g = Group {
            labels: vec![(b"job", b"j"), (b"instance", b"")],
            families: vec![
                fam(b"c", 20_000, &c),
                fam(PUSH_TIME, 30_000, &pt),
                fam(b"a", 10_000, &a),
                fam(PUSH_FAILURE_TIME, 40_000, &pf),
                fam(b"b", 10_000, &b),
            ],
        };
        let got = import_group(&g);
        assert_eq!(
            got.labels,
            vec![(b"instance".to_vec(), vec![]), (b"job".to_vec(), b"j".to_vec())]
        );
        assert_eq!(
            got.ops,
            vec![
                (Kind::Put, 10_000, b"\x03\x0a\x01a\x03\x0a\x01b".to_vec()),
                (Kind::Post, 20_000, b"\x03\x0a\x01c".to_vec()),
                (Kind::Post, 30_000, vec![]),
                (Kind::Failure, 40_000, vec![]),
            ]
        );
    }

    #[test]
    fn empty_and_failed_only_groups() {
        let pt = gauge_family(PUSH_TIME, 5.0);
        let pf0 = gauge_family(PUSH_FAILURE_TIME, 0.0);
        let empty = Group {
            labels: vec![(b"job", b"e")],
            families: vec![fam(PUSH_TIME, 5000, &pt), fam(PUSH_FAILURE_TIME, 5000, &pf0)],
        };
        assert_eq!(import_group(&empty).ops, vec![(Kind::Put, 5000, vec![])]);

        let pt0 = gauge_family(PUSH_TIME, 0.0);
        let pf = gauge_family(PUSH_FAILURE_TIME, 7.0);
        let failed = Group {
            labels: vec![(b"job", b"f")],
            families: vec![fam(PUSH_TIME, 7000, &pt0), fam(PUSH_FAILURE_TIME, 7000, &pf)],
        };
        assert_eq!(import_group(&failed).ops, vec![(Kind::Failure, 7000, vec![])]);
    }

    #[test]
    fn varints() {
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut s = &b[..];
            assert_eq!(varint(&mut s), Some(v));
            assert!(s.is_empty());
        }
    }
}
