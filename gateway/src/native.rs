//! Native histograms in `/api/v1/metrics`: the buckets as the Prometheus HTTP API lists them,
//! `[boundaries, "lower", "upper", "count"]`, as upstream's `histogram` package does through
//! Prometheus's model: negative buckets (largest magnitude first), the zero bucket if it has
//! a count, then positive buckets, empty buckets left out.
//!
//! Boundaries: 0 is `(lower, upper]` (positive buckets), 1 is `[lower, upper)` (negative), 3 is
//! `[lower, upper]` (the zero bucket). A bucket's upper bound at index `i` is
//! `2^(i·2^-schema)`; the last finite bucket ends at the largest `f64`.
//!
//! Bounds are computed with `exp2`, where Prometheus reads a table of constants for schemas
//! above 0; the two can differ in the last digit for some bucket bounds.

use crate::json;
use crate::proto::{FieldValue, Reader};
use smallvec::SmallVec;

/// What a native histogram holds, read from its `Histogram` message(s).
#[derive(Debug, Default)]
struct Native {
    schema: i32,
    zero_threshold: f64,
    zero_count: u64,
    zero_count_float: f64,
    count: u64,
    count_float: f64,
    spans: [SmallVec<[(i32, u32); 4]>; 2],
    deltas: [SmallVec<[i64; 16]>; 2],
    counts: [SmallVec<[f64; 16]>; 2],
}

fn zigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

/// Whether a `Histogram` message has native-histogram spans (upstream's test).
pub(crate) fn is_native<'a>(subs: impl Iterator<Item = &'a [u8]>) -> bool {
    subs.into_iter().any(|h| {
        let mut r = Reader::new(h);
        std::iter::from_fn(|| r.next_field().ok().flatten())
            .any(|f| f.number == 9 || f.number == 12)
    })
}

fn read(subs: impl Iterator<Item = impl AsRef<[u8]>>) -> Native {
    let mut n = Native::default();
    for h in subs {
        let mut r = Reader::new(h.as_ref());
        while let Ok(Some(f)) = r.next_field() {
            let side = usize::from(f.number >= 12);
            match (f.number, f.value) {
                (1, FieldValue::Varint(v)) => n.count = v,
                (4, FieldValue::Fixed64(v)) => n.count_float = f64::from_bits(v),
                (5, FieldValue::Varint(v)) => n.schema = zigzag(v) as i32,
                (6, FieldValue::Fixed64(v)) => n.zero_threshold = f64::from_bits(v),
                (7, FieldValue::Varint(v)) => n.zero_count = v,
                (8, FieldValue::Fixed64(v)) => n.zero_count_float = f64::from_bits(v),
                (9 | 12, FieldValue::Bytes(b)) => {
                    let (mut offset, mut length) = (0, 0);
                    let mut s = Reader::new(b);
                    while let Ok(Some(x)) = s.next_field() {
                        match (x.number, x.value) {
                            (1, FieldValue::Varint(v)) => offset = zigzag(v) as i32,
                            (2, FieldValue::Varint(v)) => length = v as u32,
                            _ => {}
                        }
                    }
                    n.spans[side].push((offset, length));
                }
                (10 | 13, FieldValue::Varint(v)) => n.deltas[side].push(zigzag(v)),
                (10 | 13, FieldValue::Bytes(packed)) => {
                    let mut i = 0;
                    while i < packed.len() {
                        let (mut v, mut shift) = (0u64, 0);
                        while i < packed.len() && shift < 64 {
                            let b = packed[i];
                            i += 1;
                            v |= u64::from(b & 0x7f) << shift;
                            shift += 7;
                            if b < 0x80 {
                                break;
                            }
                        }
                        n.deltas[side].push(zigzag(v));
                    }
                }
                (11 | 14, FieldValue::Fixed64(v)) => n.counts[side].push(f64::from_bits(v)),
                (11 | 14, FieldValue::Bytes(packed)) => {
                    n.counts[side].extend(packed.chunks_exact(8).map(|c| {
                        f64::from_bits(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    }))
                }
                _ => {}
            }
        }
    }
    n
}

/// Upper bound of bucket `idx` in `schema`, as Prometheus's `getBound`.
fn bound(idx: i32, schema: i32) -> f64 {
    if schema < 0 {
        let exp = i64::from(idx) << -schema;
        if exp == 1024 {
            return f64::MAX;
        }
        return 2f64.powi(exp.clamp(-2000, 2000) as i32);
    }
    let per = 1i64 << schema;
    let (whole, frac) = (i64::from(idx).div_euclid(per), i64::from(idx).rem_euclid(per));
    if frac == 0 && whole == 1024 {
        return f64::MAX;
    }
    let f = (frac as f64 / per as f64).exp2();
    f * 2f64.powi(whole.clamp(-2000, 2000) as i32)
}

/// Writes `"buckets":[...],"count":"..."` for a native histogram.
pub(crate) fn write_json<'a>(out: &mut Vec<u8>, subs: impl Iterator<Item = &'a [u8]>) {
    let n = read(subs);
    let float = n.count_float > 0.0 || n.zero_count_float > 0.0;
    // (boundaries, lower, upper, count)
    let mut buckets: SmallVec<[(u8, f64, f64, f64); 32]> = SmallVec::new();
    let side_buckets = |side: usize, out: &mut SmallVec<[(u8, f64, f64, f64); 32]>| {
        let mut idx = 0i32;
        let mut at = 0usize;
        let mut running = 0i64;
        for (si, &(offset, length)) in n.spans[side].iter().enumerate() {
            idx = if si == 0 { offset } else { idx.saturating_add(offset) };
            for _ in 0..length {
                let count = if float {
                    n.counts[side].get(at).copied().unwrap_or(0.0)
                } else {
                    running = running.wrapping_add(n.deltas[side].get(at).copied().unwrap_or(0));
                    running as f64
                };
                at += 1;
                if count != 0.0 {
                    let (lo, hi) = (bound(idx.saturating_sub(1), n.schema), bound(idx, n.schema));
                    out.push(match side {
                        0 => (1, -hi, -lo, count),
                        _ => (0, lo, hi, count),
                    });
                }
                idx = idx.saturating_add(1);
            }
        }
    };
    let mut negative = SmallVec::new();
    side_buckets(0, &mut negative);
    buckets.extend(negative.into_iter().rev());
    let zero = if float { n.zero_count_float } else { n.zero_count as f64 };
    if zero != 0.0 {
        buckets.push((3, -n.zero_threshold, n.zero_threshold, zero));
    }
    side_buckets(1, &mut buckets);
    out.extend_from_slice(b"\"buckets\":[");
    for (i, (b, lo, hi, count)) in buckets.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        out.push(b'0' + b);
        out.push(b',');
        json::float_string(out, *lo);
        out.push(b',');
        json::float_string(out, *hi);
        out.push(b',');
        count_string(out, float, *count);
        out.push(b']');
    }
    out.extend_from_slice(b"],\"count\":");
    count_string(out, float, if float { n.count_float } else { n.count as f64 });
}

