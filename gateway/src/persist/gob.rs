//! The Pushgateway's persistence file, read: a Go `encoding/gob` stream holding one value of
//! type `map[string]MetricGroup`, where
//!
//! ```text
//! MetricGroup             { Labels map[string]string; Metrics map[string]TimestampedMetricFamily }
//! TimestampedMetricFamily { Timestamp time.Time; GobbableMetricFamily *MetricFamily }
//! ```
//!
//! and both `time.Time` and the family are GobEncoders: the time as `MarshalBinary` bytes,
//! the family as its protobuf encoding (`io.prometheus.client.MetricFamily`).
//!
//! Only that shape is read, but defensively: the stream's own type definitions are parsed
//! and checked against it (by field name, as gob itself matches fields), unknown struct fields
//! are skipped by their declared types, and every count and length is checked against the
//! bytes left before anything is allocated for it. Any surprise is a [`GobError`] with the
//! byte offset; nothing panics and nothing is guessed.
//!
//! Wire format, from the `encoding/gob` package documentation: a stream is messages, each a
//! byte count then a signed type id. A negative id `-t` defines type `t` with a `wireType`
//! value; a positive id is a value of that type. Unsigned integers are one byte below 128,
//! else a negated byte count then big-endian bytes; signed integers keep the sign in bit 0.
//! Structs are (field-number delta, value) pairs ended by a zero delta, fields with zero
//! values left out; maps and slices are a count then their elements; strings, byte slices
//! and GobEncoder values are a length then bytes. A value that is not a struct is sent as
//! the only field of an implicit struct: a zero byte, then the value.

use std::collections::HashMap;
use std::fmt;

/// Why a Pushgateway file could not be read.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct GobError {
    /// Byte offset in the file where the problem was found.
    pub offset: usize,
    /// What was wrong there.
    pub what: &'static str,
}

impl fmt::Display for GobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gob stream: {} at byte {}", self.what, self.offset)
    }
}

impl std::error::Error for GobError {}

/// One grouping key's metrics, borrowed from the file's bytes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Group<'a> {
    /// The grouping labels, as stored (`job` among them), in file order.
    pub labels: Vec<(&'a [u8], &'a [u8])>,
    /// The group's families, in file order.
    pub families: Vec<Family<'a>>,
}

/// One family of a group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Family<'a> {
    /// The metric name (the map key).
    pub name: &'a [u8],
    /// When the family was last written, Unix milliseconds; `None` for Go's zero time.
    pub time_ms: Option<i64>,
    /// The protobuf-encoded `MetricFamily`; empty if the file has none.
    pub proto: &'a [u8],
}

// Predefined type ids (gob's doc.go).
const T_BOOL: i64 = 1;
const T_INT: i64 = 2;
const T_UINT: i64 = 3;
const T_FLOAT: i64 = 4;
const T_BYTES: i64 = 5;
const T_STRING: i64 = 6;
const T_COMPLEX: i64 = 7;

/// Nesting limit for values skipped by type, far above the file's own depth of five.
const MAX_DEPTH: u32 = 32;

/// Whether `src`, the first bytes of a file, starts like a gob stream: a message that
/// defines a type, with a `wireType` field number first. Cheap; [`decode`] decides.
pub fn looks_like_gob(src: &[u8]) -> bool {
    let mut c = Cursor { src, pos: 0 };
    let Ok(len) = c.uint() else { return false };
    let start = c.pos;
    let (Ok(id), Ok(field)) = (c.int(), c.uint()) else { return false };
    len as usize >= c.pos - start && id < -64 && (1..=7).contains(&field)
}

