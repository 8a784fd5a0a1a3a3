//! The protobuf wire format, as far as `io.prometheus.client.MetricFamily` (client_model's
//! `metrics.proto`, proto2) needs it: a zero-copy reader over a body, and writers for the
//! messages the gateway emits.
//!
//! Reading never copies: names, label values and value sub-messages are returned as slices of
//! the input. Every length is checked against what is left, so truncated input, bad varints
//! and huge lengths are errors, never panics or large allocations.
//!
//! Field numbers used here (see `metrics.proto`): `MetricFamily` name 1, help 2, type 3,
//! metric 4, unit 5; `Metric` label 1, gauge 2, counter 3, summary 4, untyped 5, timestamp_ms
//! 6, histogram 7; `LabelPair` name 1, value 2; `Gauge`/`Counter`/`Untyped` value 1;
//! `Summary` sample_count 1, sample_sum 2, quantile 3 (`Quantile` quantile 1, value 2);
//! `Histogram` sample_count 1, sample_sum 2, bucket 3, sample_count_float 4 (`Bucket`
//! cumulative_count 1, upper_bound 2, cumulative_count_float 4).

use std::fmt;

/// Wire types.
pub const VARINT: u8 = 0;
/// 64-bit little-endian.
pub const FIXED64: u8 = 1;
/// Length-delimited.
pub const LEN: u8 = 2;
/// 32-bit little-endian.
pub const FIXED32: u8 = 5;

/// Why protobuf input was refused; `Display` gives the texts Go's readers give.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum WireError {
    /// The input ends inside a delimited message (Go's `io.ReadFull`).
    UnexpectedEof,
    /// A length prefix longer than five bytes (pbutil's check).
    LengthVarint,
    /// A message that does not parse (protobuf-go's one message for all of them).
    Malformed,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WireError::UnexpectedEof => "unexpected EOF",
            WireError::LengthVarint => "invalid varint32 encountered",
            WireError::Malformed => "proto: cannot parse invalid wire-format data",
        })
    }
}

/// A cursor over one message's fields.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

/// One field: its number, and its value as read.
#[derive(Clone, Copy, Debug)]
pub struct Field<'a> {
    /// The field number.
    pub number: u32,
    /// The value.
    pub value: FieldValue<'a>,
    /// The whole field, key included, for keeping it as it came.
    pub raw: &'a [u8],
}

/// A field's value by wire type.
#[derive(Clone, Copy, Debug)]
pub enum FieldValue<'a> {
    /// A varint.
    Varint(u64),
    /// Eight bytes, little-endian.
    Fixed64(u64),
    /// Length-delimited bytes.
    Bytes(&'a [u8]),
    /// Four bytes, little-endian.
    Fixed32(u32),
}

impl<'a> FieldValue<'a> {
    /// A `double` field's value, if this is one.
    pub fn f64(self) -> Option<f64> {
        match self {
            FieldValue::Fixed64(v) => Some(f64::from_bits(v)),
            _ => None,
        }
    }

    /// A varint field's value, if this is one.
    pub fn varint(self) -> Option<u64> {
        match self {
            FieldValue::Varint(v) => Some(v),
            _ => None,
        }
    }

    /// A length-delimited field's bytes, if this is one.
    pub fn bytes(self) -> Option<&'a [u8]> {
        match self {
            FieldValue::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

impl<'a> Reader<'a> {
    /// A reader over one message's bytes.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or(WireError::Malformed)?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return Err(WireError::Malformed);
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(WireError::Malformed)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(WireError::Malformed)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// The next field, or `None` at the end of the message.
    ///
    /// # Errors
    /// [`WireError::Malformed`] for a bad key, varint, length or wire type (groups included:
    /// nothing in `metrics.proto` uses them).
    pub fn next_field(&mut self) -> Result<Option<Field<'a>>, WireError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let start = self.pos;
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| WireError::Malformed)?;
        if number == 0 || number > 0x1fff_ffff {
            return Err(WireError::Malformed);
        }
        let value = match (key & 7) as u8 {
            VARINT => FieldValue::Varint(self.varint()?),
            FIXED64 => {
                let b = self.take(8)?;
                FieldValue::Fixed64(u64::from_le_bytes(
                    b.try_into().map_err(|_| WireError::Malformed)?,
                ))
            }
            LEN => {
                let n = usize::try_from(self.varint()?).map_err(|_| WireError::Malformed)?;
                FieldValue::Bytes(self.take(n)?)
            }
            FIXED32 => {
                let b = self.take(4)?;
                FieldValue::Fixed32(u32::from_le_bytes(
                    b.try_into().map_err(|_| WireError::Malformed)?,
                ))
            }
            _ => return Err(WireError::Malformed),
        };
        Ok(Some(Field { number, value, raw: &self.buf[start..self.pos] }))
    }
}

/// A delimited message and the input after it.
pub type Split<'a> = (&'a [u8], &'a [u8]);

