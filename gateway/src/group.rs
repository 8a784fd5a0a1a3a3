//! One group's state, pre-encoded: for every family its name, HELP, type and push time, and
//! for every series its text lines and its protobuf `Metric` message, all in one byte arena.
//! A scrape copies these bytes; nothing is formatted at scrape time.
//!
//! # Series order and identity
//! A `Metric` message starts with its labels, `LabelPair` fields sorted by name, each written
//! the one way the builder writes them; those bytes are the series' identity (equal bytes,
//! equal series). [`cmp_labels`] orders them as client_golang's registry orders metrics
//! within a family (by number of labels, then by label values in label-name order) and then
//! by label names. A series also keeps a 64-bit [`prefix`] of that order, which settles most
//! comparisons without reading the arena.

use crate::proto::{self, FieldValue, Reader};
use engine::encode::{self, escape_help};
use engine::float;
use smallvec::SmallVec;
use std::hash::Hasher;

/// A range of a group's arena.
pub(crate) type Span = (u32, u32);

/// A family's type, numbered as `metrics.proto`'s `MetricType`.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Ord, PartialOrd)]
pub enum Type {
    /// `COUNTER`
    Counter = 0,
    /// `GAUGE`
    Gauge = 1,
    /// `SUMMARY`
    Summary = 2,
    /// `UNTYPED`
    Untyped = 3,
    /// `HISTOGRAM`
    Histogram = 4,
    /// `GAUGE_HISTOGRAM`: kept and served in protobuf; text format 0.0.4 cannot write it.
    GaugeHistogram = 5,
}

impl Type {
    /// All types, by number.
    pub const ALL: [Type; 6] = [
        Type::Counter,
        Type::Gauge,
        Type::Summary,
        Type::Untyped,
        Type::Histogram,
        Type::GaugeHistogram,
    ];

    /// The type numbered `n` in `metrics.proto`.
    pub fn from_number(n: u64) -> Option<Type> {
        Type::ALL.get(usize::try_from(n).ok()?).copied()
    }

    /// The name Go's `MetricType.String()` gives.
    pub fn upper(self) -> &'static str {
        match self {
            Type::Counter => "COUNTER",
            Type::Gauge => "GAUGE",
            Type::Summary => "SUMMARY",
            Type::Untyped => "UNTYPED",
            Type::Histogram => "HISTOGRAM",
            Type::GaugeHistogram => "GAUGE_HISTOGRAM",
        }
    }

    /// The `Metric` field that carries a value of this type.
    pub fn field(self) -> u32 {
        match self {
            Type::Gauge => 2,
            Type::Counter => 3,
            Type::Summary => 4,
            Type::Untyped => 5,
            Type::Histogram | Type::GaugeHistogram => 7,
        }
    }

    /// The word of a `# TYPE` line; `None` for gauge histograms.
    pub fn text(self) -> Option<&'static str> {
        match self {
            Type::Counter => Some("counter"),
            Type::Gauge => Some("gauge"),
            Type::Summary => Some("summary"),
            Type::Untyped => Some("untyped"),
            Type::Histogram => Some("histogram"),
            Type::GaugeHistogram => None,
        }
    }

    /// The `Metric` field name Go's text rendering of a message uses.
    pub fn field_name(self) -> &'static str {
        match self {
            Type::Gauge => "gauge",
            Type::Counter => "counter",
            Type::Summary => "summary",
            Type::Untyped => "untyped",
            Type::Histogram | Type::GaugeHistogram => "histogram",
        }
    }
}

/// A family as stored.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fam {
    pub name: Span,
    /// HELP as pushed, unescaped; `None` without one.
    pub help: Option<Span>,
    pub kind: Type,
    /// When the push that wrote it was received, Unix milliseconds.
    pub time_ms: i64,
    /// Its series, within `Group::series`.
    pub series: (u32, u32),
    /// Family-level fields kept as pushed (unit, unknown fields), protobuf-encoded.
    pub extra: Span,
    /// Written by the change being built (not carried over from the group's previous state).
    pub fresh: bool,
}