/// Reads a Pushgateway persistence file. Groups and families come in file order (Go's map
/// order when it was written, so arbitrary).
///
/// # Errors
/// [`GobError`] for anything that is not exactly one `map[string]MetricGroup` value.
pub fn decode(src: &[u8]) -> Result<Vec<Group<'_>>, GobError> {
    let mut types: HashMap<i64, Wire<'_>> = HashMap::new();
    let mut c = Cursor { src, pos: 0 };
    let mut groups = None;
    while c.pos < src.len() {
        let len = c.len()?;
        let end = c.pos + len;
        // Each message is read through a cursor that ends with it.
        let mut m = Cursor { src: &src[..end], pos: c.pos };
        let id = m.int()?;
        if id < 0 {
            let t = id.checked_neg().ok_or(m.err("bad type id"))?;
            if t <= 64 || types.contains_key(&t) {
                return Err(m.err("type id redefined"));
            }
            let wire = m.wire_type()?;
            types.insert(t, wire);
        } else {
            if groups.is_some() {
                return Err(m.err("more than one value in the stream"));
            }
            let mut d = Decoder { c: m, types: &types };
            groups = Some(d.top(id)?);
            m = d.c;
        }
        if m.pos != end {
            return Err(m.err("message longer than its contents"));
        }
        c.pos = end;
    }
    groups.ok_or(c.err("no value in the stream"))
}

/// A type the stream defined.
#[derive(Clone, Debug)]
enum Wire<'a> {
    Array {
        elem: i64,
        len: u64,
    },
    Slice {
        elem: i64,
    },
    Struct {
        fields: Vec<(&'a [u8], i64)>,
    },
    Map {
        key: i64,
        elem: i64,
    },
    /// GobEncoder, BinaryMarshaler or TextMarshaler: a length, then opaque bytes.
    Opaque,
}

#[derive(Clone, Copy)]
struct Cursor<'a> {
    src: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: &'static str) -> GobError {
        GobError { offset: self.pos, what }
    }

    fn byte(&mut self) -> Result<u8, GobError> {
        let b = *self.src.get(self.pos).ok_or(self.err("unexpected end of data"))?;
        self.pos += 1;
        Ok(b)
    }

    fn uint(&mut self) -> Result<u64, GobError> {
        let b = self.byte()?;
        if b < 0x80 {
            return Ok(u64::from(b));
        }
        let n = (!b).wrapping_add(1);
        if n == 0 || n > 8 {
            return Err(self.err("bad unsigned integer"));
        }
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 8) | u64::from(self.byte()?);
        }
        Ok(v)
    }

    fn int(&mut self) -> Result<i64, GobError> {
        let u = self.uint()?;
        // Bit 0 says whether the rest is complemented; `as` keeps all 64 bits.
        let v = (u >> 1) as i64;
        Ok(if u & 1 == 1 { !v } else { v })
    }

    /// A count or length, checked against what is left: every element takes a byte at least.
    fn len(&mut self) -> Result<usize, GobError> {
        let at = self.pos;
        let n = self.uint()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.src.len() - self.pos => Ok(n),
            _ => Err(GobError { offset: at, what: "length or count exceeds the data" }),
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8], GobError> {
        let n = self.len()?;
        let b = &self.src[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }

    /// Walks a struct's fields: `f` gets each field number and must read its value.
    fn fields(
        &mut self,
        mut f: impl FnMut(&mut Self, u64) -> Result<(), GobError>,
    ) -> Result<(), GobError> {
        let mut field: u64 = u64::MAX; // gob starts at -1
        loop {
            let delta = self.uint()?;
            if delta == 0 {
                return Ok(());
            }
            field = field.wrapping_add(delta);
            if field > u64::from(u16::MAX) {
                return Err(self.err("field number out of range"));
            }
            f(self, field)?;
        }
    }

    /// `CommonType{Name string; Id int}`: only checked, the name and id are not needed.
    fn common_type(&mut self) -> Result<(), GobError> {
        self.fields(|c, n| match n {
            0 => c.bytes().map(drop),
            1 => c.int().map(drop),
            _ => Err(c.err("unknown CommonType field")),
        })
    }

    fn type_id(&mut self) -> Result<i64, GobError> {
        let id = self.int()?;
        if id <= 0 {
            return Err(self.err("bad type id"));
        }
        Ok(id)
    }

    /// A `wireType` value: exactly one of its fields is set.
    fn wire_type(&mut self) -> Result<Wire<'a>, GobError> {
        let mut wire = None;
        self.fields(|c, n| {
            let w = match n {
                0 => {
                    let (mut elem, mut len) = (0, 0);
                    c.fields(|c, n| match n {
                        0 => c.common_type(),
                        1 => c.type_id().map(|v| elem = v),
                        2 => c.uint().map(|v| len = v),
                        _ => Err(c.err("unknown arrayType field")),
                    })?;
                    Wire::Array { elem, len }
                }
                1 => {
                    let mut elem = 0;
                    c.fields(|c, n| match n {
                        0 => c.common_type(),
                        1 => c.type_id().map(|v| elem = v),
                        _ => Err(c.err("unknown sliceType field")),
                    })?;
                    Wire::Slice { elem }
                }
                2 => {
                    let mut fields = Vec::new();
                    c.fields(|c, n| match n {
                        0 => c.common_type(),
                        1 => {
                            let count = c.len()?;
                            fields.reserve(count);
                            for _ in 0..count {
                                let (mut name, mut id) = (&[][..], 0);
                                c.fields(|c, n| match n {
                                    0 => c.bytes().map(|v| name = v),
                                    1 => c.type_id().map(|v| id = v),
                                    _ => Err(c.err("unknown fieldType field")),
                                })?;
                                fields.push((name, id));
                            }
                            Ok(())
                        }
                        _ => Err(c.err("unknown structType field")),
                    })?;
                    Wire::Struct { fields }
                }
                3 => {
                    let (mut key, mut elem) = (0, 0);
                    c.fields(|c, n| match n {
                        0 => c.common_type(),
                        1 => c.type_id().map(|v| key = v),
                        2 => c.type_id().map(|v| elem = v),
                        _ => Err(c.err("unknown mapType field")),
                    })?;
                    Wire::Map { key, elem }
                }
                4..=6 => {
                    c.fields(|c, n| match n {
                        0 => c.common_type(),
                        _ => Err(c.err("unknown gobEncoderType field")),
                    })?;
                    Wire::Opaque
                }
                _ => return Err(c.err("unknown wireType field")),
            };
            if wire.replace(w).is_some() {
                return Err(c.err("wireType defines two types"));
            }
            Ok(())
        })?;
        wire.ok_or(self.err("empty wireType"))
    }
}

