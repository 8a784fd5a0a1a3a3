//! The grouping key in a push URL: `/metrics/job/<JOB>{/<LABEL>/<VALUE>}`, or
//! `/metrics/job@base64/<JOB>...`, where any label name may carry the `@base64` suffix to mark
//! its value as base64url (RFC 4648 §5, padding optional, `=` alone for the empty string).
//!
//! The rules are the Pushgateway's (`handler/push.go`), applied to the path after
//! percent-decoding (so `%2F` separates, as it does upstream):
//!
//! - the labels part splits on `/` after its first byte; an odd number of components is an
//!   error, and a trailing `/` is an empty value (`/metrics/job/x/foo/` is `foo=""`);
//! - a label name, without `@base64`, must be `[a-zA-Z_][a-zA-Z0-9_]*` and not start with `__`;
//! - `job` among the labels is overwritten by the path's job; of two equal names the last wins;
//! - the key is sorted by name.
//!
//! One deliberate difference: a job or value that is not UTF-8 (from `@base64` or a `%FF`
//! escape) is refused here. Upstream accepts it, records a failed push whose push-time gauges
//! carry the invalid value, and from then on every scrape fails until that group is deleted.
//!
//! Nothing allocates once the caller's [`Key`] has grown to the longest key seen.

use smallvec::SmallVec;
use std::fmt;
use std::ops::Range;

/// Marks a label name whose value is base64url-encoded.
pub const BASE64_SUFFIX: &[u8] = b"@base64";

/// Why a grouping key was refused; `Display` gives the 400 body's text.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum PathError<'a> {
    /// The job's base64 did not decode. `partial` is what decoded before the error (Go reports
    /// that), `at` the offset of the bad input byte.
    JobBase64 {
        /// Bytes decoded before the error.
        partial: &'a [u8],
        /// Offset of the offending input byte.
        at: usize,
    },
    /// The labels part has an odd number of `/`-separated components.
    OddComponents {
        /// The labels part, leading `/` included.
        labels: &'a [u8],
    },
    /// A label name that is not a valid, unreserved Prometheus label name.
    LabelName {
        /// The name, `@base64` removed.
        name: &'a [u8],
    },
    /// A label value's base64 did not decode.
    LabelBase64 {
        /// The label name.
        name: &'a [u8],
        /// The raw value.
        value: &'a [u8],
        /// Offset of the offending input byte.
        at: usize,
    },
    /// The job is empty.
    NoJob,
    /// A job or label value that is not UTF-8.
    Utf8 {
        /// The label name (`job` for the job).
        name: &'a [u8],
        /// The decoded value.
        value: &'a [u8],
    },
}

impl fmt::Display for PathError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use engine::quote::Quoted;
        match *self {
            PathError::JobBase64 { partial, at } => write!(
                f,
                "invalid base64 encoding in job name {}: illegal base64 data at input byte {at}",
                Quoted(partial)
            ),
            PathError::OddComponents { labels } => {
                write!(f, "odd number of components in label string {}", Quoted(labels))
            }
            PathError::LabelName { name } => write!(f, "improper label name {}", Quoted(name)),
            PathError::LabelBase64 { name, value, at } => write!(
                f,
                "invalid base64 encoding for label {}={}: illegal base64 data at input byte {at}",
                String::from_utf8_lossy(name),
                Quoted(value)
            ),
            PathError::NoJob => f.write_str("job name is required"),
            PathError::Utf8 { name, value } => write!(
                f,
                "grouping label {} has a value that is not valid UTF-8: {}",
                Quoted(name),
                Quoted(value)
            ),
        }
    }
}

/// A parsed grouping key: label names and values in one buffer, sorted by name, `job`
/// included. Reused from one request to the next.
#[derive(Debug, Default)]
pub struct Key {
    buf: Vec<u8>,
    spans: SmallVec<[(Range<u32>, Range<u32>); 8]>,
}

impl Key {
    /// An empty key.
    pub fn new() -> Key {
        Key::default()
    }