/// A series (client_golang's `Metric`) as stored: its text lines, then its `Metric` message
/// (labels first), contiguous in the arena.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ser {
    /// [`prefix`] of its labels: settles most comparisons.
    pub prefix: u64,
    /// Identity of the series across the store: family name and labels.
    pub hash: u64,
    /// Where its text starts.
    at: u32,
    /// Where its text ends and its `Metric` message starts.
    text_end: u32,
    /// Where the message's labels end and its value fields start.
    labels_end: u32,
    /// Where the message ends.
    end: u32,
}

impl Ser {
    /// Its text lines.
    pub fn text(&self) -> Span {
        (self.at, self.text_end)
    }

    /// Its `Metric` message, without the field key and length.
    pub fn proto(&self) -> Span {
        (self.text_end, self.end)
    }

    /// The message's `LabelPair` fields: the series' identity, ordered by [`cmp_labels`].
    pub fn labels(&self) -> Span {
        (self.text_end, self.labels_end)
    }
}

/// Metric name of the push-success gauge every group has.
pub const PUSH_TIME: &str = "push_time_seconds";
/// Metric name of the push-failure gauge every group has.
pub const PUSH_FAILURE_TIME: &str = "push_failure_time_seconds";
/// HELP of [`PUSH_TIME`].
pub const PUSH_TIME_HELP: &str =
    "Last Unix time when changing this group in the Pushgateway succeeded.";
/// HELP of [`PUSH_FAILURE_TIME`].
pub const PUSH_FAILURE_TIME_HELP: &str =
    "Last Unix time when changing this group in the Pushgateway failed.";

/// Whether `name` is one of the two gauges the gateway keeps for every group (a pushed family
/// of that name is dropped: the gateway's values always win).
pub fn is_synthetic(name: &[u8]) -> bool {
    name == PUSH_TIME.as_bytes() || name == PUSH_FAILURE_TIME.as_bytes()
}

/// One group; see the module docs. Buffers are kept from one state to the next.
#[derive(Debug, Default)]
pub struct Group {
    /// The grouping key as upstream writes it: names sorted, `name FF value FF name ...`.
    pub(crate) key: Vec<u8>,
    /// The grouping labels, within `key`.
    pub(crate) labels: SmallVec<[(Span, Span); 8]>,
    /// Value of `push_time_seconds` (0: never) and that family's time.
    pub(crate) push_ms: i64,
    pub(crate) push_family_ms: i64,
    /// Value of `push_failure_time_seconds` (0: never) and that family's time.
    pub(crate) fail_ms: i64,
    pub(crate) fail_family_ms: i64,
    pub(crate) arena: Vec<u8>,
    /// Sorted by name, names unique.
    pub(crate) families: Vec<Fam>,
    pub(crate) series: Vec<Ser>,
}

/// Label as the builder takes it: name (a valid label name) and raw value.
pub(crate) type Label<'a> = (&'a [u8], &'a [u8]);

impl Group {
    /// Makes this group a copy of `src` in its own buffers, which grow to what `src` needs
    /// plus a sixteenth (not by doubling) and give memory back when they hold more than twice
    /// that. A stored group so holds about its own size, whatever buffers it was built in.
    pub(crate) fn assign(&mut self, src: &Group) {
        copy_tight(&mut self.key, &src.key);
        self.labels.clone_from(&src.labels);
        self.push_ms = src.push_ms;
        self.push_family_ms = src.push_family_ms;
        self.fail_ms = src.fail_ms;
        self.fail_family_ms = src.fail_family_ms;
        copy_tight(&mut self.arena, &src.arena);
        copy_tight(&mut self.families, &src.families);
        copy_tight(&mut self.series, &src.series);
    }

