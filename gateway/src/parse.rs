//! A push body, text format 0.0.4 or varint-delimited protobuf `MetricFamily` messages, read
//! into a [`Group`]: validated, labelled with the grouping key and pre-encoded.
//!
//! Text goes through the engine's Go-exact parser (`engine::textparse`), so errors read as
//! upstream's. Protobuf is read here, zero-copy, with [`crate::proto`]: value sub-messages and
//! fields this code does not interpret (native histogram buckets, exemplars, created
//! timestamps, a family's unit, unknown fields) are kept as the bytes they came in, so a
//! protobuf scrape returns them unchanged.
//!
//! # Labels
//! As upstream's `sanitizeLabels`: every grouping label is set on every series, replacing a
//! label of the same name from the body; `instance=""` is added where no `instance` label is
//! present; labels are sorted by name.
//!
//! # What is refused
//! Parse errors (Go's texts) are plain 400s. Then, as client_golang's `Gather` would refuse
//! them when the Pushgateway checks a push: timestamps, invalid label names (and, a fix,
//! invalid metric names), label values that are not UTF-8, repeated label names, a `quantile`
//! label on a summary, and a metric without the value its family's type calls for. These are
//! refused even with the consistency check disabled, where upstream stores them and then fails
//! every scrape. Duplicate series within the push are reported separately: they are a
//! consistency matter, stored when the check is off (a scrape then keeps the first).
//!
//! Nothing allocates once the parser's and the group's buffers have grown to the body at hand.

use crate::group::{self, Group, Label, Type, Values};
use crate::limits::PushLimits;
use crate::op::Format;
use crate::path::is_label_name;
use crate::proto::{self, FieldValue, Reader};
use engine::textparse;
use smallvec::SmallVec;
use std::fmt::Write as _;

/// Why a body was refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Reject {
    /// Malformed: a plain 400; the group is not touched.
    Parse,
    /// Well-formed but invalid: refused as a failed push (recorded on the group).
    Invalid,
    /// Past one of the [`PushLimits`]: a 400 naming the limit; the group is not touched.
    Limit,
}

/// The prefix upstream puts before every consistency-check error.
pub const INVALID_PREFIX: &str =
    "pushed metrics are invalid or inconsistent with existing metrics: ";

/// Reusable state for reading bodies.
#[derive(Debug, Default)]
pub struct Parser {
    text: textparse::Store,
    /// Family messages of a protobuf body: (name, message) ranges in the body.
    families: Vec<(Range, Range)>,
    /// Raw fields of the metric being read.
    subs: Vec<Range>,
    extra: Vec<Range>,
    values: Values,
    /// The last error's text.
    pub(crate) msg: String,
    /// Read the gateway's own families: labels as they are, no grouping key.
    plain: bool,
    /// Set when the body holds the same series twice; the text is in `dup_msg`.
    pub(crate) has_dup: bool,
    pub(crate) dup_msg: String,
    /// Applied to every series read; none by default (the replay path).
    pub(crate) limits: PushLimits,
}

type Range = (u32, u32);

fn at(src: &[u8], r: Range) -> &[u8] {
    src.get(r.0 as usize..r.1 as usize).unwrap_or_default()
}

/// Where `part`, a slice of `src`, lies in it.
fn range_in(src: &[u8], part: &[u8]) -> Range {
    let start = (part.as_ptr() as usize).saturating_sub(src.as_ptr() as usize).min(src.len());
    (start as u32, (start + part.len()).min(src.len()) as u32)
}

/// Whether `name` is a legacy metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_metric_name(name: &[u8]) -> bool {
    match name.split_first() {
        Some((&b, rest)) => {
            (b.is_ascii_alphabetic() || b == b'_' || b == b':') && engine::lex::is_name_tail(rest)
        }
        None => false,
    }
}