    /// The labels, sorted by name.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> + Clone + '_ {
        self.spans.iter().map(|(n, v)| (&self.buf[range(n)], &self.buf[range(v)]))
    }

    /// How many labels (`job` included).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the key has no labels (never, once parsed: `job` is there).
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    fn push(&mut self, name: &[u8], value: Value<'_>) -> Result<(), Range<u32>> {
        let n0 = self.buf.len() as u32;
        self.buf.extend_from_slice(name);
        let v0 = self.buf.len() as u32;
        let result = match value {
            Value::Plain(v) => {
                self.buf.extend_from_slice(v);
                Ok(())
            }
            Value::Base64(v) => decode_base64(v, &mut self.buf).map_err(|at| at as u32),
        };
        let v1 = self.buf.len() as u32;
        match result {
            Ok(()) => {
                self.spans.push((n0..v0, v0..v1));
                Ok(())
            }
            // The partial output is reported by the caller for the job.
            Err(at) => Err(v0..at.max(v0)),
        }
    }

    /// Parses a push route's parameters, both percent-decoded: `job` (the segment after
    /// `job/` or `job@base64/`) and `labels` (the rest of the path, from its `/`; empty when
    /// the route has none).
    ///
    /// # Errors
    /// Upstream's 400 texts, checked in its order: the job's base64, the labels, an empty
    /// job; then, a fix, values that are not UTF-8.
    pub fn parse<'a>(
        &'a mut self,
        job: &'a [u8],
        job_base64: bool,
        labels: &'a [u8],
    ) -> Result<(), PathError<'a>> {
        self.buf.clear();
        self.spans.clear();
        let job_value = if job_base64 { Value::Base64(job) } else { Value::Plain(job) };
        if let Err(e) = self.push(b"job", job_value) {
            let at = base64_error_at(job);
            let partial = partial_decode(job, &mut self.buf, e.start as usize);
            return Err(PathError::JobBase64 { partial, at });
        }
        if labels.len() > 1 {
            let rest = &labels[1..];
            if rest.iter().filter(|&&b| b == b'/').count() % 2 == 0 {
                return Err(PathError::OddComponents { labels });
            }
            let mut parts = rest.split(|&b| b == b'/');
            while let (Some(name), Some(value)) = (parts.next(), parts.next()) {
                let (plain, b64) = match name.strip_suffix(BASE64_SUFFIX) {
                    Some(n) => (n, true),
                    None => (name, false),
                };
                if !is_label_name(plain) || plain.starts_with(b"__") {
                    return Err(PathError::LabelName { name: plain });
                }
                let v = if b64 { Value::Base64(value) } else { Value::Plain(value) };
                if self.push(plain, v).is_err() {
                    return Err(PathError::LabelBase64 {
                        name: plain,
                        value,
                        at: base64_error_at(value),
                    });
                }
            }
        }
        // `job` from the path wins over a `job` label; otherwise the last of equal names wins.
        // The path's job went in first: move it last so the stable sort keeps it last.
        let job_span = self.spans.remove(0);
        self.spans.push(job_span);
        let Key { buf, spans } = self;
        spans.sort_by(|a, b| buf[range(&a.0)].cmp(&buf[range(&b.0)]));
        let mut i = 0;
        while i + 1 < spans.len() {
            if buf[range(&spans[i].0)] == buf[range(&spans[i + 1].0)] {
                spans.remove(i);
            } else {
                i += 1;
            }
        }
        let job = spans.iter().find(|(n, _)| &buf[range(n)] == b"job").map(|(_, v)| range(v));
        if job.is_none_or(|r| r.is_empty()) {
            return Err(PathError::NoJob);
        }
        for (n, v) in spans.iter() {
            let value = &buf[range(v)];
            if std::str::from_utf8(value).is_err() {
                return Err(PathError::Utf8 { name: &buf[range(n)], value });
            }
        }
        Ok(())
    }
}

fn range(r: &Range<u32>) -> Range<usize> {
    r.start as usize..r.end as usize
}

enum Value<'a> {
    Plain(&'a [u8]),
    Base64(&'a [u8]),
}

/// Whether `s` is a legacy Prometheus label name, `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn is_label_name(s: &[u8]) -> bool {
    match s.split_first() {
        Some((&first, rest)) => {
            (first.is_ascii_alphabetic() || first == b'_')
                && rest.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        }
        None => false,
    }
}