fn count_string(out: &mut Vec<u8>, float: bool, v: f64) {
    if float {
        json::float_string(out, v);
    } else {
        out.push(b'"');
        out.extend_from_slice(itoa::Buffer::new().format(v as u64).as_bytes());
        out.push(b'"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto;

    #[test]
    fn buckets_as_the_api_lists_them() {
        // Schema 0, zero bucket 1 at threshold 0.001, positive buckets at indexes 0 and 1
        // (counts 2 and 1 from deltas 2, -1), one negative bucket at index 1 (count 3).
        let mut h = Vec::new();
        proto::put_uvarint(&mut h, 1, 7);
        proto::put_f64(&mut h, 2, 1.5);
        proto::put_uvarint(&mut h, 5, 0);
        proto::put_f64(&mut h, 6, 0.001);
        proto::put_uvarint(&mut h, 7, 1);
        let mut span = Vec::new();
        proto::put_uvarint(&mut span, 1, 2);
        proto::put_uvarint(&mut span, 2, 1);
        proto::put_bytes(&mut h, 9, &span);
        proto::put_uvarint(&mut h, 10, 6);
        let mut span = Vec::new();
        proto::put_uvarint(&mut span, 1, 0);
        proto::put_uvarint(&mut span, 2, 2);
        proto::put_bytes(&mut h, 12, &span);
        proto::put_bytes(&mut h, 13, &[4, 1]);
        assert!(is_native([&h[..]].into_iter()));
        let mut out = Vec::new();
        write_json(&mut out, [&h[..]].into_iter());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"buckets\":[[1,\"-2\",\"-1\",\"3\"],[3,\"-0.001\",\"0.001\",\"1\"],\
             [0,\"0.5\",\"1\",\"2\"],[0,\"1\",\"2\",\"1\"]],\"count\":\"7\""
        );
    }

    #[test]
    fn bounds() {
        assert_eq!(bound(0, 0), 1.0);
        assert_eq!(bound(1, 0), 2.0);
        assert_eq!(bound(-1, 0), 0.5);
        assert_eq!(bound(1, 1), std::f64::consts::SQRT_2);
        assert_eq!(bound(1, -1), 4.0);
        assert_eq!(bound(1024, 0), f64::MAX);
    }
}