/// Whether a `Content-Type` selects the protobuf body format, as upstream decides with
/// `mime.ParseMediaType`: `application/vnd.google.protobuf` with
/// `proto=io.prometheus.client.MetricFamily` and `encoding=delimited`.
pub fn is_protobuf(content_type: &[u8]) -> bool {
    let mut parts = content_type.split(|&b| b == b';');
    let media = engine::lex::trim(parts.next().unwrap_or_default());
    if !media.eq_ignore_ascii_case(b"application/vnd.google.protobuf") {
        return false;
    }
    let (mut proto_ok, mut delimited) = (false, false);
    for p in parts {
        let p = engine::lex::trim(p);
        if p.is_empty() {
            continue;
        }
        let Some(eq) = memchr::memchr(b'=', p) else { return false };
        let name = engine::lex::trim(&p[..eq]);
        let mut value = engine::lex::trim(&p[eq + 1..]);
        if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
            value = &value[1..value.len() - 1];
        }
        if name.eq_ignore_ascii_case(b"proto") {
            proto_ok = value == b"io.prometheus.client.MetricFamily";
        } else if name.eq_ignore_ascii_case(b"encoding") {
            delimited = value == b"delimited";
        }
    }
    proto_ok && delimited
}

impl Parser {
    /// A parser with no buffers yet.
    pub fn new() -> Parser {
        Parser::default()
    }

    /// The last refusal's text.
    pub fn message(&self) -> &str {
        &self.msg
    }