struct Decoder<'a, 't> {
    c: Cursor<'a>,
    types: &'t HashMap<i64, Wire<'a>>,
}

impl<'a> Decoder<'a, '_> {
    fn wire(&self, id: i64) -> Result<&Wire<'a>, GobError> {
        self.types.get(&id).ok_or(self.c.err("value of an undefined type"))
    }

    /// The value of type `id`: `map[string]MetricGroup`, sent as a singleton.
    fn top(&mut self, id: i64) -> Result<Vec<Group<'a>>, GobError> {
        let Wire::Map { key: T_STRING, elem } = *self.wire(id)? else {
            return Err(self.c.err("value is not a map[string]MetricGroup"));
        };
        if self.c.uint()? != 0 {
            return Err(self.c.err("singleton value without its zero field delta"));
        }
        let count = self.c.len()?;
        let mut groups = Vec::with_capacity(count);
        for _ in 0..count {
            self.c.bytes()?; // the grouping key string, rebuilt from the labels when needed
            groups.push(self.group(elem)?);
        }
        Ok(groups)
    }

    fn struct_fields(&self, id: i64, what: &'static str) -> Result<Vec<(&'a [u8], i64)>, GobError> {
        match self.wire(id)? {
            Wire::Struct { fields } => Ok(fields.clone()),
            _ => Err(self.c.err(what)),
        }
    }

    /// A field's declared type, if `n` is one of the struct's fields.
    fn field(
        fields: &[(&'a [u8], i64)],
        n: u64,
        c: &Cursor<'_>,
    ) -> Result<(&'a [u8], i64), GobError> {
        usize::try_from(n)
            .ok()
            .and_then(|n| fields.get(n).copied())
            .ok_or(c.err("field number beyond the struct's fields"))
    }

    fn group(&mut self, id: i64) -> Result<Group<'a>, GobError> {
        let fields = self.struct_fields(id, "MetricGroup is not a struct")?;
        let mut g = Group::default();
        let mut c = self.c;
        let r = c.fields(|c, n| {
            let (name, t) = Self::field(&fields, n, c)?;
            self.c = *c;
            match name {
                b"Labels" => self.labels(t, &mut g.labels)?,
                b"Metrics" => self.metrics(t, &mut g.families)?,
                _ => self.skip(t, 0)?,
            }
            *c = self.c;
            Ok(())
        });
        r?;
        self.c = c;
        Ok(g)
    }

    fn labels(&mut self, id: i64, out: &mut Vec<(&'a [u8], &'a [u8])>) -> Result<(), GobError> {
        let Wire::Map { key: T_STRING, elem: T_STRING } = *self.wire(id)? else {
            return Err(self.c.err("Labels is not a map[string]string"));
        };
        let count = self.c.len()?;
        out.reserve(count);
        for _ in 0..count {
            let name = self.c.bytes()?;
            let value = self.c.bytes()?;
            out.push((name, value));
        }
        Ok(())
    }

    fn metrics(&mut self, id: i64, out: &mut Vec<Family<'a>>) -> Result<(), GobError> {
        let Wire::Map { key: T_STRING, elem } = *self.wire(id)? else {
            return Err(self.c.err("Metrics is not a map[string]TimestampedMetricFamily"));
        };
        let fields = self.struct_fields(elem, "TimestampedMetricFamily is not a struct")?;
        let count = self.c.len()?;
        out.reserve(count);
        for _ in 0..count {
            let mut fam = Family { name: self.c.bytes()?, ..Family::default() };
            let mut c = self.c;
            c.fields(|c, n| {
                let (name, t) = Self::field(&fields, n, c)?;
                match name {
                    b"Timestamp" => {
                        self.opaque(t, c, "Timestamp is not a GobEncoder")?;
                        let at = c.pos;
                        fam.time_ms =
                            go_time(c.bytes()?).map_err(|what| GobError { offset: at, what })?;
                    }
                    b"GobbableMetricFamily" => {
                        self.opaque(t, c, "GobbableMetricFamily is not a GobEncoder")?;
                        fam.proto = c.bytes()?;
                    }
                    _ => {
                        self.c = *c;
                        self.skip(t, 0)?;
                        *c = self.c;
                    }
                }
                Ok(())
            })?;
            self.c = c;
            out.push(fam);
        }
        Ok(())
    }

    fn opaque(&self, id: i64, c: &Cursor<'_>, what: &'static str) -> Result<(), GobError> {
        match self.types.get(&id) {
            Some(Wire::Opaque) => Ok(()),
            _ => Err(c.err(what)),
        }
    }

    /// Reads past one value of type `id`.
    fn skip(&mut self, id: i64, depth: u32) -> Result<(), GobError> {
        if depth > MAX_DEPTH {
            return Err(self.c.err("values nested too deeply"));
        }
        match id {
            T_BOOL | T_INT | T_UINT | T_FLOAT => self.c.uint().map(drop),
            T_COMPLEX => self.c.uint().and_then(|_| self.c.uint()).map(drop),
            T_BYTES | T_STRING => self.c.bytes().map(drop),
            _ => match self.wire(id)?.clone() {
                Wire::Opaque => self.c.bytes().map(drop),
                Wire::Array { elem, len } => {
                    if self.c.uint()? != len {
                        return Err(self.c.err("array length differs from its type"));
                    }
                    self.skip_n(len, elem, depth)
                }
                Wire::Slice { elem } => {
                    let n = self.c.len()?;
                    self.skip_n(n as u64, elem, depth)
                }
                Wire::Map { key, elem } => {
                    let n = self.c.len()?;
                    for _ in 0..n {
                        self.skip(key, depth + 1)?;
                        self.skip(elem, depth + 1)?;
                    }
                    Ok(())
                }
                Wire::Struct { fields } => {
                    let mut c = self.c;
                    c.fields(|c, n| {
                        let (_, t) = Self::field(&fields, n, c)?;
                        self.c = *c;
                        self.skip(t, depth + 1)?;
                        *c = self.c;
                        Ok(())
                    })?;
                    self.c = c;
                    Ok(())
                }
            },
        }
    }

    fn skip_n(&mut self, n: u64, elem: i64, depth: u32) -> Result<(), GobError> {
        if n > (self.c.src.len() - self.c.pos) as u64 {
            return Err(self.c.err("length or count exceeds the data"));
        }
        for _ in 0..n {
            self.skip(elem, depth + 1)?;
        }
        Ok(())
    }
}