    /// Clears the group and sets its grouping key. Keeps every buffer.
    pub(crate) fn reset<'l>(&mut self, labels: impl Iterator<Item = Label<'l>>) {
        self.key.clear();
        self.labels.clear();
        for (n, v) in labels {
            if !self.key.is_empty() {
                self.key.push(0xff);
            }
            let n0 = self.key.len() as u32;
            self.key.extend_from_slice(n);
            let n1 = self.key.len() as u32;
            self.key.push(0xff);
            let v0 = self.key.len() as u32;
            self.key.extend_from_slice(v);
            self.labels.push(((n0, n1), (v0, self.key.len() as u32)));
        }
        self.push_ms = 0;
        self.push_family_ms = 0;
        self.fail_ms = 0;
        self.fail_family_ms = 0;
        self.arena.clear();
        self.families.clear();
        self.series.clear();
    }

    /// The grouping labels, sorted by name.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = Label<'_>> + Clone + '_ {
        self.labels.iter().map(|&(n, v)| (get(&self.key, n), get(&self.key, v)))
    }

    /// The grouping key bytes (`name FF value FF ...`).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    pub(crate) fn get(&self, s: Span) -> &[u8] {
        get(&self.arena, s)
    }

    pub(crate) fn name(&self, f: &Fam) -> &[u8] {
        self.get(f.name)
    }

    pub(crate) fn family_series(&self, f: &Fam) -> &[Ser] {
        &self.series[f.series.0 as usize..f.series.1 as usize]
    }

    /// Starts a family; series follow through [`Group::add_series`], then
    /// [`Group::end_family`]. `help` is unescaped.
    pub(crate) fn begin_family(
        &mut self,
        name: &[u8],
        help: Option<&[u8]>,
        kind: Type,
        time_ms: i64,
        extra: &[u8],
    ) {
        let name = self.put(name);
        let help = help.map(|h| self.put(h));
        let extra = self.put(extra);
        let at = self.series.len() as u32;
        self.families.push(Fam { name, help, kind, time_ms, series: (at, at), extra, fresh: true });
    }

    /// Appends raw protobuf fields to the open family's kept fields; only before its first
    /// series.
    pub(crate) fn append_extra(&mut self, raw: &[u8]) {
        let Some(fam) = self.families.last_mut() else { return };
        if fam.series.0 != fam.series.1 || fam.extra.1 as usize != self.arena.len() {
            return;
        }
        self.arena.extend_from_slice(raw);
        fam.extra.1 = self.arena.len() as u32;
    }

    fn put(&mut self, b: &[u8]) -> Span {
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(b);
        (start, self.arena.len() as u32)
    }

    /// Adds a series to the open family: `labels` sorted by name, `text` writes its lines and
    /// `proto` its `Metric` fields after the labels.
    pub(crate) fn add_series(
        &mut self,
        labels: &[Label<'_>],
        text: impl FnOnce(&mut Vec<u8>),
        proto_value: impl FnOnce(&mut Vec<u8>),
    ) {
        let Some(fam) = self.families.last_mut() else { return };
        fam.series.1 += 1;
        let name = fam.name;
        let at = self.arena.len() as u32;
        text(&mut self.arena);
        let text_end = self.arena.len() as u32;
        write_labels_proto(&mut self.arena, labels);
        let labels_end = self.arena.len() as u32;
        proto_value(&mut self.arena);
        let end = self.arena.len() as u32;
        let pairs = get(&self.arena, (text_end, labels_end));
        let hash = series_hash(get(&self.arena, name), pairs);
        self.series.push(Ser { prefix: prefix(labels), hash, at, text_end, labels_end, end });
    }

    /// Closes the open family: sorts its series by key and returns the first duplicate, if any
    /// (duplicates are kept, the first pushed first).
    pub(crate) fn end_family(&mut self) -> Option<Ser> {
        let fam = *self.families.last()?;
        let Group { arena, series, .. } = self;
        let s = &mut series[fam.series.0 as usize..fam.series.1 as usize];
        let before = |a: &Ser, b: &Ser| {
            a.prefix
                .cmp(&b.prefix)
                .then_with(|| cmp_labels(get(arena, a.labels()), get(arena, b.labels())))
                .then(a.at.cmp(&b.at))
        };
        if !s.is_sorted_by(|a, b| before(a, b).is_le()) {
            // Unstable, in place, without allocating; the arena offset keeps push order
            // among equal keys.
            s.sort_unstable_by(before);
        }
        s.windows(2)
            .find(|w| {
                w[0].prefix == w[1].prefix && get(arena, w[0].labels()) == get(arena, w[1].labels())
            })
            .map(|w| w[1])
    }

    /// Adds the two push-time gauges with the group's current values.
    pub(crate) fn add_synthetic(&mut self) {
        for (name, help, value_ms, family_ms) in [
            (PUSH_FAILURE_TIME, PUSH_FAILURE_TIME_HELP, self.fail_ms, self.fail_family_ms),
            (PUSH_TIME, PUSH_TIME_HELP, self.push_ms, self.push_family_ms),
        ] {
            self.begin_family(name.as_bytes(), Some(help.as_bytes()), Type::Gauge, family_ms, b"");
            // The grouping labels plus `instance=""` when the key has no instance.
            let key = std::mem::take(&mut self.key);
            let mut labels: SmallVec<[Label<'_>; 10]> =
                self.labels.iter().map(|&(n, v)| (get(&key, n), get(&key, v))).collect();
            if !labels.iter().any(|(n, _)| *n == b"instance") {
                let at = labels.partition_point(|(n, _)| *n < &b"instance"[..]);
                labels.insert(at, (b"instance", b""));
            }
            let v = value_ms as f64 / 1e3;
            self.add_series(
                &labels,
                |out| text_simple(out, name.as_bytes(), &labels, v),
                |out| simple_proto(out, Type::Gauge, v),
            );
            drop(labels);
            self.key = key;
            self.end_family();
        }
    }

    /// Sorts families by name. Names must be unique.
    pub(crate) fn sort_families(&mut self) {
        let Group { arena, families, .. } = self;
        if !families.is_sorted_by(|a, b| get(arena, a.name) <= get(arena, b.name)) {
            families.sort_unstable_by(|a, b| get(arena, a.name).cmp(get(arena, b.name)));
        }
    }

    /// The family named `name`, by binary search.
    pub(crate) fn find(&self, name: &[u8]) -> Option<&Fam> {
        let i = self.families.binary_search_by(|f| self.get(f.name).cmp(name)).ok()?;
        self.families.get(i)
    }

    /// Copies family `f` of `from` (with its series) into this group.
    pub(crate) fn copy_family(&mut self, from: &Group, f: &Fam) {
        let base = self.arena.len() as i64 - i64::from(f.name.0);
        let lo = f.name.0;
        // A family's bytes are contiguous (name, help, kept fields, then its series in push
        // order); sorting reordered the series records, not the bytes.
        let hi = from.family_series(f).iter().map(|s| s.end).fold(f.extra.1, u32::max);
        self.arena.extend_from_slice(get(&from.arena, (lo, hi)));
        let at = |o: u32| (i64::from(o) + base) as u32;
        let shift = |s: Span| (at(s.0), at(s.1));
        let first = self.series.len() as u32;
        for s in from.family_series(f) {
            self.series.push(Ser {
                at: at(s.at),
                text_end: at(s.text_end),
                labels_end: at(s.labels_end),
                end: at(s.end),
                ..*s
            });
        }
        self.families.push(Fam {
            name: shift(f.name),
            help: f.help.map(shift),
            extra: shift(f.extra),
            series: (first, self.series.len() as u32),
            fresh: false,
            ..*f
        });
    }
}

/// Copies `src` into `dst`, growing it to `src.len()` and a sixteenth when it is too small and
/// shrinking it when it is more than twice as large (plus a little). The margins are for
/// groups whose size wobbles from push to push (values gaining a digit): without them every
/// such change would reallocate, and the buffers left behind, each a little too small for
/// the next group's, fragment the heap.
fn copy_tight<T: Copy>(dst: &mut Vec<T>, src: &[T]) {
    dst.clear();
    if dst.capacity() > 2 * src.len() + 64 {
        dst.shrink_to(src.len() + src.len() / 16);
    }
    if dst.capacity() < src.len() {
        dst.reserve_exact(src.len() + src.len() / 16);
    }
    dst.extend_from_slice(src);
}

fn get(buf: &[u8], s: Span) -> &[u8] {
    buf.get(s.0 as usize..s.1 as usize).unwrap_or_default()
}

/// The first eight bytes of `b`, big-endian and zero-padded: orders as `b` does where it
/// differs.
pub(crate) fn name_prefix(b: &[u8]) -> u64 {
    let mut p = [0u8; 8];
    let n = b.len().min(8);
    p[..n].copy_from_slice(&b[..n]);
    u64::from_be_bytes(p)
}

/// A 64-bit summary of a series' labels that orders as [`cmp_labels`] does where it differs:
/// the label count in the top 16 bits, then the first label value's first six bytes,
/// zero-padded (a shorter value is a prefix of the longer, so it sorts first either way).
pub(crate) fn prefix(labels: &[Label<'_>]) -> u64 {
    let mut p = [0u8; 8];
    p[..2].copy_from_slice(&u16::try_from(labels.len()).unwrap_or(u16::MAX).to_be_bytes());
    if let Some((_, v)) = labels.first() {
        let n = v.len().min(6);
        p[2..2 + n].copy_from_slice(&v[..n]);
    }
    u64::from_be_bytes(p)
}

/// A series' identity: family name and `LabelPair` bytes (which hold every label).
pub(crate) fn series_hash(name: &[u8], pairs: &[u8]) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    h.write(name);
    h.write_u8(0xff);
    h.write(pairs);
    h.finish()
}

/// A length-delimited field of `b` at `*at` (key byte, varint length, bytes), as the
/// builder writes them; `None` at the end or past a malformed field.
fn delimited<'a>(b: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let mut i = *at + 1;
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let byte = *b.get(i)?;
        i += 1;
        len |= usize::from(byte & 0x7f) << shift;
        if byte < 0x80 || shift > 56 {
            break;
        }
        shift += 7;
    }
    let field = b.get(i..i.checked_add(len)?)?;
    *at = i + len;
    Some(field)
}