    /// Resets `out` to the grouping key `key` (sorted by name) and reads `body` into it:
    /// families sorted by name, each stamped with `time_ms`. Families named like the
    /// push-time gauges are dropped.
    ///
    /// # Errors
    /// [`Reject`], with the text in [`Parser::message`].
    pub fn read(
        &mut self,
        format: Format,
        body: &[u8],
        key: &[Label<'_>],
        time_ms: i64,
        out: &mut Group,
    ) -> Result<(), Reject> {
        self.msg.clear();
        self.dup_msg.clear();
        self.has_dup = false;
        out.reset(key.iter().copied());
        let result = match format {
            Format::Protobuf => self.read_protobuf(body, key, time_ms, out, false),
            Format::Snapshot => self.read_protobuf(body, key, time_ms, out, true),
            Format::Text => self.read_text(body, key, time_ms, out),
        };
        if result.is_ok() {
            out.sort_families();
        }
        result
    }

    /// Reads the gateway's own exposition into `out`, labels untouched.
    ///
    /// # Errors
    /// As [`Parser::read`]; the engine's own text does not fail.
    pub fn read_own(&mut self, text: &[u8], out: &mut Group) -> Result<(), Reject> {
        self.plain = true;
        let r = self.read(Format::Text, text, &[], 0, out);
        self.plain = false;
        r
    }

    fn read_text(
        &mut self,
        body: &[u8],
        key: &[Label<'_>],
        time_ms: i64,
        out: &mut Group,
    ) -> Result<(), Reject> {
        let Parser { text, msg, has_dup, dup_msg, plain, limits, .. } = self;
        let fams = match text.parse(body) {
            Ok(f) => f,
            Err(e) => {
                let _ = write!(msg, "{e}");
                return Err(Reject::Parse);
            }
        };
        if fams.has_timestamps() {
            msg.push_str("pushed metrics must not have timestamps");
            return Err(Reject::Invalid);
        }
        let mut labels = SmallVec::<[Label<'_>; 12]>::new();
        for f in fams.iter() {
            let name = f.name().as_bytes();
            if group::is_synthetic(name) {
                continue;
            }
            let kind = match f.kind() {
                textparse::Type::Counter => Type::Counter,
                textparse::Type::Gauge => Type::Gauge,
                textparse::Type::Summary => Type::Summary,
                textparse::Type::Untyped => Type::Untyped,
                textparse::Type::Histogram => Type::Histogram,
                textparse::Type::GaugeHistogram => Type::GaugeHistogram,
            };
            out.begin_family(name, f.help(), kind, time_ms, b"");
            for m in f.metrics() {
                let body_labels: SmallVec<[Label<'_>; 8]> =
                    m.labels().map(|(n, v)| (n.as_bytes(), v)).collect();
                if *plain {
                    labels.clear();
                    labels.extend(body_labels.iter().copied());
                    labels.sort_by(|a, b| a.0.cmp(b.0));
                } else {
                    sanitize(&body_labels, key, &mut labels);
                }
                if limits.check_series(name, &labels, out.series.len(), msg).is_err() {
                    return Err(Reject::Limit);
                }
                let fault = match m.value() {
                    textparse::Value::GaugeHistogram => Err(Fault::Kind(kind)),
                    _ => check_labels(&labels, false),
                };
                if let Err(fault) = fault {
                    let value = m.value();
                    describe_error(
                        msg,
                        name,
                        &labels,
                        |d| describe_text_value(d, kind, value),
                        fault,
                    );
                    return Err(Reject::Invalid);
                }
                match m.value() {
                    textparse::Value::Counter(v)
                    | textparse::Value::Gauge(v)
                    | textparse::Value::Untyped(v) => out.add_series(
                        &labels,
                        |o| group::text_simple(o, name, &labels, v),
                        |o| group::simple_proto(o, kind, v),
                    ),
                    textparse::Value::Summary(s) => out.add_series(
                        &labels,
                        |o| group::text_summary(o, name, &labels, s.quantiles(), s.sum, s.count),
                        |o| group::summary_proto(o, s.count, s.sum, s.quantiles()),
                    ),
                    textparse::Value::Histogram(h) => out.add_series(
                        &labels,
                        |o| group::text_histogram(o, name, &labels, h.buckets(), h.sum, h.count),
                        |o| group::histogram_proto(o, kind, h.count, h.sum, h.buckets()),
                    ),
                    textparse::Value::GaugeHistogram => {}
                }
            }
            note_dup(out, name, has_dup, dup_msg);
        }
        Ok(())
    }

    fn read_protobuf(
        &mut self,
        body: &[u8],
        key: &[Label<'_>],
        time_ms: i64,
        out: &mut Group,
        snapshot: bool,
    ) -> Result<(), Reject> {
        let Parser { families, subs, extra, values, msg, has_dup, dup_msg, limits, .. } = self;
        // Pass 1: split the stream, check every message's wire format, find names.
        families.clear();
        let mut rest = body;
        loop {
            let (m, tail) = match proto::next_delimited(rest) {
                Ok(Some(x)) => x,
                Ok(None) => break,
                Err(e) => {
                    let _ = write!(msg, "{e}");
                    return Err(Reject::Parse);
                }
            };
            rest = tail;
            match family_name(m) {
                Ok(name) => families.push((range_in(body, name), range_in(body, m))),
                Err(e) => {
                    let _ = write!(msg, "{e}");
                    return Err(Reject::Parse);
                }
            }
        }
        // Upstream keeps families in a map by name: of equal names the last one wins.
        families
            .sort_unstable_by(|a, b| at(body, a.0).cmp(at(body, b.0)).then(a.1 .0.cmp(&b.1 .0)));
        let mut i = 0;
        while i + 1 < families.len() {
            if at(body, families[i].0) == at(body, families[i + 1].0) {
                families.remove(i);
            } else {
                i += 1;
            }
        }
        // Timestamps anywhere refuse the whole push, before anything else is looked at.
        for &(_, m) in families.iter() {
            if has_timestamp(at(body, m)) {
                msg.push_str("pushed metrics must not have timestamps");
                return Err(Reject::Invalid);
            }
        }
        let mut labels = SmallVec::<[Label<'_>; 12]>::new();
        let mut body_labels = SmallVec::<[Label<'_>; 8]>::new();
        for &(name_r, m) in families.iter() {
            let name = at(body, name_r);
            let mut kind = Type::Counter;
            let mut help = None;
            let (mut fam_ms, mut value_ms) = (time_ms, 0);
            extra.clear();
            let mut metrics = Reader::new(at(body, m));
            // The family's own fields first: type and help come before its metrics' checks.
            while let Ok(Some(f)) = metrics.next_field() {
                match (f.number, f.value) {
                    (1, FieldValue::Bytes(_)) | (4, FieldValue::Bytes(_)) => {}
                    (2, FieldValue::Bytes(h)) => help = Some(h),
                    (3, FieldValue::Varint(t)) => {
                        kind = Type::from_number(t).unwrap_or(Type::Counter)
                    }
                    (1000, FieldValue::Varint(t)) if snapshot => fam_ms = t as i64,
                    (1001, FieldValue::Varint(t)) if snapshot => value_ms = t as i64,
                    _ => extra.push(range_in(body, f.raw)),
                }
            }
            if group::is_synthetic(name) {
                if snapshot && name == group::PUSH_TIME.as_bytes() {
                    (out.push_ms, out.push_family_ms) = (value_ms, fam_ms);
                } else if snapshot {
                    (out.fail_ms, out.fail_family_ms) = (value_ms, fam_ms);
                }
                continue;
            }
            if !is_metric_name(name) {
                let _ = write!(msg, "metric name {} is invalid", engine::quote::Quoted(name));
                return Err(Reject::Invalid);
            }
            out.begin_family(name, help, kind, fam_ms, b"");
            for r in extra.iter() {
                out.append_extra(at(body, *r));
            }
            let mut fields = Reader::new(at(body, m));
            while let Ok(Some(f)) = fields.next_field() {
                let (4, FieldValue::Bytes(metric)) = (f.number, f.value) else { continue };
                body_labels.clear();
                subs.clear();
                let mut has_value = false;
                let mut r = Reader::new(metric);
                while let Ok(Some(mf)) = r.next_field() {
                    match (mf.number, mf.value) {
                        (1, FieldValue::Bytes(lp)) => body_labels.push(label_pair(lp)),
                        (2 | 3 | 4 | 5 | 7, FieldValue::Bytes(_)) => {
                            has_value |= mf.number == kind.field();
                            subs.push(range_in(body, mf.raw));
                        }
                        (6, FieldValue::Varint(_)) => {}
                        _ => subs.push(range_in(body, mf.raw)),
                    }
                }
                let dup_names = has_repeated_name(&mut body_labels);
                sanitize(&body_labels, key, &mut labels);
                if limits.check_series(name, &labels, out.series.len(), msg).is_err() {
                    return Err(Reject::Limit);
                }
                let fault = if !has_value {
                    Err(Fault::Kind(kind))
                } else if let Some(n) = dup_names {
                    Err(Fault::Repeated(n))
                } else {
                    check_labels(&labels, kind == Type::Summary)
                };
                if let Err(fault) = fault {
                    let subs_bytes = || subs.iter().map(|r| at(body, *r));
                    describe_error(msg, name, &labels, |d| describe_raw(d, subs_bytes()), fault);
                    return Err(Reject::Invalid);
                }
                // Text lines from the value of the family's type; the protobuf keeps every
                // field as it came.
                let field = kind.field();
                let value_subs = || {
                    subs.iter().map(|r| at(body, *r)).filter_map(move |raw| {
                        let mut r = Reader::new(raw);
                        match r.next_field() {
                            Ok(Some(f)) if f.number == field => f.value.bytes(),
                            _ => None,
                        }
                    })
                };
                values.read(kind, value_subs());
                let v = &*values;
                out.add_series(
                    &labels,
                    |o| match kind {
                        Type::Counter | Type::Gauge | Type::Untyped => {
                            group::text_simple(o, name, &labels, v.value)
                        }
                        Type::Summary => group::text_summary(
                            o,
                            name,
                            &labels,
                            v.points.iter().map(|p| (p.0, p.2)),
                            v.sum,
                            v.count,
                        ),
                        Type::Histogram => group::text_histogram(
                            o,
                            name,
                            &labels,
                            v.points.iter().map(|p| (p.0, p.1)),
                            v.sum,
                            v.count,
                        ),
                        Type::GaugeHistogram => {}
                    },
                    |o| {
                        // Value fields in field order, then the rest as they came.
                        for n in [2, 3, 4, 5, 7] {
                            for r in subs.iter() {
                                let raw = at(body, *r);
                                if first_field(raw) == n {
                                    o.extend_from_slice(raw);
                                }
                            }
                        }
                        for r in subs.iter() {
                            let raw = at(body, *r);
                            if ![2, 3, 4, 5, 7].contains(&first_field(raw)) {
                                o.extend_from_slice(raw);
                            }
                        }
                    },
                );
            }
            note_dup(out, name, has_dup, dup_msg);
        }
        Ok(())
    }
}

/// Records the open family's first duplicate series, if any and if none was found before.
fn note_dup(out: &mut Group, name: &[u8], has_dup: &mut bool, dup_msg: &mut String) {
    let Some(dup) = out.end_family() else { return };
    if *has_dup {
        return;
    }
    *has_dup = true;
    let _ = write!(dup_msg, "collected metric {} {{ ", engine::quote::Quoted(name));
    describe_metric(dup_msg, out.get(dup.proto()));
    dup_msg.push_str("} was collected before with the same name and label values");
}

fn first_field(raw: &[u8]) -> u32 {
    match Reader::new(raw).next_field() {
        Ok(Some(f)) => f.number,
        _ => 0,
    }
}

/// The name of a `MetricFamily` message (the last `name` field), after checking that every
/// field, and every field of the messages it holds that protobuf-go would parse, is
/// well-formed.
fn family_name(m: &[u8]) -> Result<&[u8], proto::WireError> {
    // Empty, but within `m`: callers locate the name in the body by address.
    let mut name: &[u8] = &m[..0];
    let mut r = Reader::new(m);
    while let Some(f) = r.next_field()? {
        match (f.number, f.value) {
            (1, FieldValue::Bytes(n)) => name = n,
            (4, FieldValue::Bytes(metric)) => check_metric(metric)?,
            _ => {}
        }
    }
    Ok(name)
}

fn check_all(
    m: &[u8],
    mut nested: impl FnMut(u32, &[u8]) -> Result<(), proto::WireError>,
) -> Result<(), proto::WireError> {
    let mut r = Reader::new(m);
    while let Some(f) = r.next_field()? {
        if let FieldValue::Bytes(b) = f.value {
            nested(f.number, b)?;
        }
    }
    Ok(())
}

fn check_metric(m: &[u8]) -> Result<(), proto::WireError> {
    check_all(m, |n, b| match n {
        1 | 2 | 3 | 5 => check_all(b, |_, _| Ok(())),
        4 => check_all(b, |n, q| if n == 3 { check_all(q, |_, _| Ok(())) } else { Ok(()) }),
        7 => check_all(b, |n, x| {
            if matches!(n, 3 | 9 | 12 | 16) {
                check_all(x, |_, _| Ok(()))
            } else {
                Ok(())
            }
        }),
        _ => Ok(()),
    })
}

fn has_timestamp(m: &[u8]) -> bool {
    let mut r = Reader::new(m);
    while let Ok(Some(f)) = r.next_field() {
        if let (4, FieldValue::Bytes(metric)) = (f.number, f.value) {
            let mut mr = Reader::new(metric);
            while let Ok(Some(mf)) = mr.next_field() {
                if mf.number == 6 && matches!(mf.value, FieldValue::Varint(_)) {
                    return true;
                }
            }
        }
    }
    false
}

fn label_pair(lp: &[u8]) -> Label<'_> {
    let (mut n, mut v): (&[u8], &[u8]) = (b"", b"");
    let mut r = Reader::new(lp);
    while let Ok(Some(f)) = r.next_field() {
        match (f.number, f.value) {
            (1, FieldValue::Bytes(b)) => n = b,
            (2, FieldValue::Bytes(b)) => v = b,
            _ => {}
        }
    }
    (n, v)
}

/// Sorts body labels by name and returns a name given twice, if any.
fn has_repeated_name<'a>(labels: &mut SmallVec<[Label<'a>; 8]>) -> Option<&'a [u8]> {
    labels.sort_by(|a, b| a.0.cmp(b.0));
    labels.windows(2).find(|w| w[0].0 == w[1].0).map(|w| w[0].0)
}

/// Applies the grouping key to a series' body labels (see the module docs) into `out`.
pub(crate) fn sanitize<'a>(
    body: &[Label<'a>],
    key: &[Label<'a>],
    out: &mut SmallVec<[Label<'a>; 12]>,
) {
    out.clear();
    out.extend(body.iter().filter(|(n, _)| !key.iter().any(|(k, _)| k == n)).copied());
    out.extend(key.iter().copied());
    if !out.iter().any(|(n, _)| *n == b"instance") {
        out.push((b"instance", b""));
    }
    if !out.is_sorted_by(|a, b| a.0 <= b.0) {
        out.sort_by(|a, b| a.0.cmp(b.0));
    }
}

/// What is wrong with one series.
#[derive(Clone, Copy, Debug)]
enum Fault<'a> {
    /// It lacks the value its family's type needs.
    Kind(Type),
    Repeated(&'a [u8]),
    Name(&'a [u8]),
    Quantile,
    Utf8(&'a [u8], &'a [u8]),
}

/// client_golang's label checks on a sanitized, sorted label set.
fn check_labels<'a>(labels: &[Label<'a>], summary: bool) -> Result<(), Fault<'a>> {
    let mut prev: &[u8] = b"";
    for &(n, v) in labels {
        if n == prev {
            return Err(Fault::Repeated(n));
        }
        if !is_label_name(n) || n.starts_with(b"__") {
            return Err(Fault::Name(n));
        }
        if summary && n == b"quantile" {
            return Err(Fault::Quantile);
        }
        if std::str::from_utf8(v).is_err() {
            return Err(Fault::Utf8(n, v));
        }
        prev = n;
    }
    Ok(())
}

/// Writes client_golang's message for `fault`: `collected metric "name" { ... } ...`.
fn describe_error(
    msg: &mut String,
    name: &[u8],
    labels: &[Label<'_>],
    value: impl FnOnce(&mut String),
    fault: Fault<'_>,
) {
    use engine::quote::Quoted;
    let _ = write!(msg, "collected metric {} {{ ", Quoted(name));
    for (n, v) in labels {
        let _ = write!(msg, "label:{{name:{} value:{}}} ", Quoted(n), Quoted(v));
    }
    value(msg);
    if msg.ends_with(' ') {
        msg.pop();
    }
    msg.push('}');
    let _ = match fault {
        Fault::Kind(kind) => write!(msg, " is not a {}", kind.upper()),
        Fault::Repeated(n) => {
            write!(
                msg,
                " has two or more labels with the same name: {}",
                String::from_utf8_lossy(n)
            )
        }
        Fault::Name(n) => {
            write!(msg, " has a label with an invalid name: {}", String::from_utf8_lossy(n))
        }
        Fault::Quantile => write!(msg, " must not have an explicit \"quantile\" label"),
        Fault::Utf8(n, v) => {
            write!(msg, " has a label named {} whose value is not utf8: {}", Quoted(n), Quoted(v))
        }
    };
}

fn g(out: &mut String, v: f64) {
    let mut b = Vec::new();
    engine::float::write_g(&mut b, v);
    out.push_str(std::str::from_utf8(&b).unwrap_or_default());
}

fn describe_text_value(out: &mut String, kind: Type, value: textparse::Value<'_>) {
    match value {
        textparse::Value::Counter(v)
        | textparse::Value::Gauge(v)
        | textparse::Value::Untyped(v) => {
            let _ = write!(out, "{}:{{value:", kind.field_name());
            g(out, v);
            out.push('}');
        }
        textparse::Value::Summary(s) => {
            let _ = write!(out, "summary:{{sample_count:{} sample_sum:", s.count);
            g(out, s.sum);
            for (q, v) in s.quantiles() {
                out.push_str(" quantile:{quantile:");
                g(out, q);
                out.push_str(" value:");
                g(out, v);
                out.push('}');
            }
            out.push('}');
        }
        textparse::Value::Histogram(h) => {
            let _ = write!(out, "histogram:{{sample_count:{} sample_sum:", h.count);
            g(out, h.sum);
            for (le, n) in h.buckets() {
                let _ = write!(out, " bucket:{{cumulative_count:{n} upper_bound:");
                g(out, le);
                out.push('}');
            }
            out.push('}');
        }
        textparse::Value::GaugeHistogram => {}
    }
}

/// Renders raw `Metric` fields roughly as protobuf-go's compact text does.
fn describe_raw<'a>(out: &mut String, fields: impl Iterator<Item = &'a [u8]>) {
    for raw in fields {
        describe_message(out, raw, 0);
        out.push(' ');
    }
}

/// Renders a whole stored `Metric` message (labels and value) for an error text.
pub(crate) fn describe_metric(out: &mut String, m: &[u8]) {
    describe_message(out, m, 0);
    if out.ends_with(' ') {
        out.pop();
    }
}

fn describe_message(out: &mut String, m: &[u8], depth: u32) {
    let mut r = Reader::new(m);
    let mut first = true;
    while let Ok(Some(f)) = r.next_field() {
        if !first {
            out.push(' ');
        }
        first = false;
        let name = field_name(depth, f.number);
        match f.value {
            FieldValue::Bytes(b) if name.1 => {
                let _ = write!(out, "{}:{{", name.0);
                describe_message(out, b, name.2);
                out.push('}');
            }
            FieldValue::Bytes(b) => {
                let _ = write!(out, "{}:{}", name.0, engine::quote::Quoted(b));
            }
            FieldValue::Fixed64(b) => {
                let _ = write!(out, "{}:", name.0);
                g(out, f64::from_bits(b));
            }
            FieldValue::Varint(v) => {
                let _ = write!(out, "{}:{v}", name.0);
            }
            FieldValue::Fixed32(v) => {
                let _ = write!(out, "{}:{v}", name.0);
            }
        }
    }
}

/// (name, is a message, the message's depth code) of a field, by context.
fn field_name(depth: u32, n: u32) -> (&'static str, bool, u32) {
    match (depth, n) {
        (0, 1) => ("label", true, 1),
        (0, 2) => ("gauge", true, 2),
        (0, 3) => ("counter", true, 2),
        (0, 4) => ("summary", true, 3),
        (0, 5) => ("untyped", true, 2),
        (0, 6) => ("timestamp_ms", false, 0),
        (0, 7) => ("histogram", true, 4),
        (1, 1) => ("name", false, 0),
        (1, 2) | (2, 1) => ("value", false, 0),
        (3, 1) | (4, 1) => ("sample_count", false, 0),
        (3, 2) | (4, 2) => ("sample_sum", false, 0),
        (3, 3) => ("quantile", true, 5),
        (5, 1) => ("quantile", false, 0),
        (5, 2) => ("value", false, 0),
        (4, 3) => ("bucket", true, 6),
        (4, 4) => ("sample_count_float", false, 0),
        (6, 1) => ("cumulative_count", false, 0),
        (6, 2) => ("upper_bound", false, 0),
        (6, 4) => ("cumulative_count_float", false, 0),
        _ => ("?", false, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &[Label<'static>] = &[(b"job", b"j")];

    fn text_of(g: &Group) -> String {
        let mut out = String::new();
        for f in &g.families {
            for s in g.family_series(f) {
                out.push_str(std::str::from_utf8(g.get(s.text())).unwrap());
            }
        }
        out
    }

    fn family(name: &[u8], kind: u64, metrics: &[Vec<u8>]) -> Vec<u8> {
        let mut m = Vec::new();
        proto::put_bytes(&mut m, 1, name);
        proto::put_uvarint(&mut m, 3, kind);
        for x in metrics {
            proto::put_bytes(&mut m, 4, x);
        }
        proto::put_bytes(&mut m, 5, b"seconds");
        let mut out = Vec::new();
        proto::put_varint(&mut out, m.len() as u64);
        out.extend_from_slice(&m);
        out
    }

    fn labelled(labels: &[(&str, &str)], value_field: u32, value: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        for (n, v) in labels {
            let mut lp = Vec::new();
            proto::put_bytes(&mut lp, 1, n.as_bytes());
            proto::put_bytes(&mut lp, 2, v.as_bytes());
            proto::put_bytes(&mut m, 1, &lp);
        }
        proto::put_bytes(&mut m, value_field, value);
        // An unknown field, kept.
        proto::put_uvarint(&mut m, 99, 5);
        m
    }

    fn sample_body() -> Vec<u8> {
        let mut g = Vec::new();
        proto::put_f64(&mut g, 1, 2.5);
        let mut s = Vec::new();
        group::summary_proto(&mut s, 4, 10.0, [(0.5, 1.0), (0.9, 3.0)].into_iter());
        let mut h = Vec::new();
        group::histogram_proto(
            &mut h,
            Type::Histogram,
            7,
            2.0,
            [(1.0, 3), (f64::INFINITY, 7)].into_iter(),
        );
        let mut body = family(b"g", 1, &[labelled(&[("b", "1"), ("job", "x")], 2, &g)]);
        body.extend(family(b"s", 2, &[[labelled(&[], 2, &[])[..0].to_vec(), s].concat()]));
        body.extend(family(b"h", 4, &[h]));
        body
    }

    #[test]
    fn protobuf_families_read_and_rendered() {
        let mut p = Parser::new();
        let mut g = Group::default();
        p.read(Format::Protobuf, &sample_body(), KEY, 5, &mut g).unwrap();
        assert_eq!(
            text_of(&g),
            "g{b=\"1\",instance=\"\",job=\"j\"} 2.5\n\
             h_bucket{instance=\"\",job=\"j\",le=\"1\"} 3\n\
             h_bucket{instance=\"\",job=\"j\",le=\"+Inf\"} 7\n\
             h_sum{instance=\"\",job=\"j\"} 2\nh_count{instance=\"\",job=\"j\"} 7\n\
             s{instance=\"\",job=\"j\",quantile=\"0.5\"} 1\n\
             s{instance=\"\",job=\"j\",quantile=\"0.9\"} 3\n\
             s_sum{instance=\"\",job=\"j\"} 10\ns_count{instance=\"\",job=\"j\"} 4\n"
        );
        // The unit and the unknown field survive as bytes.
        let f = g.find(b"g").unwrap();
        assert!(g.get(f.extra).ends_with(b"seconds"));
        let s = g.family_series(f)[0];
        assert!(g.get(s.proto()).ends_with(&[0x98, 0x06, 5]));
    }

    #[test]
    fn every_truncation_is_refused_or_read_never_a_panic() {
        let body = sample_body();
        let mut p = Parser::new();
        let mut g = Group::default();
        for n in 0..body.len() {
            match p.read(Format::Protobuf, &body[..n], KEY, 5, &mut g) {
                Ok(()) | Err(Reject::Parse) => {}
                Err(Reject::Invalid) => {}
                Err(Reject::Limit) => panic!("no limit is set"),
            }
        }
        for n in 0..body.len() {
            let mut bad = body.clone();
            bad[n] ^= 0xff;
            let _ = p.read(Format::Protobuf, &bad, KEY, 5, &mut g);
        }
    }

    #[test]
    fn refusals_read_as_client_golang() {
        let mut p = Parser::new();
        let mut g = Group::default();
        let mut check = |format, body: &[u8], want: Result<(), Reject>, text: &str| {
            assert_eq!(p.read(format, body, KEY, 1, &mut g), want, "{}", p.message());
            assert!(p.message().ends_with(text), "{} / {text}", p.message());
        };
        check(Format::Text, b"m 1 5\n", Err(Reject::Invalid), "must not have timestamps");
        check(Format::Text, b"m{x=\"\\xff\"} 1", Err(Reject::Parse), "");
        let mut g1 = Vec::new();
        proto::put_f64(&mut g1, 1, 1.0);
        let quantile = family(b"q", 2, &[labelled(&[("quantile", "1")], 4, &[])]);
        check(
            Format::Protobuf,
            &quantile,
            Err(Reject::Invalid),
            "must not have an explicit \"quantile\" label",
        );
        let missing = family(b"m", 1, &[labelled(&[], 3, &g1)]);
        check(Format::Protobuf, &missing, Err(Reject::Invalid), "is not a GAUGE");
        let utf8 = family(b"u", 1, &[labelled(&[("v", "\u{fffd}")], 2, &g1)]);
        check(Format::Protobuf, &utf8, Ok(()), "");
        let mut raw = family(b"u", 1, &[labelled(&[("v", "ab")], 2, &g1)]);
        let at = raw.windows(2).position(|w| w == b"ab").unwrap();
        raw[at] = 0xff;
        check(Format::Protobuf, &raw, Err(Reject::Invalid), "whose value is not utf8: \"\\xffb\"");
        let repeated = family(b"r", 1, &[labelled(&[("a", "1"), ("a", "2")], 2, &g1)]);
        check(
            Format::Protobuf,
            &repeated,
            Err(Reject::Invalid),
            "two or more labels with the same name: a",
        );
        let name = family(b"bad-name", 1, &[labelled(&[], 2, &g1)]);
        check(Format::Protobuf, &name, Err(Reject::Invalid), "metric name \"bad-name\" is invalid");
        check(
            Format::Protobuf,
            b"\x02\x0a\x05",
            Err(Reject::Parse),
            "cannot parse invalid wire-format data",
        );
    }

    #[test]
    fn duplicates_flagged_not_refused() {
        let mut p = Parser::new();
        let mut g = Group::default();
        p.read(Format::Text, b"d 1\nd 2\n", KEY, 1, &mut g).unwrap();
        assert!(p.has_dup);
        assert!(
            p.dup_msg.starts_with("collected metric \"d\" { label:{name:\"instance\""),
            "{}",
            p.dup_msg
        );
    }

    #[test]
    fn content_types() {
        assert!(is_protobuf(b"application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"));
        assert!(is_protobuf(b"Application/Vnd.Google.Protobuf;encoding=\"delimited\";PROTO=io.prometheus.client.MetricFamily"));
        assert!(!is_protobuf(b"application/vnd.google.protobuf; encoding=delimited"));
        assert!(!is_protobuf(b"text/plain; version=0.0.4"));
        assert!(is_metric_name(b"a:b_c9") && !is_metric_name(b"9a") && !is_metric_name(b""));
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body: Vec<u8>, proto in any::<bool>()) {
            let mut p = Parser::new();
            let mut g = Group::default();
            let format = if proto { Format::Protobuf } else { Format::Text };
            let _ = p.read(format, &body, KEY, 1, &mut g);
        }
    }
}