/// The value of a base64url character, or `None`.
fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

/// Decodes base64url as the Pushgateway does: trailing `=` removed, then Go's
/// `RawURLEncoding` (no padding, `\r` and `\n` skipped, non-zero trailing bits tolerated).
/// Appends to `out`; on error returns the offset of the offending input byte, with `out`
/// holding the complete 3-byte groups decoded before it.
pub fn decode_base64(src: &[u8], out: &mut Vec<u8>) -> Result<(), usize> {
    let mut end = src.len();
    while end > 0 && src[end - 1] == b'=' {
        end -= 1;
    }
    let mut quantum = [0u8; 4];
    let mut n = 0;
    let mut last = 0;
    for (i, &b) in src[..end].iter().enumerate() {
        if b == b'\r' || b == b'\n' {
            continue;
        }
        let Some(v) = sextet(b) else { return Err(i) };
        quantum[n] = v;
        n += 1;
        last = i;
        if n == 4 {
            out.push(quantum[0] << 2 | quantum[1] >> 4);
            out.push(quantum[1] << 4 | quantum[2] >> 2);
            out.push(quantum[2] << 6 | quantum[3]);
            n = 0;
        }
    }
    match n {
        0 => {}
        // A single character cannot carry a whole byte.
        1 => return Err(last),
        2 => out.push(quantum[0] << 2 | quantum[1] >> 4),
        _ => {
            out.push(quantum[0] << 2 | quantum[1] >> 4);
            out.push(quantum[1] << 4 | quantum[2] >> 2);
        }
    }
    Ok(())
}

/// Appends `src` as unpadded base64url (RFC 4648 §5), which [`decode_base64`] reads back;
/// the empty string gives nothing (a URL writes it `=`).
pub fn encode_base64(src: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for c in src.chunks(3) {
        let n = c.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        // One character per started sextet: 1 byte → 2, 2 → 3, 3 → 4.
        for i in 0..=c.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]);
        }
    }
}

/// The input offset [`decode_base64`] reports for `src`, which must fail to decode.
fn base64_error_at(src: &[u8]) -> usize {
    decode_base64(src, &mut Vec::new()).err().unwrap_or(0)
}