/// Splits a varint-length-delimited stream as the Pushgateway's reader (pbutil) does: the
/// next message and the rest, or `None` at the end.
///
/// Quirks kept: a stream that ends inside a length prefix, or right after one, ends cleanly
/// (Go's reader sees `io.EOF` there, which the Pushgateway treats as the end).
///
/// # Errors
/// [`WireError::LengthVarint`] for a prefix past five bytes, [`WireError::UnexpectedEof`] for
/// a message cut short.
pub fn next_delimited(src: &[u8]) -> Result<Option<Split<'_>>, WireError> {
    let mut len = 0u64;
    let mut i = 0;
    loop {
        if i >= 5 {
            return Err(WireError::LengthVarint);
        }
        let Some(&b) = src.get(i) else { return Ok(None) };
        len |= u64::from(b & 0x7f) << (7 * i);
        i += 1;
        if b < 0x80 {
            break;
        }
    }
    let rest = &src[i..];
    if len == 0 {
        return Ok(Some((&rest[..0], rest)));
    }
    if rest.is_empty() {
        return Ok(None);
    }
    let n = usize::try_from(len).map_err(|_| WireError::UnexpectedEof)?;
    if n > rest.len() {
        return Err(WireError::UnexpectedEof);
    }
    Ok(Some(rest.split_at(n)))
}

/// Appends `v` as a varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes `v` takes as a varint.
pub fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends a field key.
pub fn put_key(out: &mut Vec<u8>, number: u32, wire: u8) {
    put_varint(out, u64::from(number) << 3 | u64::from(wire));
}

/// Appends a length-delimited field.
pub fn put_bytes(out: &mut Vec<u8>, number: u32, b: &[u8]) {
    put_key(out, number, LEN);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends a `double` field.
pub fn put_f64(out: &mut Vec<u8>, number: u32, v: f64) {
    put_key(out, number, FIXED64);
    out.extend_from_slice(&v.to_bits().to_le_bytes());
}

/// Appends a varint field.
pub fn put_uvarint(out: &mut Vec<u8>, number: u32, v: u64) {
    put_key(out, number, VARINT);
    put_varint(out, v);
}

/// Starts a length-delimited field whose length is not known yet: returns where its body
/// starts. Reserves one length byte; [`end_nested`] moves the body if more are needed.
pub fn begin_nested(out: &mut Vec<u8>, number: u32) -> usize {
    put_key(out, number, LEN);
    out.push(0);
    out.len()
}

/// Ends a field begun with [`begin_nested`], writing its length.
pub fn end_nested(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start;
    let width = varint_len(len as u64);
    if width > 1 {
        // Make room for the longer prefix; rare (bodies of 128 bytes or more).
        let extra = width - 1;
        out.resize(out.len() + extra, 0);
        out.copy_within(start..start + len, start + extra);
    }
    let mut prefix = [0u8; 10];
    let mut v = len as u64;
    for slot in prefix.iter_mut().take(width) {
        *slot = v as u8 & 0x7f;
        v >>= 7;
    }
    for slot in prefix.iter_mut().take(width - 1) {
        *slot |= 0x80;
    }
    out[start - 1..start - 1 + width].copy_from_slice(&prefix[..width]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varints_and_nested_lengths() {
        for v in [0u64, 1, 127, 128, 300, 16_383, 16_384, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), varint_len(v), "{v}");
            let mut buf = vec![8];
            buf.extend_from_slice(&out);
            let f = Reader::new(&buf).next_field().unwrap().unwrap();
            assert_eq!(f.value.varint(), Some(v));
        }
        for n in [0usize, 5, 127, 128, 20_000] {
            let mut out = vec![9];
            let at = begin_nested(&mut out, 4);
            out.extend(std::iter::repeat_n(7u8, n));
            end_nested(&mut out, at);
            let mut r = Reader::new(&out[1..]);
            let f = r.next_field().unwrap().unwrap();
            assert_eq!((f.number, f.value.bytes().map(<[u8]>::len)), (4, Some(n)));
            assert!(r.next_field().unwrap().is_none());
        }
    }

    #[test]
    fn delimited_stream_quirks() {
        assert_eq!(next_delimited(b""), Ok(None));
        assert_eq!(next_delimited(b"\x85"), Ok(None));
        assert_eq!(next_delimited(b"\x05"), Ok(None));
        assert_eq!(next_delimited(b"\x05ab"), Err(WireError::UnexpectedEof));
        assert_eq!(next_delimited(b"\xff\xff\xff\xff\xff\x01"), Err(WireError::LengthVarint));
        assert_eq!(next_delimited(b"\x02abc"), Ok(Some((&b"ab"[..], &b"c"[..]))));
        assert_eq!(next_delimited(b"\x00c"), Ok(Some((&b""[..], &b"c"[..]))));
        assert_eq!(
            next_delimited(b"\xff\xff\xff\xff\x0fx"),
            Err(WireError::UnexpectedEof),
            "a huge length is an EOF, not an allocation"
        );
    }

    #[test]
    fn bad_fields_are_malformed() {
        for bad in [&b"\x0a\x05ab"[..], b"\x09\x01", b"\x0b", b"\x00", b"\x80", b"\x08\xff"] {
            assert_eq!(Reader::new(bad).next_field().err(), Some(WireError::Malformed), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(src: Vec<u8>) {
            let mut rest = &src[..];
            while let Ok(Some((msg, tail))) = next_delimited(rest) {
                let mut r = Reader::new(msg);
                while let Ok(Some(_)) = r.next_field() {}
                if tail.len() == rest.len() { break; }
                rest = tail;
            }
        }
    }
}