/// Seconds from 0001-01-01 (Go's time origin) to the Unix epoch.
const UNIX_FROM_GO: i64 = 62_135_596_800;

/// `time.Time.MarshalBinary`: version 1 (15 bytes) or 2 (16, with seconds in the zone
/// offset), then `i64` seconds since year 1, `i32` nanoseconds, `i16` zone minutes, all
/// big-endian. The zone does not move the instant. `None` is Go's zero time.
fn go_time(b: &[u8]) -> Result<Option<i64>, &'static str> {
    match (b.first(), b.len()) {
        (Some(1), 15) | (Some(2), 16) => {}
        _ => return Err("unknown time.Time encoding"),
    }
    let mut s = [0; 8];
    s.copy_from_slice(&b[1..9]);
    let mut ns = [0; 4];
    ns.copy_from_slice(&b[9..13]);
    let (sec, nsec) = (i64::from_be_bytes(s), i32::from_be_bytes(ns));
    if sec == 0 && nsec == 0 {
        return Ok(None);
    }
    if !(0..1_000_000_000).contains(&nsec) {
        return Err("time.Time nanoseconds out of range");
    }
    sec.checked_sub(UNIX_FROM_GO)
        .and_then(|s| s.checked_mul(1000))
        .and_then(|ms| ms.checked_add(i64::from(nsec / 1_000_000)))
        .map(Some)
        .ok_or("time.Time out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_the_doc_spells_them() {
        let u = |b: &[u8]| Cursor { src: b, pos: 0 }.uint();
        let i = |b: &[u8]| Cursor { src: b, pos: 0 }.int();
        assert_eq!(u(&[0x00]), Ok(0));
        assert_eq!(u(&[0x07]), Ok(7));
        assert_eq!(u(&[0xfe, 0x01, 0x00]), Ok(256));
        assert_eq!(i(&[0xfe, 0x01, 0x01]), Ok(-129));
        assert_eq!(i(&[0xff, 0x81]), Ok(-65));
        assert_eq!(u(&[0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Ok(u64::MAX));
        assert!(u(&[0xf7]).is_err(), "nine bytes");
        assert!(u(&[0xfe, 0x01]).is_err(), "short");
    }

    #[test]
    fn go_times() {
        // 2026-11-24T22:02:14.184Z as Go writes it with a UTC offset of 0 minutes.
        let t = b"\x01\x00\x00\x00\x0e\xe2\x98\x00\x66\x1a\x17\x78\x9d\x00\x00";
        assert_eq!(go_time(t), Ok(Some(1_795_557_734_437)));
        assert_eq!(go_time(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]), Ok(None));
        assert!(go_time(&t[..14]).is_err());
        let mut v2 = t.to_vec();
        v2[0] = 2;
        v2.push(0);
        assert_eq!(go_time(&v2), Ok(Some(1_795_557_734_437)));
    }

    #[test]
    fn not_gob() {
        assert!(!looks_like_gob(b""));
        assert!(!looks_like_gob(b"# TYPE x counter\n"));
        assert!(!looks_like_gob(b"\x89NGSNAP\n"));
        assert!(!looks_like_gob(b"some text"));
        assert!(looks_like_gob(b"\x29\xff\x8d\x04\x01"));
        assert!(decode(b"").is_err());
        assert!(decode(b"\x00").is_err());
    }
}