/// What Go's decoder had written when it failed: the whole groups before the error. `buf`
/// holds them from `from` on.
fn partial_decode<'b>(src: &[u8], buf: &'b mut Vec<u8>, from: usize) -> &'b [u8] {
    buf.truncate(from);
    let _ = decode_base64(src, buf);
    &buf[from..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(job: &str, b64: bool, labels: &str) -> Result<Vec<(String, String)>, String> {
        let mut k = Key::new();
        match k.parse(job.as_bytes(), b64, labels.as_bytes()) {
            Ok(()) => Ok(k
                .labels()
                .map(|(n, v)| {
                    (String::from_utf8(n.to_vec()).unwrap(), String::from_utf8(v.to_vec()).unwrap())
                })
                .collect()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn pairs(p: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
        Ok(p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    #[test]
    fn plain_keys_sorted_with_job() {
        assert_eq!(key("j1", false, ""), pairs(&[("job", "j1")]));
        assert_eq!(key("j1", false, "/"), pairs(&[("job", "j1")]));
        assert_eq!(key("ord", false, "/y/2/x/1"), pairs(&[("job", "ord"), ("x", "1"), ("y", "2")]));
        assert_eq!(key("jj", false, "/job/other"), pairs(&[("job", "jj")]));
        assert_eq!(key("tw", false, "/a/1/a/2"), pairs(&[("a", "2"), ("job", "tw")]));
        assert_eq!(key("ts4", false, "/foo/"), pairs(&[("foo", ""), ("job", "ts4")]));
        assert_eq!(key("sp", false, "/v/a b+c"), pairs(&[("job", "sp"), ("v", "a b+c")]));
    }

    #[test]
    fn base64_values() {
        assert_eq!(
            key("d", false, "/path@base64/L3Zhci90bXA"),
            pairs(&[("job", "d"), ("path", "/var/tmp")])
        );
        assert_eq!(
            key("e1", false, "/first@base64/=/second/foo"),
            pairs(&[("first", ""), ("job", "e1"), ("second", "foo")])
        );
        assert_eq!(key("e2", false, "/first@base64/"), pairs(&[("first", ""), ("job", "e2")]));
        assert_eq!(key("dGVzdC9qb2I", true, ""), pairs(&[("job", "test/job")]));
        assert_eq!(key("j", false, "/v@base64/YWI="), pairs(&[("job", "j"), ("v", "ab")]));
        assert_eq!(key("j", false, "/v@base64/YWI"), pairs(&[("job", "j"), ("v", "ab")]));
    }

    #[test]
    fn errors_read_as_upstream() {
        assert_eq!(
            key("x", false, "/path/a/b"),
            Err("odd number of components in label string \"/path/a/b\"".into())
        );
        assert_eq!(
            key("x", false, "/a"),
            Err("odd number of components in label string \"/a\"".into())
        );
        assert_eq!(key("=", true, ""), Err("job name is required".into()));
        assert_eq!(key("", true, ""), Err("job name is required".into()));
        assert_eq!(
            key("!!", true, ""),
            Err("invalid base64 encoding in job name \"\": illegal base64 data at input byte 0"
                .into())
        );
        assert_eq!(
            key("YWJjZA!", true, ""),
            Err("invalid base64 encoding in job name \"abc\": illegal base64 data at input byte 6"
                .into())
        );
        for bad in ["0abc", "__x", "a-b", "foo.bar", ""] {
            let e = key("j8", false, &format!("/{bad}/v")).unwrap_err();
            assert_eq!(e, format!("improper label name \"{bad}\""));
        }
        assert_eq!(key("j", false, "/__x@base64/YQ").unwrap_err(), "improper label name \"__x\"");
        assert_eq!(
            key("j", false, "/a@base64/a+b/").unwrap_err(),
            "odd number of components in label string \"/a@base64/a+b/\""
        );
        assert_eq!(
            key("j", false, "/a@base64/a+bc").unwrap_err(),
            "invalid base64 encoding for label a=\"a+bc\": illegal base64 data at input byte 1"
        );
        assert_eq!(
            key("j", false, "/a@base64/Y").unwrap_err(),
            "invalid base64 encoding for label a=\"Y\": illegal base64 data at input byte 0"
        );
    }

    #[test]
    fn invalid_utf8_refused() {
        let mut k = Key::new();
        let e = k.parse(b"p2", false, b"/v@base64/-_8").unwrap_err();
        assert_eq!(
            e.to_string(),
            "grouping label \"v\" has a value that is not valid UTF-8: \"\\xfb\\xff\""
        );
        let mut k = Key::new();
        assert!(matches!(k.parse(b"a\xffb", false, b""), Err(PathError::Utf8 { .. })));
        let mut k = Key::new();
        assert_eq!(k.parse("Προ".as_bytes(), false, "/n/Προ".as_bytes()), Ok(()));
    }

    fn std_b64url(data: &[u8], pad: bool) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut s = String::new();
        for c in data.chunks(3) {
            let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for i in 0..=c.len() {
                s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            }
            if pad {
                for _ in c.len()..3 {
                    s.push('=');
                }
            }
        }
        s
    }

    proptest! {
        #[test]
        fn base64_round_trips(data: Vec<u8>, pad: bool) {
            let mut out = Vec::new();
            prop_assert_eq!(decode_base64(std_b64url(&data, pad).as_bytes(), &mut out), Ok(()));
            prop_assert_eq!(out, data);
        }

        #[test]
        fn base64_encodes_as_the_oracle(data: Vec<u8>) {
            let mut enc = Vec::new();
            encode_base64(&data, &mut enc);
            prop_assert_eq!(std::str::from_utf8(&enc).unwrap(), std_b64url(&data, false));
        }

        #[test]
        fn arbitrary_paths_never_panic(job: Vec<u8>, b64: bool, labels: Vec<u8>) {
            let mut k = Key::new();
            let _ = k.parse(&job, b64, &labels).map_err(|e| e.to_string());
        }
    }
}
