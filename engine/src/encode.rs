//! The text exposition format 0.0.4, laid out exactly as client_golang's registry and
//! `expfmt` write it.
//!
//! Collectors hand samples to an [`Encoder`] in whatever order they scan them. Each sample is
//! rendered at once into a line arena together with a sort key; [`Encoder::finish`] then orders
//! families byte-wise by name and each family's metrics by label values in label-name order
//! (client_golang's `MetricSorter`), drops later duplicates of a series as the registry does, and
//! writes `# HELP`/`# TYPE` headers followed by the lines. Families with no samples are left out.
//!
//! # Implementation notes
//!
//! All storage lives in `Vec`s owned by the encoder and is cleared, not freed, between scrapes:
//! after the first scrape of a given size nothing is allocated. Sorting uses `sort_unstable`
//! (in place) over `u32` indices, with the emission index as a tie-break so that the first of
//! two equal series wins, as in the registry.

use crate::float;
use smallvec::SmallVec;

/// A label: name and raw (unescaped) value.
pub type Label<'a> = (&'a str, &'a [u8]);

/// The metric type a family declares in its `# TYPE` line.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Kind {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `untyped`
    Untyped,
    /// `summary`
    Summary,
    /// `histogram`
    Histogram,
}

impl Kind {
    /// The word used in `# TYPE` lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Untyped => "untyped",
            Kind::Summary => "summary",
            Kind::Histogram => "histogram",
        }
    }
}

/// A family declared in the current scrape; samples are added through it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct FamilyId(u32);

impl FamilyId {
    /// The id of a family whose declaration clashed with an earlier one (other HELP or type):
    /// its samples are dropped, as the registry drops them.
    const REJECTED: FamilyId = FamilyId(u32::MAX);

    /// Whether samples added through this id are dropped.
    pub fn is_rejected(self) -> bool {
        self == FamilyId::REJECTED
    }
}

/// A point to roll back to when a scan fails half-way (see [`Encoder::rollback`]).
#[derive(Clone, Copy, Debug)]
pub struct Checkpoint {
    metrics: usize,
    lines: usize,
    keys: usize,
}

#[derive(Clone, Copy, Debug)]
struct Family {
    /// Name, within `heads`.
    name: (u32, u32),
    /// HELP text (escaped), within `heads`.
    help: (u32, u32),
    kind: Kind,
    /// Metrics added so far in this scrape.
    count: u32,
}

/// One client_golang `dto.Metric`: a series, or all lines of one summary or histogram.
#[derive(Clone, Copy, Debug)]
struct Metric {
    /// The key's first eight bytes, big-endian and zero-padded: most comparisons while
    /// sorting are settled by this alone, without touching the key arena.
    prefix: u64,
    family: u32,
    /// Rendered lines, within `lines`.
    line: (u32, u32),
    /// Sort key, within `keys`: the label count, then each value escaped so that plain byte
    /// order of keys is the registry's order (see [`push_key_value`]).
    key: (u32, u32),
}

/// Collects one scrape's families and samples and writes them out in exposition order.
#[derive(Debug, Default)]
pub struct Encoder {
    heads: Vec<u8>,
    lines: Vec<u8>,
    keys: Vec<u8>,
    families: Vec<Family>,
    metrics: Vec<Metric>,
    index: NameIndex,
    /// The last `finish`'s family order, kept: the next one tries it first.
    order: Vec<u32>,
    /// Scratch for `finish`: metric order.
    slots: Vec<u32>,
    sorting: Vec<(u64, u32)>,
    /// Scratch for `absorb`: the other encoder's family ids mapped to ours.
    remap: Vec<u32>,
    /// Samples dropped in this scrape: duplicate series and clashing families.
    dropped: u32,
}

impl Encoder {
    /// An empty encoder. Allocates nothing until the first family.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// Forgets the previous scrape, keeping every buffer's capacity.
    pub fn clear(&mut self) {
        let (lines, keys) = (self.lines.len(), self.keys.len());
        self.heads.clear();
        self.lines.clear();
        self.keys.clear();
        keep_spare(&mut self.lines, 0, lines);
        keep_spare(&mut self.keys, 0, keys);
        self.families.clear();
        self.metrics.clear();
        self.index.clear();
        self.dropped = 0;
    }