/// Each `LabelPair` of `pairs` as (name, value): the builder writes both fields, name first.
fn label_pairs(pairs: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let lp = delimited(pairs, &mut at)?;
        let mut i = 0;
        let n = delimited(lp, &mut i)?;
        let v = delimited(lp, &mut i)?;
        Some((n, v))
    })
}

/// Orders two series' `LabelPair` bytes as client_golang orders metrics within a family: by
/// number of labels, then by values in label-name order, then by names; equal only when the
/// bytes are. One pass over both.
pub(crate) fn cmp_labels(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Equal, Greater, Less};
    if a == b {
        return Equal;
    }
    let (mut pa, mut pb) = (label_pairs(a), label_pairs(b));
    let (mut values, mut names) = (Equal, Equal);
    loop {
        match (pa.next(), pb.next()) {
            (Some((na, va)), Some((nb, vb))) => {
                if values == Equal {
                    values = va.cmp(vb);
                }
                if names == Equal {
                    names = na.cmp(nb);
                }
            }
            (None, None) => return values.then(names),
            // Different counts: fewer labels first, whatever the values.
            (None, Some(_)) => return Less,
            (Some(_), None) => return Greater,
        }
    }
}

fn write_labels_proto(out: &mut Vec<u8>, labels: &[Label<'_>]) {
    for (n, v) in labels {
        proto::put_key(out, 1, proto::LEN);
        proto::put_varint(
            out,
            (proto::varint_len(n.len() as u64)
                + n.len()
                + 2
                + proto::varint_len(v.len() as u64)
                + v.len()) as u64,
        );
        proto::put_bytes(out, 1, n);
        proto::put_bytes(out, 2, v);
    }
}

/// Label names are checked to be ASCII before anything is encoded.
fn as_str(n: &[u8]) -> &str {
    std::str::from_utf8(n).unwrap_or_default()
}

fn labels_iter<'a>(labels: &'a [Label<'a>]) -> impl Iterator<Item = encode::Label<'a>> + 'a {
    labels.iter().map(|&(n, v)| (as_str(n), v))
}

/// The line of a counter, gauge or untyped sample.
pub(crate) fn text_simple(out: &mut Vec<u8>, name: &[u8], labels: &[Label<'_>], v: f64) {
    encode::write_series(out, name, "", labels_iter(labels), None);
    float::write_value(out, v);
    out.push(b'\n');
}

/// A summary's lines: quantiles in order, `_sum`, `_count`.
pub(crate) fn text_summary(
    out: &mut Vec<u8>,
    name: &[u8],
    labels: &[Label<'_>],
    quantiles: impl Iterator<Item = (f64, f64)>,
    sum: f64,
    count: u64,
) {
    for (q, v) in quantiles {
        encode::write_series(out, name, "", labels_iter(labels), Some(("quantile", q)));
        float::write_value(out, v);
        out.push(b'\n');
    }
    sum_count(out, name, labels, sum, count);
}

/// A histogram's lines: buckets in order, `+Inf` if none was given, `_sum`, `_count`.
pub(crate) fn text_histogram(
    out: &mut Vec<u8>,
    name: &[u8],
    labels: &[Label<'_>],
    buckets: impl Iterator<Item = (f64, u64)>,
    sum: f64,
    count: u64,
) {
    let mut inf = false;
    for (le, n) in buckets {
        encode::write_series(out, name, "_bucket", labels_iter(labels), Some(("le", le)));
        float::write_u64(out, n);
        out.push(b'\n');
        inf |= le == f64::INFINITY;
    }
    if !inf {
        encode::write_series(
            out,
            name,
            "_bucket",
            labels_iter(labels),
            Some(("le", f64::INFINITY)),
        );
        float::write_u64(out, count);
        out.push(b'\n');
    }
    sum_count(out, name, labels, sum, count);
}

fn sum_count(out: &mut Vec<u8>, name: &[u8], labels: &[Label<'_>], sum: f64, count: u64) {
    encode::write_series(out, name, "_sum", labels_iter(labels), None);
    float::write_value(out, sum);
    out.push(b'\n');
    encode::write_series(out, name, "_count", labels_iter(labels), None);
    float::write_u64(out, count);
    out.push(b'\n');
}

/// The `Metric` value field of a counter, gauge or untyped sample.
pub(crate) fn simple_proto(out: &mut Vec<u8>, kind: Type, v: f64) {
    proto::put_key(out, kind.field(), proto::LEN);
    out.push(9);
    proto::put_f64(out, 1, v);
}

/// A summary's `Metric` field.
pub(crate) fn summary_proto(
    out: &mut Vec<u8>,
    count: u64,
    sum: f64,
    quantiles: impl Iterator<Item = (f64, f64)>,
) {
    let at = proto::begin_nested(out, Type::Summary.field());
    proto::put_uvarint(out, 1, count);
    proto::put_f64(out, 2, sum);
    for (q, v) in quantiles {
        proto::put_key(out, 3, proto::LEN);
        out.push(18);
        proto::put_f64(out, 1, q);
        proto::put_f64(out, 2, v);
    }
    proto::end_nested(out, at);
}

/// A classic histogram's `Metric` field.
pub(crate) fn histogram_proto(
    out: &mut Vec<u8>,
    kind: Type,
    count: u64,
    sum: f64,
    buckets: impl Iterator<Item = (f64, u64)>,
) {
    let at = proto::begin_nested(out, kind.field());
    proto::put_uvarint(out, 1, count);
    proto::put_f64(out, 2, sum);
    for (le, n) in buckets {
        let b = proto::begin_nested(out, 3);
        proto::put_uvarint(out, 1, n);
        proto::put_f64(out, 2, le);
        proto::end_nested(out, b);
    }
    proto::end_nested(out, at);
}

/// Numbers read back from value sub-messages, for text lines and the JSON API. Several
/// occurrences of a sub-message merge as protobuf merges them: scalars last-wins, repeated
/// fields appended.
#[derive(Debug, Default)]
pub(crate) struct Values {
    pub value: f64,
    pub count: u64,
    pub count_float: f64,
    pub sum: f64,
    /// Quantiles (quantile, value) or buckets (upper bound, count as u64 bits or float).
    pub points: SmallVec<[(f64, u64, f64); 16]>,
    /// Whether the histogram has native-histogram spans.
    pub native: bool,
}

impl Values {
    /// Reads every sub-message in `subs` (raw `Metric` fields of the value's type).
    pub(crate) fn read<'a>(&mut self, kind: Type, subs: impl Iterator<Item = &'a [u8]>) {
        // Field by field, so that `points` keeps its buffer once it has spilled.
        self.value = 0.0;
        self.count = 0;
        self.count_float = 0.0;
        self.sum = 0.0;
        self.points.clear();
        self.native = false;
        for sub in subs {
            let mut r = Reader::new(sub);
            while let Ok(Some(f)) = r.next_field() {
                match (kind, f.number, f.value) {
                    (Type::Counter | Type::Gauge | Type::Untyped, 1, FieldValue::Fixed64(b)) => {
                        self.value = f64::from_bits(b)
                    }
                    (
                        Type::Summary | Type::Histogram | Type::GaugeHistogram,
                        1,
                        FieldValue::Varint(n),
                    ) => self.count = n,
                    (
                        Type::Summary | Type::Histogram | Type::GaugeHistogram,
                        2,
                        FieldValue::Fixed64(b),
                    ) => self.sum = f64::from_bits(b),
                    (Type::Histogram | Type::GaugeHistogram, 4, FieldValue::Fixed64(b)) => {
                        self.count_float = f64::from_bits(b)
                    }
                    (Type::Histogram | Type::GaugeHistogram, 9 | 12, _) => self.native = true,
                    (Type::Summary, 3, FieldValue::Bytes(q)) => {
                        let (mut qv, mut v) = (0.0, 0.0);
                        let mut r = Reader::new(q);
                        while let Ok(Some(f)) = r.next_field() {
                            match (f.number, f.value.f64()) {
                                (1, Some(x)) => qv = x,
                                (2, Some(x)) => v = x,
                                _ => {}
                            }
                        }
                        self.points.push((qv, 0, v));
                    }
                    (Type::Histogram | Type::GaugeHistogram, 3, FieldValue::Bytes(b)) => {
                        let (mut le, mut n, mut nf) = (0.0, 0, 0.0);
                        let mut r = Reader::new(b);
                        while let Ok(Some(f)) = r.next_field() {
                            match (f.number, f.value) {
                                (1, FieldValue::Varint(x)) => n = x,
                                (2, FieldValue::Fixed64(x)) => le = f64::from_bits(x),
                                (4, FieldValue::Fixed64(x)) => nf = f64::from_bits(x),
                                _ => {}
                            }
                        }
                        self.points.push((le, n, nf));
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Writes `name` plus `help` as a `# HELP` line (escaped) and the `# TYPE` line.
pub(crate) fn text_head(out: &mut Vec<u8>, name: &[u8], help: Option<&[u8]>, kind: &str) {
    if let Some(help) = help {
        out.extend_from_slice(b"# HELP ");
        out.extend_from_slice(name);
        out.push(b' ');
        escape_help(out, help);
        out.push(b'\n');
    }
    out.extend_from_slice(b"# TYPE ");
    out.extend_from_slice(name);
    out.push(b' ');
    out.extend_from_slice(kind.as_bytes());
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;

    /// Label sets as the builder gets them (sorted by name, names unique), drawn from few
    /// bytes so that values and names often share prefixes, with NULs, and now and then a
    /// value long enough for a two-byte length.
    fn label_set() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
        let byte = || prop_oneof![Just(0u8), Just(b'a'), Just(b'b'), Just(0xff)];
        let value = prop_oneof![
            4 => vec(byte(), 0..10),
            1 => (vec(byte(), 0..4), 120..200usize).prop_map(|(mut v, n)| {
                v.resize(n, b'a');
                v
            }),
        ];
        btree_map(vec(byte(), 0..10), value, 0..4).prop_map(|m| m.into_iter().collect())
    }

    fn pairs(labels: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let l: Vec<Label<'_>> = labels.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        let mut out = Vec::new();
        write_labels_proto(&mut out, &l);
        out
    }

    proptest! {
        /// cmp_labels against the order spelled out: count, then values, then names; and
        /// the prefix never contradicts it.
        #[test]
        fn label_order(a in label_set(), b in label_set()) {
            let values = |l: &[(Vec<u8>, Vec<u8>)]| l.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>();
            let names = |l: &[(Vec<u8>, Vec<u8>)]| l.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
            let want = (a.len(), values(&a), names(&a)).cmp(&(b.len(), values(&b), names(&b)));
            prop_assert_eq!(cmp_labels(&pairs(&a), &pairs(&b)), want);
            let prefix_of = |l: &[(Vec<u8>, Vec<u8>)]| {
                prefix(&l.iter().map(|(n, v)| (&n[..], &v[..])).collect::<Vec<_>>())
            };
            let p = prefix_of(&a).cmp(&prefix_of(&b));
            prop_assert!(p == want || p.is_eq(), "prefix {p:?}, order {want:?}");
            prop_assert_eq!(pairs(&a) == pairs(&b), want.is_eq());
        }
    }

    fn text(g: &Group) -> String {
        let mut out = String::new();
        for f in &g.families {
            for s in g.family_series(f) {
                out.push_str(std::str::from_utf8(g.get(s.text())).unwrap());
            }
        }
        out
    }

    #[test]
    fn series_sorted_by_count_then_values_then_names() {
        let mut g = Group::default();
        g.reset([(&b"job"[..], &b"j"[..])].into_iter());
        g.begin_family(b"m", None, Type::Gauge, 1, b"");
        for labels in [
            &[(&b"a"[..], &b"2"[..]), (b"job", b"j")][..],
            &[(b"b", b"1"), (b"job", b"j")],
            &[(b"a", b"1"), (b"job", b"j")],
            &[(b"job", b"j")],
        ] {
            g.add_series(
                labels,
                |o| text_simple(o, b"m", labels, 1.0),
                |o| simple_proto(o, Type::Gauge, 1.0),
            );
        }
        assert!(g.end_family().is_none());
        assert_eq!(
            text(&g),
            "m{job=\"j\"} 1\nm{a=\"1\",job=\"j\"} 1\nm{b=\"1\",job=\"j\"} 1\nm{a=\"2\",job=\"j\"} 1\n"
        );
    }

    #[test]
    fn duplicates_found_first_kept() {
        let mut g = Group::default();
        g.reset([(&b"job"[..], &b"j"[..])].into_iter());
        g.begin_family(b"d", None, Type::Untyped, 1, b"");
        let labels = [(&b"job"[..], &b"j"[..])];
        g.add_series(
            &labels,
            |o| text_simple(o, b"d", &labels, 1.0),
            |o| simple_proto(o, Type::Untyped, 1.0),
        );
        g.add_series(
            &labels,
            |o| text_simple(o, b"d", &labels, 2.0),
            |o| simple_proto(o, Type::Untyped, 2.0),
        );
        assert!(g.end_family().is_some());
        assert_eq!(text(&g), "d{job=\"j\"} 1\nd{job=\"j\"} 2\n");
    }

    #[test]
    fn synthetic_gauges_and_copies() {
        let mut g = Group::default();
        g.reset([(&b"a"[..], &b"x\0y"[..]), (b"job", b"j")].into_iter());
        g.push_ms = 1_700_000_000_123;
        g.add_synthetic();
        assert_eq!(
            text(&g),
            "push_failure_time_seconds{a=\"x\0y\",instance=\"\",job=\"j\"} 0\n\
             push_time_seconds{a=\"x\0y\",instance=\"\",job=\"j\"} 1.700000000123e+09\n"
        );
        let mut h = Group::default();
        h.reset(g.labels());
        for f in g.families.clone() {
            h.arena.extend_from_slice(b"pad");
            h.copy_family(&g, &f);
        }
        assert_eq!(text(&h), text(&g));
        assert_eq!(h.find(b"push_time_seconds").map(|f| f.kind), Some(Type::Gauge));
        assert!(h.find(b"nope").is_none());
    }

    #[test]
    fn values_read_back() {
        let mut out = Vec::new();
        histogram_proto(&mut out, Type::Histogram, 7, 2.5, [(0.5, 3), (1.0, 7)].into_iter());
        let mut r = Reader::new(&out);
        let f = r.next_field().unwrap().unwrap();
        let mut v = Values::default();
        v.read(Type::Histogram, [f.value.bytes().unwrap()].into_iter());
        assert_eq!((v.count, v.sum, v.points.len()), (7, 2.5, 2));
        assert_eq!(v.points[1], (1.0, 7, 0.0));
    }
}