    /// Series dropped so far in this scrape (duplicates, clashing declarations).
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// Declares (or finds) the family `name` with its HELP text and type.
    ///
    /// A family declared again with the same HELP and type is the same family, so collectors
    /// may share names as they do upstream. A clash returns a rejected id whose samples are
    /// dropped, as client_golang drops a metric whose HELP or type differs from the first one
    /// gathered under that name.
    pub fn family(&mut self, name: &str, help: &str, kind: Kind) -> FamilyId {
        self.family_parts(&[name.as_bytes()], &[help.as_bytes()], kind)
    }

    /// [`Encoder::family`] with the name and the HELP text given as parts to concatenate, for
    /// families named after what a file contains (`node_memory_` + key + `_bytes`).
    pub fn family_parts(&mut self, name: &[&[u8]], help: &[&[u8]], kind: Kind) -> FamilyId {
        self.declare(name, Help::Raw(help), kind)
    }

    fn declare(&mut self, name: &[&[u8]], help: Help<'_>, kind: Kind) -> FamilyId {
        let start = self.heads.len();
        for part in name {
            self.heads.extend_from_slice(part);
        }
        let name_range = (start as u32, self.heads.len() as u32);
        let hash = hash(&self.heads[start..]);
        let found = self.index.find(hash, |id| {
            let f = self.families[id as usize].name;
            self.heads[f.0 as usize..f.1 as usize] == self.heads[start..]
        });
        if let Some(id) = found {
            // Compare the new HELP with the stored one without keeping the new name.
            self.heads.truncate(start);
            let help_start = self.heads.len();
            help.write(&mut self.heads);
            let f = self.families[id as usize];
            let same = f.kind == kind
                && self.heads[f.help.0 as usize..f.help.1 as usize] == self.heads[help_start..];
            self.heads.truncate(help_start);
            if same {
                return FamilyId(id);
            }
            self.dropped += 1;
            return FamilyId::REJECTED;
        }
        let help_start = self.heads.len();
        help.write(&mut self.heads);
        let id = self.families.len() as u32;
        self.families.push(Family {
            name: name_range,
            help: (help_start as u32, self.heads.len() as u32),
            kind,
            count: 0,
        });
        self.index.insert(hash, id);
        FamilyId(id)
    }

    /// Adds every sample of `other`, as if each had been added here in the same order: the
    /// output of a collector that ran with its own encoder on another thread. Families are
    /// matched by name as [`Encoder::family`] matches them; samples of a family whose
    /// declaration clashes with one here are dropped. Allocates only to grow buffers.
    pub fn absorb(&mut self, other: &Encoder) {
        self.remap.clear();
        self.remap.resize(other.families.len(), u32::MAX);
        for m in &other.metrics {
            let slot = m.family as usize;
            if self.remap[slot] == u32::MAX {
                let f = other.families[slot];
                let name = &other.heads[f.name.0 as usize..f.name.1 as usize];
                let help = &other.heads[f.help.0 as usize..f.help.1 as usize];
                self.remap[slot] = self.declare(&[name], Help::Escaped(help), f.kind).0;
            }
            let family = FamilyId(self.remap[slot]);
            if family.is_rejected() {
                self.dropped += 1;
                continue;
            }
            let line_start = self.lines.len();
            self.lines.extend_from_slice(&other.lines[m.line.0 as usize..m.line.1 as usize]);
            let key_start = self.keys.len();
            self.keys.extend_from_slice(&other.keys[m.key.0 as usize..m.key.1 as usize]);
            self.families[family.0 as usize].count += 1;
            self.metrics.push(Metric {
                prefix: m.prefix,
                family: family.0,
                line: (line_start as u32, self.lines.len() as u32),
                key: (key_start as u32, self.keys.len() as u32),
            });
        }
    }

    /// Adds a sample of a counter, gauge or untyped family.
    pub fn sample(&mut self, family: FamilyId, labels: &[Label<'_>], value: f64) {
        self.sample_with(family, labels, |out| float::write_value(out, value));
    }

    /// [`Encoder::sample`] for an integer value, written as the Go client writes
    /// `float64(value)`.
    pub fn sample_u64(&mut self, family: FamilyId, labels: &[Label<'_>], value: u64) {
        self.sample_with(family, labels, |out| float::write_u64(out, value));
    }

    fn sample_with(
        &mut self,
        family: FamilyId,
        labels: &[Label<'_>],
        write: impl FnOnce(&mut Vec<u8>),
    ) {
        if family.is_rejected() {
            self.dropped += 1;
            return;
        }
        let labels = sorted(labels);
        let line_start = self.lines.len();
        self.write_series(family, "", &labels, None);
        write(&mut self.lines);
        self.lines.push(b'\n');
        self.push_metric(family, &labels, line_start);
    }

    /// Adds one summary: its quantile lines (in the order given), `_sum` and `_count`.
    pub fn summary(
        &mut self,
        family: FamilyId,
        labels: &[Label<'_>],
        quantiles: &[(f64, f64)],
        sum: f64,
        count: u64,
    ) {
        if family.is_rejected() {
            self.dropped += 1;
            return;
        }
        let labels = sorted(labels);
        let line_start = self.lines.len();
        for &(q, v) in quantiles {
            self.write_series(family, "", &labels, Some(("quantile", q)));
            float::write_value(&mut self.lines, v);
            self.lines.push(b'\n');
        }
        self.write_sum_count(family, &labels, sum, count);
        self.push_metric(family, &labels, line_start);
    }

    /// Adds one histogram: `_bucket` lines for the `(upper bound, cumulative count)` pairs
    /// given, a `+Inf` bucket if none was given, then `_sum` and `_count`.
    pub fn histogram(
        &mut self,
        family: FamilyId,
        labels: &[Label<'_>],
        buckets: &[(f64, u64)],
        sum: f64,
        count: u64,
    ) {
        if family.is_rejected() {
            self.dropped += 1;
            return;
        }
        let labels = sorted(labels);
        let line_start = self.lines.len();
        let mut inf_seen = false;
        for &(le, n) in buckets {
            self.write_series(family, "_bucket", &labels, Some(("le", le)));
            float::write_u64(&mut self.lines, n);
            self.lines.push(b'\n');
            inf_seen |= le == f64::INFINITY;
        }
        if !inf_seen {
            self.write_series(family, "_bucket", &labels, Some(("le", f64::INFINITY)));
            float::write_u64(&mut self.lines, count);
            self.lines.push(b'\n');
        }
        self.write_sum_count(family, &labels, sum, count);
        self.push_metric(family, &labels, line_start);
    }

    fn write_sum_count(&mut self, family: FamilyId, labels: &[Label<'_>], sum: f64, count: u64) {
        self.write_series(family, "_sum", labels, None);
        float::write_value(&mut self.lines, sum);
        self.lines.push(b'\n');
        self.write_series(family, "_count", labels, None);
        float::write_u64(&mut self.lines, count);
        self.lines.push(b'\n');
    }

    /// Writes `name{labels} ` into the line arena.
    fn write_series(
        &mut self,
        family: FamilyId,
        suffix: &str,
        labels: &[Label<'_>],
        extra: Option<(&str, f64)>,
    ) {
        let f = self.families[family.0 as usize];
        let name = &self.heads[f.name.0 as usize..f.name.1 as usize];
        write_series(&mut self.lines, name, suffix, labels.iter().copied(), extra);
    }

    fn push_metric(&mut self, family: FamilyId, labels: &[Label<'_>], line_start: usize) {
        let key_start = self.keys.len();
        self.keys.push(labels.len().min(255) as u8);
        for (_, value) in labels {
            push_key_value(&mut self.keys, value);
        }
        self.families[family.0 as usize].count += 1;
        let key = &self.keys[key_start..];
        let mut prefix = [0u8; 8];
        let n = key.len().min(8);
        prefix[..n].copy_from_slice(&key[..n]);
        self.metrics.push(Metric {
            prefix: u64::from_be_bytes(prefix),
            family: family.0,
            line: (line_start as u32, self.lines.len() as u32),
            key: (key_start as u32, self.keys.len() as u32),
        });
    }

    /// Marks the current end of the scrape; see [`Encoder::rollback`].
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint { metrics: self.metrics.len(), lines: self.lines.len(), keys: self.keys.len() }
    }

    /// Drops every sample added since `cp`, so a scan that fails half-way leaves nothing
    /// behind. Families declared since stay declared but are not written without samples.
    pub fn rollback(&mut self, cp: Checkpoint) {
        for m in &self.metrics[cp.metrics..] {
            self.families[m.family as usize].count -= 1;
        }
        self.metrics.truncate(cp.metrics);
        self.lines.truncate(cp.lines);
        self.keys.truncate(cp.keys);
    }

    /// Writes the scrape's exposition to `out` (appending). Allocates only to grow `out` and
    /// the encoder's own scratch beyond their largest size so far.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let Encoder {
            heads, lines, keys, families, metrics, order, slots, sorting, dropped, ..
        } = self;
        // At most the lines, each name twice and HELP once, and the header words.
        keep_spare(out, out.len(), lines.len() + 2 * heads.len() + 32 * families.len());

        // Families in byte-wise name order, empty ones left out. Collectors declare the same
        // families in the same order every scrape, so the last order is checked in one pass
        // before sorting afresh: as many ids as non-empty families, each non-empty, with names
        // strictly rising (so no id twice) are exactly those families, in order.
        let name = |i: u32| {
            let f = families[i as usize].name;
            &heads[f.0 as usize..f.1 as usize]
        };
        let non_empty = |i: u32| families.get(i as usize).is_some_and(|f| f.count > 0);
        let live = families.iter().filter(|f| f.count > 0).count();
        let still = order.len() == live
            && order.iter().all(|&i| non_empty(i))
            && order.is_sorted_by(|&a, &b| name(a) < name(b));
        if !still {
            order.clear();
            order.extend((0..families.len() as u32).filter(|&i| non_empty(i)));
            if !order.is_sorted_by(|&a, &b| name(a) <= name(b)) {
                order.sort_unstable_by(|&a, &b| name(a).cmp(name(b)));
            }
        }

        // Metrics grouped by family with a counting sort, keeping emission order within each.
        // `slots` holds, per family, the next free position; then the grouped metric indices.
        let nfam = families.len();
        slots.clear();
        slots.resize(nfam + metrics.len(), 0);
        let (starts, grouped) = slots.split_at_mut(nfam);
        let mut at = 0u32;
        for &fi in order.iter() {
            starts[fi as usize] = at;
            at += families[fi as usize].count;
        }
        for (mi, m) in metrics.iter().enumerate() {
            let s = &mut starts[m.family as usize];
            grouped[*s as usize] = mi as u32;
            *s += 1;
        }

        let key = |mi: u32| {
            let k = metrics[mi as usize].key;
            &keys[k.0 as usize..k.1 as usize]
        };
        let mut begin = 0usize;
        for &fi in order.iter() {
            let f = families[fi as usize];
            let end = begin + f.count as usize;
            let group = &mut grouped[begin..end];
            begin = end;
            // Emission index breaks ties: the first of two equal series is kept.
            let before = |a: u32, b: u32| {
                let (ma, mb) = (&metrics[a as usize], &metrics[b as usize]);
                ma.prefix.cmp(&mb.prefix).then_with(|| key(a).cmp(key(b))).then(a.cmp(&b))
            };
            if !group.is_sorted_by(|&a, &b| before(a, b).is_le()) {
                sorting.clear();
                sorting.extend(group.iter().map(|&i| (metrics[i as usize].prefix, i)));
                sorting.sort_unstable_by(|a, b| {
                    a.0.cmp(&b.0).then_with(|| key(a.1).cmp(key(b.1))).then(a.1.cmp(&b.1))
                });
                for (slot, &(_, i)) in group.iter_mut().zip(sorting.iter()) {
                    *slot = i;
                }
            }

            let name = &heads[f.name.0 as usize..f.name.1 as usize];
            out.extend_from_slice(b"# HELP ");
            out.extend_from_slice(name);
            out.push(b' ');
            out.extend_from_slice(&heads[f.help.0 as usize..f.help.1 as usize]);
            out.extend_from_slice(b"\n# TYPE ");
            out.extend_from_slice(name);
            out.push(b' ');
            out.extend_from_slice(f.kind.as_str().as_bytes());
            out.push(b'\n');

            let mut prev: Option<&[u8]> = None;
            for &mi in group.iter() {
                let k = key(mi);
                if prev == Some(k) {
                    *dropped += 1;
                    continue;
                }
                prev = Some(k);
                let l = metrics[mi as usize].line;
                out.extend_from_slice(&lines[l.0 as usize..l.1 as usize]);
            }
        }
    }
}

/// Labels kept on the stack while sorting: node_exporter's widest family, `node_dmi_info`,
/// has 20. A sample with more (a textfile's) is sorted on the heap.
const INLINE_LABELS: usize = 20;

/// Writes the start of a sample line, `name` + `suffix` + `{labels[,extra]}` + a blank, as
/// client_golang's text writer lays it out: labels in the order given (callers sort them by
/// name), values escaped, the extra label (`quantile` or `le`) last with its value formatted as
/// a sample value. Braces are left out when there is no label at all. The value and the line
/// feed are the caller's. Allocates only if `out` must grow.
pub fn write_series<'l>(
    out: &mut Vec<u8>,
    name: &[u8],
    suffix: &str,
    labels: impl IntoIterator<Item = Label<'l>>,
    extra: Option<(&str, f64)>,
) {
    out.extend_from_slice(name);
    out.extend_from_slice(suffix.as_bytes());
    let mut sep = b'{';
    for (name, value) in labels {
        out.push(sep);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"=\"");
        escape_label_value(out, value);
        out.push(b'"');
        sep = b',';
    }
    if let Some((name, v)) = extra {
        out.push(sep);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"=\"");
        float::write_value(out, v);
        out.push(b'"');
        sep = b',';
    }
    if sep == b',' {
        out.push(b'}');
    }
    out.push(b' ');
}

/// Makes room in `buf` (holding `len` bytes) for `need` more, with slack: sample values change
/// length from scrape to scrape (`0` one time, `-1.234567e-06` the next), so a scrape may run a
/// few bytes past every earlier one. A buffer with less than an eighth to spare grows to twice
/// `need` at once, while the buffers grow to the host's size, so that such a scrape later
/// finds the room already there. Growth stays bounded by twice the largest scrape.
fn keep_spare(buf: &mut Vec<u8>, len: usize, need: usize) {
    if buf.capacity() - len < need + need / 8 {
        buf.reserve(2 * need);
    }
}

/// `labels` in name order: client_golang sorts a metric's label pairs by name. Labels already
/// in order, as collectors mostly give them, are used where they are rather than copied.
fn sorted<'s, 'a>(labels: &'s [Label<'a>]) -> Sorted<'s, 'a> {
    if labels.is_sorted_by(|a, b| a.0 <= b.0) {
        return Sorted::Given(labels);
    }
    let mut v: SmallVec<[Label<'a>; INLINE_LABELS]> = SmallVec::from_slice(labels);
    v.sort_unstable_by(|a, b| a.0.cmp(b.0));
    Sorted::Copied(v)
}

/// Labels in name order, borrowed as given or sorted into a copy.
// The copy's size is the point: it lives on the stack for one call, where a box would allocate.
#[allow(clippy::large_enum_variant)]
enum Sorted<'s, 'a> {
    Given(&'s [Label<'a>]),
    Copied(SmallVec<[Label<'a>; INLINE_LABELS]>),
}

impl<'a> std::ops::Deref for Sorted<'_, 'a> {
    type Target = [Label<'a>];

    fn deref(&self) -> &[Label<'a>] {
        match self {
            Sorted::Given(labels) => labels,
            Sorted::Copied(labels) => labels,
        }
    }
}

/// Appends a label value to a sort key so that comparing whole keys byte-wise compares the
/// values one by one: a value ends with `00 00`, and a NUL inside it becomes `00 FF`.
fn push_key_value(key: &mut Vec<u8>, mut v: &[u8]) {
    while let Some(i) = memchr::memchr(0, v) {
        key.extend_from_slice(&v[..=i]);
        key.push(0xff);
        v = &v[i + 1..];
    }
    key.extend_from_slice(v);
    key.extend_from_slice(&[0, 0]);
}

/// A HELP text as parts still to escape, or as already escaped (taken from another encoder).
#[derive(Clone, Copy)]
enum Help<'a> {
    Raw(&'a [&'a [u8]]),
    Escaped(&'a [u8]),
}

impl Help<'_> {
    fn write(self, out: &mut Vec<u8>) {
        match self {
            Help::Raw(parts) => parts.iter().for_each(|p| escape_help(out, p)),
            Help::Escaped(text) => out.extend_from_slice(text),
        }
    }
}

/// Escapes `\` and line feed, the two bytes a HELP text may not carry raw.
pub fn escape_help(out: &mut Vec<u8>, mut v: &[u8]) {
    while let Some(i) = memchr::memchr2(b'\\', b'\n', v) {
        out.extend_from_slice(&v[..i]);
        out.extend_from_slice(if v[i] == b'\n' { b"\\n" } else { b"\\\\" });
        v = &v[i + 1..];
    }
    out.extend_from_slice(v);
}

/// Escapes `\`, `"` and line feed, the three bytes a label value may not carry raw. Bytes
/// that are not UTF-8 become U+FFFD, as `String::from_utf8_lossy` replaces them: label values
/// come from file names and file contents (a mount point is any bytes), the text format
/// requires UTF-8, and Prometheus refuses a whole scrape over one invalid value (node_exporter
/// panics making such a metric). Allocates only if `out` must grow.
pub fn escape_label_value(out: &mut Vec<u8>, v: &[u8]) {
    if std::str::from_utf8(v).is_ok() {
        escape_utf8_label_value(out, v);
        return;
    }
    escape_invalid_utf8(out, v);
}

#[cold]
fn escape_invalid_utf8(out: &mut Vec<u8>, v: &[u8]) {
    for chunk in v.utf8_chunks() {
        escape_utf8_label_value(out, chunk.valid().as_bytes());
        if !chunk.invalid().is_empty() {
            out.extend_from_slice(char::REPLACEMENT_CHARACTER.encode_utf8(&mut [0; 4]).as_bytes());
        }
    }
}

fn escape_utf8_label_value(out: &mut Vec<u8>, mut v: &[u8]) {
    while let Some(i) = memchr::memchr3(b'\\', b'"', b'\n', v) {
        out.extend_from_slice(&v[..i]);
        out.extend_from_slice(match v[i] {
            b'\n' => b"\\n",
            b'"' => b"\\\"",
            _ => b"\\\\",
        });
        v = &v[i + 1..];
    }
    out.extend_from_slice(v);
}

/// FNV-1a: names are short, and the table only needs a spread, not collision resistance.
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Open-addressing table from a name hash to a family id; ids are compared by the caller.
#[derive(Debug, Default)]
pub(crate) struct NameIndex {
    /// `(hash, id + 1)`; 0 marks a free slot. Length is a power of two.
    slots: Vec<(u64, u32)>,
    len: usize,
}

impl NameIndex {
    pub(crate) fn clear(&mut self) {
        if self.len > 0 {
            self.slots.iter_mut().for_each(|s| *s = (0, 0));
            self.len = 0;
        }
    }

    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            let (h, id) = self.slots[i];
            if id == 0 {
                return None;
            }
            if h == hash && eq(id - 1) {
                return Some(id - 1);
            }
            i = (i + 1) & mask;
        }
    }

    pub(crate) fn insert(&mut self, hash: u64, id: u32) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        while self.slots[i].1 != 0 {
            i = (i + 1) & mask;
        }
        self.slots[i] = (hash, id + 1);
        self.len += 1;
    }

    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.slots = vec![(0, 0); (old.len() * 2).max(64)];
        self.len = 0;
        for (h, id) in old {
            if id != 0 {
                self.insert(h, id - 1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(enc: &mut Encoder) -> String {
        let mut out = Vec::new();
        enc.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn label_values_not_utf8_are_replaced() {
        // Found by the scanners fuzz target: a mount point with bytes that are not UTF-8 made
        // the whole exposition one Prometheus refuses.
        let cases: [(&[u8], &str); 5] = [
            (b"/mnt/plain", "/mnt/plain"),
            ("/mnt/\u{3a0}\\\"\n".as_bytes(), "/mnt/\u{3a0}\\\\\\\"\\n"),
            (b"/mnt/a\xffb", "/mnt/a\u{fffd}b"),
            (b"\"\xe2\x82\n", "\\\"\u{fffd}\\n"),
            (b"\xc3", "\u{fffd}"),
        ];
        for (raw, want) in cases {
            let mut out = Vec::new();
            escape_label_value(&mut out, raw);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{raw:?}");
        }
    }

    #[test]
    fn families_sorted_and_series_in_registry_order() {
        let mut enc = Encoder::new();
        let cpu = enc.family(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            Kind::Counter,
        );
        let load = enc.family("node_load1", "1m load average.", Kind::Gauge);
        for cpu_id in ["2", "10", "1"] {
            for mode in ["user", "idle"] {
                enc.sample(cpu, &[("mode", mode.as_bytes()), ("cpu", cpu_id.as_bytes())], 1.5);
            }
        }
        enc.sample(load, &[], 0.21);
        assert_eq!(
            render(&mut enc),
            "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n\
             # TYPE node_cpu_seconds_total counter\n\
             node_cpu_seconds_total{cpu=\"1\",mode=\"idle\"} 1.5\n\
             node_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 1.5\n\
             node_cpu_seconds_total{cpu=\"10\",mode=\"idle\"} 1.5\n\
             node_cpu_seconds_total{cpu=\"10\",mode=\"user\"} 1.5\n\
             node_cpu_seconds_total{cpu=\"2\",mode=\"idle\"} 1.5\n\
             node_cpu_seconds_total{cpu=\"2\",mode=\"user\"} 1.5\n\
             # HELP node_load1 1m load average.\n\
             # TYPE node_load1 gauge\n\
             node_load1 0.21\n"
        );
    }

    #[test]
    fn escaping() {
        let mut enc = Encoder::new();
        let f = enc.family("x", "a \\ b\nc \"q\"", Kind::Untyped);
        enc.sample(f, &[("l", b"a\\b\"c\nd\x1c")], 1.0);
        assert_eq!(
            render(&mut enc),
            "# HELP x a \\\\ b\\nc \"q\"\n# TYPE x untyped\nx{l=\"a\\\\b\\\"c\\nd\x1c\"} 1\n"
        );
    }

    #[test]
    fn empty_families_omitted_and_duplicates_dropped() {
        let mut enc = Encoder::new();
        let _ = enc.family("a_empty", "", Kind::Gauge);
        let b = enc.family("b", "", Kind::Gauge);
        enc.sample(b, &[("x", b"1")], 1.0);
        enc.sample(b, &[("x", b"1")], 2.0);
        assert_eq!(render(&mut enc), "# HELP b \n# TYPE b gauge\nb{x=\"1\"} 1\n");
        assert_eq!(enc.dropped(), 1);
    }

    #[test]
    fn shared_family_and_clashes() {
        let mut enc = Encoder::new();
        let a = enc.family("s", "help", Kind::Gauge);
        let b = enc.family("s", "help", Kind::Gauge);
        assert_eq!(a, b);
        let c = enc.family("s", "other help", Kind::Gauge);
        assert!(c.is_rejected());
        let d = enc.family("s", "help", Kind::Counter);
        assert!(d.is_rejected());
        enc.sample(b, &[("c", b"y")], 2.0);
        enc.sample(a, &[("c", b"x")], 1.0);
        enc.sample(c, &[("c", b"z")], 3.0);
        assert_eq!(render(&mut enc), "# HELP s help\n# TYPE s gauge\ns{c=\"x\"} 1\ns{c=\"y\"} 2\n");
    }

    #[test]
    fn key_order_is_value_by_value() {
        // ("a", "z") sorts before ("ab", "a"): values compare one by one, not concatenated.
        let mut enc = Encoder::new();
        let f = enc.family("m", "", Kind::Gauge);
        enc.sample(f, &[("p", b"ab"), ("q", b"a")], 1.0);
        enc.sample(f, &[("p", b"a"), ("q", b"z")], 1.0);
        enc.sample(f, &[("p", b"a\0"), ("q", b"a")], 1.0);
        enc.sample(f, &[("p", b""), ("q", b"b")], 1.0);
        let text = render(&mut enc);
        let order: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            order,
            [
                "m{p=\"\",q=\"b\"} 1",
                "m{p=\"a\",q=\"z\"} 1",
                "m{p=\"a\0\",q=\"a\"} 1",
                "m{p=\"ab\",q=\"a\"} 1"
            ]
        );
    }

    #[test]
    fn summary_and_histogram_layout() {
        let mut enc = Encoder::new();
        let s = enc.family("rpc", "", Kind::Summary);
        enc.summary(s, &[("svc", b"a")], &[(0.5, 4.0), (0.99, 7.5)], 12.5, 3);
        let h = enc.family("lat", "", Kind::Histogram);
        enc.histogram(h, &[], &[(0.1, 1), (1.0, 2_000_000)], 3.5, 2_000_001);
        assert_eq!(
            render(&mut enc),
            "# HELP lat \n# TYPE lat histogram\n\
             lat_bucket{le=\"0.1\"} 1\nlat_bucket{le=\"1\"} 2e+06\nlat_bucket{le=\"+Inf\"} 2.000001e+06\n\
             lat_sum 3.5\nlat_count 2.000001e+06\n\
             # HELP rpc \n# TYPE rpc summary\n\
             rpc{svc=\"a\",quantile=\"0.5\"} 4\nrpc{svc=\"a\",quantile=\"0.99\"} 7.5\n\
             rpc_sum{svc=\"a\"} 12.5\nrpc_count{svc=\"a\"} 3\n"
        );
    }

    #[test]
    fn absorb_merges_as_if_added_here() {
        let fill_a = |enc: &mut Encoder| {
            let f = enc.family("m", "h \\ x", Kind::Gauge);
            enc.sample(f, &[("i", b"2")], 2.0);
            let g = enc.family("clash", "one", Kind::Gauge);
            enc.sample(g, &[], 1.0);
        };
        let fill_b = |enc: &mut Encoder| {
            let f = enc.family("m", "h \\ x", Kind::Gauge);
            enc.sample(f, &[("i", b"1")], 1.0);
            enc.sample(f, &[("i", b"2")], 9.0);
            let g = enc.family("clash", "two", Kind::Gauge);
            enc.sample(g, &[], 2.0);
            let s = enc.family("s", "", Kind::Summary);
            enc.summary(s, &[], &[(0.5, 1.0)], 2.0, 3);
        };
        let mut whole = Encoder::new();
        fill_a(&mut whole);
        fill_b(&mut whole);
        let mut merged = Encoder::new();
        fill_a(&mut merged);
        let mut other = Encoder::new();
        fill_b(&mut other);
        merged.absorb(&other);
        assert_eq!(render(&mut merged), render(&mut whole));
        assert_eq!(merged.dropped(), whole.dropped());
    }

    #[test]
    fn rollback_drops_partial_scan() {
        let mut enc = Encoder::new();
        let f = enc.family("f", "", Kind::Gauge);
        enc.sample(f, &[("i", b"0")], 0.0);
        let cp = enc.checkpoint();
        enc.sample(f, &[("i", b"1")], 1.0);
        let g = enc.family("g", "", Kind::Gauge);
        enc.sample(g, &[], 1.0);
        enc.rollback(cp);
        assert_eq!(render(&mut enc), "# HELP f \n# TYPE f gauge\nf{i=\"0\"} 0\n");
    }

    #[test]
    fn family_order_kept_across_scrapes_only_while_it_holds() {
        // Each scrape declares families (name, samples) in the given order; a reused encoder
        // must render every scrape as a fresh one does, whatever the last scrape's order.
        let scrapes: [&[(&str, u32)]; 6] = [
            &[("c", 1), ("a", 1), ("b", 2)],
            &[("c", 1), ("a", 1), ("b", 2)],
            &[("c", 1), ("a", 0), ("b", 2)],
            &[("c", 1), ("a", 1), ("b", 2), ("0", 1)],
            &[("a", 1), ("c", 1), ("b", 1)],
            &[("x", 1), ("a", 1), ("b", 1)],
        ];
        let mut reused = Encoder::new();
        for families in scrapes {
            let fill = |enc: &mut Encoder| {
                for &(name, n) in families {
                    let f = enc.family(name, "h", Kind::Gauge);
                    for i in 0..n {
                        enc.sample_u64(f, &[("i", i.to_string().as_bytes())], 1);
                    }
                }
            };
            reused.clear();
            fill(&mut reused);
            let mut fresh = Encoder::new();
            fill(&mut fresh);
            assert_eq!(render(&mut reused), render(&mut fresh), "scrape {families:?}");
        }
    }

    #[test]
    fn clear_keeps_capacity_and_resets() {
        let mut enc = Encoder::new();
        for round in 0..3 {
            enc.clear();
            for i in 0..200 {
                let name = format!("fam_{i}");
                let f = enc.family(&name, "h", Kind::Gauge);
                enc.sample(f, &[], f64::from(round));
            }
            let text = render(&mut enc);
            assert_eq!(text.lines().count(), 600);
            assert!(text.contains(&format!("fam_199 {round}\n")));
        }
    }
}
