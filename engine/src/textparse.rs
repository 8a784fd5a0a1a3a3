//! The Prometheus text exposition format 0.0.4, read exactly as Go's `expfmt.TextParser`
//! (prometheus/common v0.53.0) reads it: the same input is accepted, samples are grouped into the
//! same families, and every rejection carries Go's message, so that the textfile collector and
//! the Pushgateway take and refuse what upstream does and say so in the same words.
//!
//! # The format, as Go reads it
//!
//! ```text
//! # HELP http_requests_total Requests served.\nBy code.
//! # TYPE http_requests_total counter
//! http_requests_total{code="200",path="/a \"q\""} 1027 1395066363000
//! ```
//!
//! - Every line ends in `\n`, the last one included; only blanks and tabs may follow the last
//!   line feed. Blanks and tabs lead lines and separate tokens; `\r` is an ordinary byte.
//! - Metric names are `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names `[a-zA-Z_][a-zA-Z0-9_]*`, and
//!   `__name__` is reserved. A label name may not repeat within a sample.
//! - Label values are quoted, escape `\\`, `\"` and `\n` (nothing else), and must be UTF-8.
//!   HELP text escapes `\\` and `\n`. A `# TYPE` word loses its backslashes and is matched
//!   case-insensitively (after Go's Unicode upper-casing).
//! - Values are Go floats (`1`, `-2.5e-3`, `NaN`, `+Inf`, `-inf`, `Infinity`; no hex, no `_`, no
//!   out-of-range values); the optional timestamp is an `int64` of milliseconds, and nothing may
//!   follow it, not even blanks. A blank after a value announces a timestamp.
//! - `# HELP`/`# TYPE` lines attach to the family they name; a family gets one of each, and a
//!   TYPE after the family's first sample is an error (the sample made it untyped). Other
//!   comments are skipped.
//! - A family's samples may be spread over the input and are merged. In a summary, lines with
//!   the same labels besides `quantile` form one metric, with `name_sum` and `name_count` lines
//!   setting its sum and count; histograms do the same with `le` and `name_bucket`. A `quantile`
//!   or `le` of `NaN` adds nothing. Names ending in `_sum`, `_count` or `_bucket` join such a
//!   family only once its TYPE is known; until then they are families of their own.
//!
//! # Two ways to read
//!
//! - [`Parser::next_sample`] streams the sample lines, each with its family's name, type and
//!   HELP as far as the input has declared them.
//! - [`Store::parse`] reads the whole input into Go's grouping (`map[name]*MetricFamily`):
//!   families, their metrics, summaries and histograms assembled from their lines.
//!
//! Either way an error ends the input: Go returns no families for input it rejects.
//!
//! # Implementation notes
//!
//! Nothing is copied out of the input: names and label values are borrowed from it, except
//! label values and HELP texts with escapes, which are unescaped into the [`Store`]'s scratch
//! buffer. All storage (scratch, family and metric tables, label arena, the per-line label list,
//! two hash indexes) lives in the caller's `Store` and is cleared, not freed, between inputs, so
//! parsing allocates nothing once the store has seen an input of the size at hand. Each table
//! grows at most linearly in the input: the scratch to the input's length, the others to one
//! entry per line or label.

use crate::encode::{self, Kind, Label};
use crate::{lex, quote};
use smallvec::SmallVec;
use std::fmt;

/// A family's type: the word of its `# TYPE` line, or untyped when a sample came first.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Type {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `summary`
    Summary,
    /// `untyped`
    Untyped,
    /// `histogram`
    Histogram,
    /// `gauge_histogram`: accepted because Go looks the word up among the protobuf enum's
    /// names, but its samples carry no value (Go's parser has no case for them).
    GaugeHistogram,
}

impl Type {
    /// The encoder's kind for this type; `None` for gauge histograms, which text format 0.0.4
    /// cannot write.
    pub fn kind(self) -> Option<Kind> {
        match self {
            Type::Counter => Some(Kind::Counter),
            Type::Gauge => Some(Kind::Gauge),
            Type::Summary => Some(Kind::Summary),
            Type::Untyped => Some(Kind::Untyped),
            Type::Histogram => Some(Kind::Histogram),
            Type::GaugeHistogram => None,
        }
    }

    /// The type named by the raw rest of a `# TYPE` line. Go drops its backslashes, applies
    /// `strings.ToUpper` and looks the result up among the enum's names, so `Gauge` is a
    /// type, and so is `hıstogram`: the dotless ı and the long ſ are the two non-ASCII runes
    /// that upper-case to ASCII letters.
    fn from_word(raw: &[u8]) -> Option<Type> {
        // The longest name, GAUGE_HISTOGRAM, is 15 letters, at most two bytes each before
        // upper-casing.
        let mut word = [0u8; 30];
        let mut n = 0;
        for &b in raw.iter().filter(|&&b| b != b'\\') {
            *word.get_mut(n)? = b;
            n += 1;
        }
        let mut up = [0u8; 15];
        let (mut i, mut m) = (0, 0);
        while i < n {
            let (c, width) = match word[i] {
                b if b.is_ascii() => (b.to_ascii_uppercase(), 1),
                0xc4 if word.get(i + 1) == Some(&0xb1) => (b'I', 2),
                0xc5 if word.get(i + 1) == Some(&0xbf) => (b'S', 2),
                _ => return None,
            };
            *up.get_mut(m)? = c;
            m += 1;
            i += width;
        }
        Some(match &up[..m] {
            b"COUNTER" => Type::Counter,
            b"GAUGE" => Type::Gauge,
            b"SUMMARY" => Type::Summary,
            b"UNTYPED" => Type::Untyped,
            b"HISTOGRAM" => Type::Histogram,
            b"GAUGE_HISTOGRAM" => Type::GaugeHistogram,
            _ => return None,
        })
    }
}

/// What a sample line's name means for a summary or histogram family it joined by suffix.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Role {
    /// Any other line: a quantile, a bucket, or a plain sample.
    Plain,
    /// `name_count` of a summary or histogram `name`: its sample count.
    Count,
    /// `name_sum` of a summary or histogram `name`: its sample sum.
    Sum,
}

/// What was wrong, named after the grammar element Go's parser was reading.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input ended inside a line: every line must end in `\n`.
    UnexpectedEof,
    /// `# HELP` or `# TYPE` followed by something that is neither a metric name nor the end of
    /// the line.
    CommentMetricName,
    /// A sample line that does not start with a metric name.
    MetricName,
    /// `{` or `,` not followed by a label name. Text: the family's name.
    LabelName,
    /// A label named `__name__`.
    ReservedLabelName,
    /// A label name not followed by `=`.
    LabelEquals {
        /// The byte found instead.
        found: u8,
    },
    /// A label name given twice in one sample. Text: the family's name.
    DuplicateLabelName,
    /// `=` not followed by `"`.
    LabelQuote {
        /// The byte found instead.
        found: u8,
    },
    /// A backslash in a label value or HELP text followed by a byte it cannot escape.
    Escape {
        /// The byte after the backslash.
        found: u8,
    },
    /// A line feed inside a label value. Text: the value up to it, raw.
    LabelValueNewline,
    /// A label value that is not UTF-8. Text: the value, raw.
    LabelValueUtf8,
    /// A summary's `quantile` label that is not a float. Text: the value, raw.
    Quantile,
    /// A histogram's `le` label that is not a float. Text: the value, raw.
    Bucket,
    /// A label value followed by something other than `,` or `}`. Text: the value, raw.
    LabelValueEnd,
    /// A sample value that is not a float. Text: the token.
    Value,
    /// A timestamp that is not an `int64`. Text: the token.
    Timestamp,
    /// Anything after the timestamp. Text: the rest of the line, raw.
    AfterTimestamp,
    /// A second `# HELP` for a family. Text: the family's name.
    SecondHelp,
    /// A `# TYPE` for a family that has a type, declared or set by a sample. Text: the
    /// family's name.
    SecondType,
    /// A `# TYPE` word that names no type. Text: the word, raw.
    UnknownType,
}

/// A rejection: Go's `ParseError`, with the input text its message quotes.
///
/// `Display` gives Go's exact message, `text format parsing error in line N: ...`, quoting
/// names and values as Go's `%q` does.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Error<'a> {
    line: u32,
    kind: ErrorKind,
    text: &'a [u8],
}

impl<'a> Error<'a> {
    /// The 1-based line Go reports.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// What was wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The input the message quotes, raw as it appears in the input (see [`ErrorKind`]);
    /// empty for kinds that quote nothing.
    pub fn text(&self) -> &'a [u8] {
        self.text
    }

    /// Writes the quoted text as Go printed it: label values unescaped, the rest of a TYPE or
    /// timestamp line without its backslashes, anything else as it is.
    fn write_text(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind::*;
        f.write_str("\"")?;
        match self.kind {
            LabelValueNewline | LabelValueUtf8 | Quantile | Bucket | LabelValueEnd => {
                let mut rest = self.text;
                while let Some(i) = memchr::memchr(b'\\', rest) {
                    quote::write_inner(f, &rest[..i])?;
                    let c = rest.get(i + 1).copied().unwrap_or(b'\\');
                    quote::write_inner(f, &[if c == b'n' { b'\n' } else { c }])?;
                    rest = rest.get(i + 2..).unwrap_or_default();
                }
                quote::write_inner(f, rest)?;
            }
            AfterTimestamp | UnknownType => {
                for piece in self.text.split(|&b| b == b'\\') {
                    quote::write_inner(f, piece)?;
                }
            }
            _ => quote::write_inner(f, self.text)?,
        }
        f.write_str("\"")
    }
}

impl fmt::Display for Error<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind::*;
        write!(f, "text format parsing error in line {}: ", self.line)?;
        match self.kind {
            UnexpectedEof => f.write_str("unexpected end of input stream"),
            CommentMetricName => f.write_str("invalid metric name in comment"),
            MetricName => f.write_str("invalid metric name"),
            LabelName => {
                f.write_str("invalid label name for metric ")?;
                self.write_text(f)
            }
            ReservedLabelName => f.write_str("label name \"__name__\" is reserved"),
            LabelEquals { found } => {
                f.write_str("expected '=' after label name, found ")?;
                quote::write_byte(f, found)
            }
            DuplicateLabelName => {
                f.write_str("duplicate label names for metric ")?;
                self.write_text(f)
            }
            LabelQuote { found } => {
                f.write_str("expected '\"' at start of label value, found ")?;
                quote::write_byte(f, found)
            }
            // Go formats the byte with %c: the rune of that value, unquoted.
            Escape { found } => write!(f, "invalid escape sequence '\\{}'", char::from(found)),
            LabelValueNewline => {
                f.write_str("label value ")?;
                self.write_text(f)?;
                f.write_str(" contains unescaped new-line")
            }
            LabelValueUtf8 => {
                f.write_str("invalid label value ")?;
                self.write_text(f)
            }
            Quantile => {
                f.write_str("expected float as value for 'quantile' label, got ")?;
                self.write_text(f)
            }
            Bucket => {
                f.write_str("expected float as value for 'le' label, got ")?;
                self.write_text(f)
            }
            LabelValueEnd => {
                f.write_str("unexpected end of label value ")?;
                self.write_text(f)
            }
            Value => {
                f.write_str("expected float as value, got ")?;
                self.write_text(f)
            }
            Timestamp => {
                f.write_str("expected integer as timestamp, got ")?;
                self.write_text(f)
            }
            AfterTimestamp => {
                f.write_str("spurious string after timestamp: ")?;
                self.write_text(f)
            }
            SecondHelp => {
                f.write_str("second HELP line for metric name ")?;
                self.write_text(f)
            }
            SecondType => {
                f.write_str("second TYPE line for metric name ")?;
                self.write_text(f)?;
                f.write_str(", or TYPE reported after samples")
            }
            UnknownType => {
                f.write_str("unknown metric type ")?;
                self.write_text(f)
            }
        }
    }
}

impl std::error::Error for Error<'_> {}

/// Marks an empty link in the family and metric lists.
const NONE: u32 = u32::MAX;

/// Text in the input, or unescaped in the store's scratch buffer.
#[derive(Clone, Copy, Debug)]
struct Text {
    start: usize,
    end: usize,
    scratch: bool,
}

impl Text {
    fn src(start: usize, end: usize) -> Text {
        Text { start, end, scratch: false }
    }

    fn get<'x>(self, src: &'x [u8], scratch: &'x [u8]) -> &'x [u8] {
        let from = if self.scratch { scratch } else { src };
        from.get(self.start..self.end).unwrap_or_default()
    }
}

/// A label: its name's span in the input and its value.
#[derive(Clone, Copy, Debug)]
struct LabelSpan {
    name: (usize, usize),
    value: Text,
}

#[derive(Clone, Copy, Debug)]
struct FamilyRec {
    /// Span of the name in the input, where the family was first named.
    name: (usize, usize),
    help: Option<Text>,
    /// `None` until a TYPE line or the first sample.
    kind: Option<Type>,
    /// First and last metric, linked through `MetricRec::next`; grouping only.
    first: u32,
    last: u32,
    metrics: u32,
}

/// One `dto.Metric` while grouping: a sample line, or all lines of a summary or histogram.
#[derive(Clone, Copy, Debug)]
struct MetricRec {
    family: u32,
    /// Range in `Store::labels`.
    labels: (u32, u32),
    timestamp: Option<i64>,
    /// The value of a counter, gauge or untyped sample.
    value: f64,
    /// The last `_count` and `_sum` values of a summary or histogram, as read.
    count: f64,
    sum: f64,
    /// First and last quantile or bucket, linked through `Point::next`.
    points: (u32, u32),
    next: u32,
}

/// A quantile (`quantile`, value) or bucket (`le`, cumulative count as read).
#[derive(Clone, Copy, Debug)]
struct Point {
    bound: f64,
    value: f64,
    next: u32,
}

/// Storage for parsing, owned by the caller and reused from one input to the next.
///
/// After [`Store::parse`] succeeds it holds that input's families until the next parse;
/// [`Store::families`] views them again.
#[derive(Debug, Default)]
pub struct Store {
    /// Unescaped label values and HELP texts; at most as long as the input.
    scratch: Vec<u8>,
    families: Vec<FamilyRec>,
    names: encode::NameIndex,
    /// The labels of the line being read (for summaries and histograms, without `quantile`
    /// or `le`); most samples have few, so they stay inline.
    line: SmallVec<[LabelSpan; 8]>,
    metrics: Vec<MetricRec>,
    labels: Vec<LabelSpan>,
    points: Vec<Point>,
    /// Summary and histogram metrics by family and labels, as Go's signature maps.
    series: encode::NameIndex,
    /// Address and length of the input last parsed successfully, so that a view is only ever
    /// built over the bytes its spans point into.
    parsed: Option<(usize, usize)>,
}

impl Store {
    /// An empty store; allocates nothing until the first input.
    pub fn new() -> Store {
        Store::default()
    }

    fn clear(&mut self) {
        self.scratch.clear();
        self.families.clear();
        self.names.clear();
        self.line.clear();
        self.metrics.clear();
        self.labels.clear();
        self.points.clear();
        self.series.clear();
        self.parsed = None;
    }

    /// Parses all of `src` into families, as Go's `TextParser.TextToMetricFamilies` does.
    ///
    /// # Errors
    /// The first error in `src`; no families are kept then, as Go's caller keeps none.
    /// Allocates only to grow the store past its largest input so far.
    pub fn parse<'s, 'a: 's>(&'s mut self, src: &'a [u8]) -> Result<Families<'s>, Error<'a>> {
        let mut parser = Parser::new(src, self);
        while let Some(line) = parser.next_line()? {
            parser.store.group(src, &line);
        }
        self.parsed = Some((src.as_ptr() as usize, src.len()));
        Ok(Families { src, store: self })
    }

    /// The families of the last successful [`Store::parse`], if `src` is the very input it
    /// parsed (same address and length); `None` otherwise, or after a failed parse.
    pub fn families<'s>(&'s self, src: &'s [u8]) -> Option<Families<'s>> {
        (self.parsed == Some((src.as_ptr() as usize, src.len())))
            .then_some(Families { src, store: self })
    }

    /// Adds a parsed sample line to its family, as Go's `readingValue` state does.
    fn group(&mut self, src: &[u8], line: &Line) {
        let family = line.family;
        let kind = self.families[family as usize].kind;
        if !matches!(kind, Some(Type::Summary | Type::Histogram)) {
            let m = self.push_metric(family);
            let rec = &mut self.metrics[m as usize];
            rec.value = line.value;
            rec.timestamp = line.timestamp;
            return;
        }
        let hash = self.series_hash(src, family);
        let Store { series, metrics, labels, line: current, scratch, .. } = &*self;
        let found = series.find(hash, |m| {
            let rec = &metrics[m as usize];
            let theirs = &labels[rec.labels.0 as usize..rec.labels.1 as usize];
            rec.family == family
                && theirs.len() == current.len()
                && current.iter().all(|a| {
                    theirs.iter().any(|b| {
                        src.get(a.name.0..a.name.1) == src.get(b.name.0..b.name.1)
                            && a.value.get(src, scratch) == b.value.get(src, scratch)
                    })
                })
        });
        let m = match found {
            Some(m) => m,
            None => {
                let m = self.push_metric(family);
                self.series.insert(hash, m);
                m
            }
        };
        let rec = &mut self.metrics[m as usize];
        if line.timestamp.is_some() {
            rec.timestamp = line.timestamp;
        }
        match line.role {
            Role::Count => rec.count = line.value,
            Role::Sum => rec.sum = line.value,
            Role::Plain => {
                if let Some(bound) = line.bound {
                    let p = self.points.len() as u32;
                    self.points.push(Point { bound, value: line.value, next: NONE });
                    match rec.points.1 {
                        NONE => rec.points.0 = p,
                        last => self.points[last as usize].next = p,
                    }
                    rec.points.1 = p;
                }
            }
        }
    }

    /// Go's signature of a summary or histogram line: its family and its labels as a set.
    fn series_hash(&self, src: &[u8], family: u32) -> u64 {
        // Summed per label, so that the order labels are written in does not matter.
        self.line.iter().fold(u64::from(family).wrapping_mul(0x9e37_79b9_7f4a_7c15), |h, l| {
            let name = src.get(l.name.0..l.name.1).unwrap_or_default();
            let pair = fnv(fnv(fnv(FNV_BASIS, name), &[0xff]), l.value.get(src, &self.scratch));
            h.wrapping_add(pair)
        })
    }

    /// A new metric of `family` holding the current line's labels, appended to its list.
    fn push_metric(&mut self, family: u32) -> u32 {
        let m = self.metrics.len() as u32;
        let start = self.labels.len() as u32;
        self.labels.extend_from_slice(&self.line);
        self.metrics.push(MetricRec {
            family,
            labels: (start, self.labels.len() as u32),
            timestamp: None,
            value: 0.0,
            count: 0.0,
            sum: 0.0,
            points: (NONE, NONE),
            next: NONE,
        });
        let f = &mut self.families[family as usize];
        match f.last {
            NONE => f.first = m,
            last => self.metrics[last as usize].next = m,
        }
        f.last = m;
        f.metrics += 1;
        m
    }
}

const FNV_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A parsed sample line, its labels in `Store::line`.
#[derive(Clone, Copy, Debug)]
struct Line {
    family: u32,
    name: (usize, usize),
    role: Role,
    /// The `quantile` of a summary line or the `le` of a histogram line, unless absent or NaN.
    bound: Option<f64>,
    value: f64,
    timestamp: Option<i64>,
}

/// Reads the input line by line, as Go's state machine does, byte for byte.
///
/// [`Parser::next_sample`] streams the sample lines; comment lines are taken in passing.
#[derive(Debug)]
pub struct Parser<'a, 's> {
    src: &'a [u8],
    /// Index of the next byte; the byte at `pos - 1` is Go's `currentByte`.
    pos: usize,
    line: u32,
    store: &'s mut Store,
    /// Set once the input is done: `Ok` at its end, or its first error.
    done: Option<Result<(), Error<'a>>>,
}

impl<'a, 's> Parser<'a, 's> {
    /// A parser over `src`, clearing `store` for it. Allocates nothing.
    pub fn new(src: &'a [u8], store: &'s mut Store) -> Parser<'a, 's> {
        store.clear();
        Parser { src, pos: 0, line: 0, store, done: None }
    }

    /// The next sample line, with its family as declared so far.
    ///
    /// Returns `Ok(None)` at the end of the input, and again after that.
    ///
    /// # Errors
    /// The input's first error, returned again by every later call.
    pub fn next_sample(&mut self) -> Result<Option<Sample<'_>>, Error<'a>> {
        let Some(line) = self.next_line()? else { return Ok(None) };
        let store = &*self.store;
        let f = store.families[line.family as usize];
        Ok(Some(Sample {
            family: name_str(self.src, f.name),
            kind: f.kind.unwrap_or(Type::Untyped),
            help: f.help.map(|t| t.get(self.src, &store.scratch)),
            name: name_str(self.src, line.name),
            role: line.role,
            bound: line.bound,
            value: line.value,
            timestamp_ms: line.timestamp,
            labels: Labels { spans: store.line.iter(), src: self.src, scratch: &store.scratch },
        }))
    }

    fn next_line(&mut self) -> Result<Option<Line>, Error<'a>> {
        if let Some(done) = self.done {
            return done.map(|()| None);
        }
        let r = self.read_line();
        match r {
            Ok(None) => self.done = Some(Ok(())),
            Err(e) => self.done = Some(Err(e)),
            Ok(Some(_)) => {}
        }
        r
    }

    /// Go's `startOfLine`: skips comment and empty lines up to the next sample line.
    fn read_line(&mut self) -> Result<Option<Line>, Error<'a>> {
        loop {
            self.line = self.line.saturating_add(1);
            // The end of the input is only clean here, at the start of a line.
            let first = loop {
                match self.src.get(self.pos) {
                    None => return Ok(None),
                    Some(&b) => {
                        self.pos += 1;
                        if !is_blank(b) {
                            break b;
                        }
                    }
                }
            };
            match first {
                b'#' => self.comment()?,
                b'\n' => {}
                _ => return self.sample(first).map(Some),
            }
        }
    }

    fn error(&self, kind: ErrorKind, text: &'a [u8]) -> Error<'a> {
        Error { line: self.line, kind, text }
    }

    fn family_error(&self, kind: ErrorKind, family: u32) -> Error<'a> {
        let (start, end) = self.store.families[family as usize].name;
        self.error(kind, &self.src[start..end])
    }

    /// The next byte; the end of the input here is an error.
    #[inline]
    fn byte(&mut self) -> Result<u8, Error<'a>> {
        match self.src.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(self.error(ErrorKind::UnexpectedEof, &[])),
        }
    }

    /// Go's `skipBlankTab`: the next byte that is neither blank nor tab.
    fn skip_blank(&mut self) -> Result<u8, Error<'a>> {
        loop {
            let b = self.byte()?;
            if !is_blank(b) {
                return Ok(b);
            }
        }
    }

    /// Go's `readTokenUntilWhitespace`: the token starting at the current byte `first` and
    /// the byte that ended it (blank, tab or line feed).
    fn token(&mut self, first: u8) -> Result<((usize, usize), u8), Error<'a>> {
        let start = self.pos - 1;
        let mut b = first;
        while !is_blank(b) && b != b'\n' {
            b = self.byte()?;
        }
        Ok(((start, self.pos - 1), b))
    }

    /// Go's `readTokenAsMetricName` (or `...AsLabelName` with `label`): the name starting at
    /// `first`, possibly empty, and the byte after it.
    fn name(&mut self, first: u8, label: bool) -> Result<((usize, usize), u8), Error<'a>> {
        let start = self.pos - 1;
        let class = if label { LABEL_NAME } else { METRIC_NAME };
        if class[usize::from(first)] != NAME_START {
            return Ok(((start, start), first));
        }
        loop {
            let b = self.byte()?;
            if class[usize::from(b)] == NOT_NAME {
                return Ok(((start, self.pos - 1), b));
            }
        }
    }

    /// Go's `startComment` and what follows it; `#` has been read. Consumes the line.
    fn comment(&mut self) -> Result<(), Error<'a>> {
        let b = self.skip_blank()?;
        if b == b'\n' {
            return Ok(());
        }
        let (keyword, end) = self.token(b)?;
        if end == b'\n' {
            return Ok(());
        }
        let is_help = &self.src[keyword.0..keyword.1] == b"HELP";
        if !is_help && &self.src[keyword.0..keyword.1] != b"TYPE" {
            // Any other comment: skip to the end of the line.
            let mut b = end;
            while b != b'\n' {
                b = self.byte()?;
            }
            return Ok(());
        }
        let b = self.skip_blank()?;
        let (name, end) = self.name(b, false)?;
        if end == b'\n' {
            return Ok(());
        }
        if !is_blank(end) {
            return Err(self.error(ErrorKind::CommentMetricName, &[]));
        }
        let (family, _) = self.family_of(name);
        let b = self.skip_blank()?;
        if b == b'\n' {
            return Ok(());
        }
        if is_help {
            self.help(family, b)
        } else {
            self.type_line(family, b)
        }
    }

    /// Go's `readingHelp`: the rest of the line from `first` is the family's HELP text.
    fn help(&mut self, family: u32, first: u8) -> Result<(), Error<'a>> {
        if self.store.families[family as usize].help.is_some() {
            return Err(self.family_error(ErrorKind::SecondHelp, family));
        }
        let start = self.pos - 1;
        let mut b = first;
        let mut escapes = false;
        loop {
            if b == b'\n' {
                break;
            }
            if b == b'\\' {
                let c = self.byte()?;
                if c != b'\\' && c != b'n' {
                    return Err(self.error(ErrorKind::Escape { found: c }, &[]));
                }
                escapes = true;
            }
            b = self.byte()?;
        }
        let end = self.pos - 1;
        let text = if escapes { self.unescape(start, end) } else { Text::src(start, end) };
        self.store.families[family as usize].help = Some(text);
        Ok(())
    }

    /// Go's `readingType`: the rest of the line from `first` names the family's type.
    fn type_line(&mut self, family: u32, first: u8) -> Result<(), Error<'a>> {
        if self.store.families[family as usize].kind.is_some() {
            return Err(self.family_error(ErrorKind::SecondType, family));
        }
        let start = self.pos - 1;
        let mut b = first;
        while b != b'\n' {
            b = self.byte()?;
        }
        let src = self.src;
        let word = &src[start..self.pos - 1];
        let kind = Type::from_word(word).ok_or_else(|| self.error(ErrorKind::UnknownType, word))?;
        self.store.families[family as usize].kind = Some(kind);
        Ok(())
    }

    /// Go's `readingMetricName` through `startTimestamp`: one sample line from its first byte.
    fn sample(&mut self, first: u8) -> Result<Line, Error<'a>> {
        let (name, end) = self.name(first, false)?;
        if name.0 == name.1 {
            return Err(self.error(ErrorKind::MetricName, &[]));
        }
        let (family, role) = self.family_of(name);
        let kind = *self.store.families[family as usize].kind.get_or_insert(Type::Untyped);
        let mut b = end;
        if is_blank(b) {
            b = self.skip_blank()?;
        }
        self.store.line.clear();
        let mut bound = None;
        if b == b'{' {
            b = self.labels(family, kind, &mut bound)?;
        }

        let src = self.src;
        let (token, end) = self.token(b)?;
        let token = &src[token.0..token.1];
        let value = parse_float(token).ok_or_else(|| self.error(ErrorKind::Value, token))?;
        let mut timestamp = None;
        if end != b'\n' {
            let b = self.skip_blank()?;
            let (token, end) = self.token(b)?;
            let token = &src[token.0..token.1];
            let ts =
                lex::parse_i64(token).ok_or_else(|| self.error(ErrorKind::Timestamp, token))?;
            timestamp = Some(ts);
            // The rest of the line must be empty; `end` is its first byte.
            let start = self.pos - 1;
            let mut b = end;
            while b != b'\n' {
                b = self.byte()?;
            }
            if self.pos - 1 > start {
                return Err(self.error(ErrorKind::AfterTimestamp, &src[start..self.pos - 1]));
            }
        }
        Ok(Line { family, name, role, bound, value, timestamp })
    }

    /// Go's `startLabelName`/`startLabelValue` loop; `{` has been read. Fills `Store::line`
    /// and `bound`, and returns the first byte of the value.
    fn labels(
        &mut self,
        family: u32,
        kind: Type,
        bound: &mut Option<f64>,
    ) -> Result<u8, Error<'a>> {
        let src = self.src;
        loop {
            let b = self.skip_blank()?;
            if b == b'}' {
                return self.skip_blank();
            }
            let (name, end) = self.name(b, true)?;
            if name.0 == name.1 {
                return Err(self.family_error(ErrorKind::LabelName, family));
            }
            let name_text = &src[name.0..name.1];
            if name_text == b"__name__" {
                return Err(self.error(ErrorKind::ReservedLabelName, &[]));
            }
            // A summary's quantile and a histogram's bucket bound are not labels of the metric.
            let is_bound = (kind == Type::Summary && name_text == b"quantile")
                || (kind == Type::Histogram && name_text == b"le");
            let mut b = end;
            if is_blank(b) {
                b = self.skip_blank()?;
            }
            if b != b'=' {
                return Err(self.error(ErrorKind::LabelEquals { found: b }, &[]));
            }
            if !is_bound && self.store.line.iter().any(|l| &src[l.name.0..l.name.1] == name_text) {
                return Err(self.family_error(ErrorKind::DuplicateLabelName, family));
            }
            let b = self.skip_blank()?;
            if b != b'"' {
                return Err(self.error(ErrorKind::LabelQuote { found: b }, &[]));
            }
            let (raw, value) = self.label_value()?;
            let raw = &src[raw.0..raw.1];
            let text = value.get(src, &self.store.scratch);
            if std::str::from_utf8(text).is_err() {
                return Err(self.error(ErrorKind::LabelValueUtf8, raw));
            }
            if is_bound {
                let v = parse_float(text).ok_or_else(|| {
                    let kind =
                        if kind == Type::Summary { ErrorKind::Quantile } else { ErrorKind::Bucket };
                    self.error(kind, raw)
                })?;
                *bound = (!v.is_nan()).then_some(v);
            } else {
                self.store.line.push(LabelSpan { name, value });
            }
            match self.skip_blank()? {
                b',' => {}
                b'}' => return self.skip_blank(),
                _ => return Err(self.error(ErrorKind::LabelValueEnd, raw)),
            }
        }
    }

    /// Go's `readTokenAsLabelValue`; the opening quote has been read. Returns the raw span
    /// between the quotes and the value, unescaped into scratch if it has escapes.
    fn label_value(&mut self) -> Result<((usize, usize), Text), Error<'a>> {
        let src = self.src;
        let start = self.pos;
        let mut escapes = false;
        loop {
            let rest = &src[self.pos..];
            let Some(i) = memchr::memchr3(b'"', b'\\', b'\n', rest) else {
                self.pos = src.len();
                return Err(self.error(ErrorKind::UnexpectedEof, &[]));
            };
            self.pos += i + 1;
            match rest[i] {
                b'"' => break,
                b'\n' => {
                    let text = &src[start..self.pos - 1];
                    return Err(self.error(ErrorKind::LabelValueNewline, text));
                }
                _ => {
                    let c = self.byte()?;
                    if !matches!(c, b'"' | b'\\' | b'n') {
                        return Err(self.error(ErrorKind::Escape { found: c }, &[]));
                    }
                    escapes = true;
                }
            }
        }
        let end = self.pos - 1;
        let text = if escapes { self.unescape(start, end) } else { Text::src(start, end) };
        Ok(((start, end), text))
    }

    /// Appends `src[start..end]` unescaped to the scratch buffer; every escape in it has been
    /// checked.
    fn unescape(&mut self, start: usize, end: usize) -> Text {
        let scratch = &mut self.store.scratch;
        let from = scratch.len();
        let mut rest = &self.src[start..end];
        while let Some(i) = memchr::memchr(b'\\', rest) {
            scratch.extend_from_slice(&rest[..i]);
            let c = rest.get(i + 1).copied().unwrap_or(b'\\');
            scratch.push(if c == b'n' { b'\n' } else { c });
            rest = rest.get(i + 2..).unwrap_or_default();
        }
        scratch.extend_from_slice(rest);
        Text { start: from, end: scratch.len(), scratch: true }
    }

    /// Go's `setOrCreateCurrentMF`: the family a name belongs to, creating it if need be.
    ///
    /// `name_sum` and `name_count` join a summary `name`, and those and `name_bucket` a
    /// histogram `name`, but only once that family's type is known.
    fn family_of(&mut self, name: (usize, usize)) -> (u32, Role) {
        let src = self.src;
        let text = &src[name.0..name.1];
        if let Some(f) = self.find(text) {
            return (f, Role::Plain);
        }
        let (role, cut) = if text.len() > 6 && text.ends_with(b"_count") {
            (Role::Count, 6)
        } else if text.len() > 4 && text.ends_with(b"_sum") {
            (Role::Sum, 4)
        } else {
            (Role::Plain, 0)
        };
        if cut > 0 {
            let base = &text[..text.len() - cut];
            if let Some(f) = self.find(base).filter(|&f| self.kind(f) == Some(Type::Summary)) {
                return (f, role);
            }
        }
        let cut = if cut == 0 && text.len() > 7 && text.ends_with(b"_bucket") { 7 } else { cut };
        if cut > 0 {
            let base = &text[..text.len() - cut];
            if let Some(f) = self.find(base).filter(|&f| self.kind(f) == Some(Type::Histogram)) {
                return (f, role);
            }
        }
        let store = &mut *self.store;
        let f = store.families.len() as u32;
        store.families.push(FamilyRec {
            name,
            help: None,
            kind: None,
            first: NONE,
            last: NONE,
            metrics: 0,
        });
        store.names.insert(encode::hash(text), f);
        (f, Role::Plain)
    }

    fn find(&self, name: &[u8]) -> Option<u32> {
        let Store { names, families, .. } = &*self.store;
        names.find(encode::hash(name), |f| {
            let (start, end) = families[f as usize].name;
            &self.src[start..end] == name
        })
    }

    fn kind(&self, family: u32) -> Option<Type> {
        self.store.families[family as usize].kind
    }

    /// The line the parser is on (1-based), or the last line once the input is done.
    pub fn line(&self) -> u32 {
        self.line
    }
}

/// Byte classes for names: `[a-zA-Z_]` (and `:` for metric names) may start a name, digits
/// only continue one.
const NOT_NAME: u8 = 0;
const NAME_START: u8 = 1;
const NAME_CONT: u8 = 2;

const fn name_class(metric: bool) -> [u8; 256] {
    let mut t = [NOT_NAME; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() || c == b'_' || (metric && c == b':') {
            NAME_START
        } else if c.is_ascii_digit() {
            NAME_CONT
        } else {
            NOT_NAME
        };
        b += 1;
    }
    t
}

static METRIC_NAME: [u8; 256] = name_class(true);
static LABEL_NAME: [u8; 256] = name_class(false);

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// A name from the input; names are ASCII, so this never falls back to `""`.
fn name_str(src: &[u8], (start, end): (usize, usize)) -> &str {
    src.get(start..end).and_then(|n| std::str::from_utf8(n).ok()).unwrap_or_default()
}

/// Go's `math.NaN()`, which `strconv.ParseFloat` returns for `NaN`: a quiet NaN with the low
/// mantissa bit set. The bits matter to anyone who re-encodes the value (protobuf exposition).
const GO_NAN: f64 = f64::from_bits(0x7ff8_0000_0000_0001);

/// Parses a sample value or bound as Go's parser does: `strconv.ParseFloat(s, 64)`, with `p`,
/// `P` and `_` refused up front (so no hex floats and no digit separators).
fn parse_float(s: &[u8]) -> Option<f64> {
    if s.iter().any(|&b| matches!(b, b'p' | b'P' | b'_')) {
        return None;
    }
    let (negative, body) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    // Go's special forms: a signed `inf` or `infinity`, or an unsigned `nan`, in any case.
    if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
        return Some(if negative { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if body.eq_ignore_ascii_case(b"nan") {
        return (body.len() == s.len()).then_some(GO_NAN);
    }
    // What is left is decimal: digits, an optional point, an optional exponent, where Rust's
    // grammar is Go's. Rust's own special forms were handled above.
    if !body.first().is_some_and(|b| b.is_ascii_digit() || *b == b'.') {
        return None;
    }
    let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    // Go reports overflow as an error where Rust rounds to infinity.
    v.is_finite().then_some(v)
}

/// Converts a float to `uint64` as Go does on amd64 (where node_exporter and the Pushgateway
/// run): below 2^63 through a truncating signed conversion, so -1 becomes 2^64-1; from 2^63 on
/// by subtracting 2^63 first and setting the top bit. x86's conversion yields 2^63 for NaN and
/// out-of-range input, so NaN, ±Inf and values from 2^64 up all become 2^63.
fn go_u64(v: f64) -> u64 {
    const TWO63: f64 = 9_223_372_036_854_775_808.0;
    fn cvtt(v: f64) -> i64 {
        if v.is_nan() || !(-TWO63..TWO63).contains(&v) {
            i64::MIN
        } else {
            v as i64
        }
    }
    if v < TWO63 {
        cvtt(v) as u64
    } else {
        (cvtt(v - TWO63) as u64) | (1 << 63)
    }
}

/// A sample line as streamed by [`Parser::next_sample`].
#[derive(Clone, Debug)]
pub struct Sample<'x> {
    /// The family's name (for `x_sum` of a summary `x`, `x`).
    pub family: &'x str,
    /// The family's type; untyped unless declared before this line.
    pub kind: Type,
    /// The family's HELP text, unescaped, if declared before this line.
    pub help: Option<&'x [u8]>,
    /// The metric name as written on the line.
    pub name: &'x str,
    /// Whether the line is a summary's or histogram's `_count` or `_sum`.
    pub role: Role,
    /// The `quantile` of a summary line or the `le` of a histogram line, if present and not
    /// NaN.
    pub bound: Option<f64>,
    /// The value.
    pub value: f64,
    /// The timestamp in milliseconds, if any.
    pub timestamp_ms: Option<i64>,
    labels: Labels<'x>,
}

impl<'x> Sample<'x> {
    /// The labels in the order written (for summaries and histograms, without `quantile` or
    /// `le`), values unescaped.
    pub fn labels(&self) -> Labels<'x> {
        self.labels.clone()
    }
}

/// The labels of a sample or metric, values unescaped.
#[derive(Clone, Debug)]
pub struct Labels<'x> {
    spans: std::slice::Iter<'x, LabelSpan>,
    src: &'x [u8],
    scratch: &'x [u8],
}

impl<'x> Iterator for Labels<'x> {
    type Item = Label<'x>;

    fn next(&mut self) -> Option<Label<'x>> {
        let l = self.spans.next()?;
        Some((name_str(self.src, l.name), l.value.get(self.src, self.scratch)))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl ExactSizeIterator for Labels<'_> {}

/// The families of one input, as Go groups them; see [`Store::parse`].
#[derive(Clone, Copy, Debug)]
pub struct Families<'s> {
    src: &'s [u8],
    store: &'s Store,
}

impl<'s> Families<'s> {
    /// The families that have samples, in the order they were first named. (Go returns a map;
    /// families named only in comments are dropped, as Go drops them.)
    pub fn iter(&self) -> impl Iterator<Item = Family<'s>> + 's {
        let (src, store) = (self.src, self.store);
        (0..store.families.len() as u32)
            .filter(move |&i| store.families[i as usize].metrics > 0)
            .map(move |index| Family { src, store, index })
    }

    /// The family with samples at `index` (see [`Family::index`]).
    pub fn get(&self, index: usize) -> Option<Family<'s>> {
        let f = self.store.families.get(index)?;
        (f.metrics > 0).then_some(Family { src: self.src, store: self.store, index: index as u32 })
    }

    /// Whether any sample carries a timestamp.
    pub fn has_timestamps(&self) -> bool {
        self.store.metrics.iter().any(|m| m.timestamp.is_some())
    }
}

/// One family: Go's `dto.MetricFamily`.
#[derive(Clone, Copy, Debug)]
pub struct Family<'s> {
    src: &'s [u8],
    store: &'s Store,
    index: u32,
}

impl<'s> Family<'s> {
    fn rec(&self) -> &'s FamilyRec {
        &self.store.families[self.index as usize]
    }

    /// Where the family is kept in its store, for [`Families::get`].
    pub fn index(&self) -> usize {
        self.index as usize
    }

    /// The name.
    pub fn name(&self) -> &'s str {
        name_str(self.src, self.rec().name)
    }

    /// The HELP text, unescaped; `None` without a HELP line (a HELP line is never empty).
    pub fn help(&self) -> Option<&'s [u8]> {
        Some(self.rec().help?.get(self.src, &self.store.scratch))
    }

    /// The type.
    pub fn kind(&self) -> Type {
        self.rec().kind.unwrap_or(Type::Untyped)
    }

    /// How many metrics the family has (at least one).
    pub fn len(&self) -> usize {
        self.rec().metrics as usize
    }

    /// Always false: families without samples are not listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The metrics, in the order of their first line.
    pub fn metrics(&self) -> impl Iterator<Item = Metric<'s>> + 's {
        let (src, store, kind) = (self.src, self.store, self.kind());
        let mut next = self.rec().first;
        std::iter::from_fn(move || {
            let rec = store.metrics.get(next as usize)?;
            next = rec.next;
            Some(Metric { src, store, rec, kind })
        })
    }
}

/// One metric: Go's `dto.Metric`.
#[derive(Clone, Copy, Debug)]
pub struct Metric<'s> {
    src: &'s [u8],
    store: &'s Store,
    rec: &'s MetricRec,
    kind: Type,
}

impl<'s> Metric<'s> {
    /// The labels, in the order of the metric's first line (for summaries and histograms,
    /// without `quantile` or `le`).
    pub fn labels(&self) -> Labels<'s> {
        let (start, end) = self.rec.labels;
        let spans = self.store.labels.get(start as usize..end as usize).unwrap_or_default();
        Labels { spans: spans.iter(), src: self.src, scratch: &self.store.scratch }
    }

    /// The timestamp in milliseconds; for summaries and histograms, that of the last line
    /// that had one.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.rec.timestamp
    }

    /// The value.
    pub fn value(&self) -> Value<'s> {
        let v = self.rec.value;
        match self.kind {
            Type::Counter => Value::Counter(v),
            Type::Gauge => Value::Gauge(v),
            Type::Untyped => Value::Untyped(v),
            Type::GaugeHistogram => Value::GaugeHistogram,
            Type::Summary => Value::Summary(Summary {
                count: go_u64(self.rec.count),
                sum: self.rec.sum,
                points: Points { points: &self.store.points, next: self.rec.points.0 },
            }),
            Type::Histogram => Value::Histogram(Histogram {
                count: go_u64(self.rec.count),
                sum: self.rec.sum,
                points: Points { points: &self.store.points, next: self.rec.points.0 },
            }),
        }
    }
}

/// A metric's value, by its family's type.
#[derive(Clone, Copy, Debug)]
pub enum Value<'s> {
    /// A counter's value.
    Counter(f64),
    /// A gauge's value.
    Gauge(f64),
    /// An untyped value.
    Untyped(f64),
    /// A summary.
    Summary(Summary<'s>),
    /// A histogram.
    Histogram(Histogram<'s>),
    /// A sample of a gauge histogram: Go keeps no value for it.
    GaugeHistogram,
}

/// A summary's count, sum and quantiles.
#[derive(Clone, Copy, Debug)]
pub struct Summary<'s> {
    /// The last `_count` value (0 without one), converted to `uint64` as Go converts it.
    pub count: u64,
    /// The last `_sum` value, 0 without one.
    pub sum: f64,
    points: Points<'s>,
}

impl<'s> Summary<'s> {
    /// `(quantile, value)` pairs in input order, repeats included.
    pub fn quantiles(&self) -> impl Iterator<Item = (f64, f64)> + 's {
        self.points
    }
}

/// A histogram's count, sum and buckets.
#[derive(Clone, Copy, Debug)]
pub struct Histogram<'s> {
    /// The last `_count` value (0 without one), converted to `uint64` as Go converts it.
    pub count: u64,
    /// The last `_sum` value, 0 without one.
    pub sum: f64,
    points: Points<'s>,
}

impl<'s> Histogram<'s> {
    /// `(upper bound, cumulative count)` pairs in input order, repeats included; counts
    /// converted to `uint64` as Go converts them.
    pub fn buckets(&self) -> impl Iterator<Item = (f64, u64)> + 's {
        self.points.map(|(bound, v)| (bound, go_u64(v)))
    }
}

#[derive(Clone, Copy, Debug)]
struct Points<'s> {
    points: &'s [Point],
    next: u32,
}

impl Iterator for Points<'_> {
    type Item = (f64, f64);

    fn next(&mut self) -> Option<(f64, f64)> {
        let p = self.points.get(self.next as usize)?;
        self.next = p.next;
        Some((p.bound, p.value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::Encoder;
    use proptest::prelude::*;

    fn err(src: &[u8]) -> String {
        Store::new().parse(src).err().map(|e| e.to_string()).unwrap_or_default()
    }

    /// Families as `name|help|type` and metrics as `labels value` lines, sorted by name.
    fn show(src: &[u8]) -> Vec<String> {
        let mut store = Store::new();
        let fams = store.parse(src).unwrap_or_else(|e| panic!("{e}"));
        let mut out: Vec<String> = Vec::new();
        let mut fams: Vec<_> = fams.iter().collect();
        fams.sort_by_key(|f| f.name());
        for f in fams {
            let help = f.help().map(|h| String::from_utf8_lossy(h).into_owned());
            out.push(format!("{}|{help:?}|{:?}", f.name(), f.kind()));
            for m in f.metrics() {
                let labels: Vec<String> = m
                    .labels()
                    .map(|(n, v)| format!("{n}={:?}", String::from_utf8_lossy(v)))
                    .collect();
                let value = match m.value() {
                    Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => format!("{v:?}"),
                    Value::Summary(s) => {
                        format!(
                            "n={} s={:?} q={:?}",
                            s.count,
                            s.sum,
                            s.quantiles().collect::<Vec<_>>()
                        )
                    }
                    Value::Histogram(h) => {
                        format!(
                            "n={} s={:?} b={:?}",
                            h.count,
                            h.sum,
                            h.buckets().collect::<Vec<_>>()
                        )
                    }
                    Value::GaugeHistogram => "-".into(),
                };
                let ts = m.timestamp_ms().map(|t| format!(" @{t}")).unwrap_or_default();
                out.push(format!("  {{{}}} {value}{ts}", labels.join(",")));
            }
        }
        out
    }

    #[test]
    fn empty_and_blank_inputs() {
        assert!(show(b"").is_empty());
        assert!(show(b"\n\n").is_empty());
        // Blanks after the last line feed are not a line.
        assert!(show(b"\n \t").is_empty());
        // Families named only in comments are dropped.
        assert!(show(b"# HELP a x\n# TYPE b gauge\n").is_empty());
    }

    #[test]
    fn go_scenario_minimal() {
        let src = b"\nminimal_metric 1.234\nanother_metric -3e3 103948\n# Even that:\n\
                    no_labels{} 3\n# HELP line for non-existing metric will be ignored.\n";
        assert_eq!(
            show(src),
            [
                "another_metric|None|Untyped",
                "  {} -3000.0 @103948",
                "minimal_metric|None|Untyped",
                "  {} 1.234",
                "no_labels|None|Untyped",
                "  {} 3.0",
            ][..]
        );
    }

    #[test]
    fn go_scenario_comments_escapes_and_blanks() {
        let src = "\n# A normal comment.\n#\n# TYPE name counter\n\
            name{labelname=\"val1\",basename=\"basevalue\"} NaN\n\
            name {labelname=\"val2\",basename=\"base\\\"v\\\\al\\nue\"} 0.23 1234567890\n\
            # HELP name two-line\\n doc  str\\\\ing\n\n \
            # HELP  name2  \tdoc str\"ing 2\n  #    TYPE    name2 gauge\n\
            name2{labelname=\"val2\"\t,basename   =   \"basevalue2\"\t\t} +Inf 54321\n\
            name2{ labelname = \"val1\" , }-Inf\n";
        assert_eq!(
            show(src.as_bytes()),
            [
                "name|Some(\"two-line\\n doc  str\\\\ing\")|Counter",
                "  {labelname=\"val1\",basename=\"basevalue\"} NaN",
                "  {labelname=\"val2\",basename=\"base\\\"v\\\\al\\nue\"} 0.23 @1234567890",
                "name2|Some(\"doc str\\\"ing 2\")|Gauge",
                "  {labelname=\"val2\",basename=\"basevalue2\"} inf @54321",
                "  {labelname=\"val1\"} -inf",
            ][..]
        );
    }

    #[test]
    fn go_scenario_summaries() {
        let src = "\n# TYPE my_summary summary\n\
            my_summary{n1=\"val1\",quantile=\"0.5\"} 110\n\
            decoy -1 -2\n\
            my_summary{n1=\"val1\",quantile=\"0.9\"} 140 1\n\
            my_summary_count{n1=\"val1\"} 42\n\
            # Latest timestamp wins in case of a summary.\n\
            my_summary_sum{n1=\"val1\"} 4711 2\n\
            fake_sum{n1=\"val1\"} 2001\n\
            # TYPE another_summary summary\n\
            another_summary_count{n2=\"val2\",n1=\"val1\"} 20\n\
            my_summary_count{n2=\"val2\",n1=\"val1\"} 5 5\n\
            another_summary{n1=\"val1\",n2=\"val2\",quantile=\".3\"} -1.2\n\
            my_summary_sum{n1=\"val2\"} 08 15\n\
            my_summary{n1=\"val3\", quantile=\"0.2\"} 4711\n  \
            my_summary{n1=\"val1\",n2=\"val2\",quantile=\"-12.34\",} NaN\n\
            # some\n# funny comments\n# HELP \n# HELP\n# HELP my_summary\n# HELP my_summary \n";
        assert_eq!(
            show(src.as_bytes()),
            [
                "another_summary|None|Summary",
                "  {n2=\"val2\",n1=\"val1\"} n=20 s=0.0 q=[(0.3, -1.2)]",
                "decoy|None|Untyped",
                "  {} -1.0 @-2",
                "fake_sum|None|Untyped",
                "  {n1=\"val1\"} 2001.0",
                "my_summary|None|Summary",
                "  {n1=\"val1\"} n=42 s=4711.0 q=[(0.5, 110.0), (0.9, 140.0)] @2",
                "  {n2=\"val2\",n1=\"val1\"} n=5 s=0.0 q=[(-12.34, NaN)] @5",
                "  {n1=\"val2\"} n=0 s=8.0 q=[] @15",
                "  {n1=\"val3\"} n=0 s=0.0 q=[(0.2, 4711.0)]",
            ][..]
        );
    }

    #[test]
    fn go_scenario_histogram() {
        let src = "\n# HELP request_duration_microseconds The response latency.\n\
            # TYPE request_duration_microseconds histogram\n\
            request_duration_microseconds_bucket{le=\"100\"} 123\n\
            request_duration_microseconds_bucket{le=\"120\"} 412\n\
            request_duration_microseconds_bucket{le=\"+Inf\"} 2693\n\
            request_duration_microseconds_sum 1.7560473e+06\n\
            request_duration_microseconds_count 2693\n";
        assert_eq!(
            show(src.as_bytes()),
            [
                "request_duration_microseconds|Some(\"The response latency.\")|Histogram",
                "  {} n=2693 s=1756047.3 b=[(100.0, 123), (120.0, 412), (inf, 2693)]",
            ][..]
        );
    }

    #[test]
    fn suffixes_join_only_typed_families() {
        // Before the TYPE line, `s_count` is a family of its own, and stays one: the exact
        // name is looked up first. `s_sum` joins the summary. A NaN quantile adds nothing; a
        // bucket line needs no `_bucket`, only an `le`.
        let src = b"s_count 1\n# TYPE s summary\ns_sum 2\ns{quantile=\"NaN\"} 3\ns_count 4\n\
                    # TYPE h histogram\nh_bucket 4\nh{le=\"1\"} 5\nh_count -1\n";
        assert_eq!(
            show(src),
            [
                "h|None|Histogram",
                "  {} n=18446744073709551615 s=0.0 b=[(1.0, 5)]",
                "s|None|Summary",
                "  {} n=0 s=2.0 q=[]",
                "s_count|None|Untyped",
                "  {} 1.0",
                "  {} 4.0",
            ][..]
        );
    }

    #[test]
    fn timestamps_are_go_int64s() {
        // Any number of leading zeros, the full int64 range, a sign; nothing past it.
        let src =
            b"m 1 0000000000000000000000000001\nn 2 -00000000000000000000009223372036854775808\n";
        assert_eq!(
            show(src),
            ["m|None|Untyped", "  {} 1.0 @1", "n|None|Untyped", "  {} 2.0 @-9223372036854775808"][..]
        );
        assert_eq!(
            err(b"o 3 +0009223372036854775808\n"),
            "text format parsing error in line 1: expected integer as timestamp, got \
             \"+0009223372036854775808\""
        );
    }

    #[test]
    fn gauge_histograms_keep_no_value() {
        let src = b"# TYPE g gauge_histogram\ng{le=\"1\"} 2 7\n";
        assert_eq!(show(src), ["g|None|GaugeHistogram", "  {le=\"1\"} - @7"][..]);
    }

    #[test]
    fn reads_node_exporters_own_output() {
        // The whole e2e scrape of node_exporter 1.8.2: every family it declares, every sample.
        let Some(src) = crate::collector::testing::fixture("e2e-output.txt") else { return };
        let mut store = Store::new();
        let fams = store.parse(&src).unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&src);
        let declared = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        let with_samples = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter(|l| {
                let name = l.split(' ').next().unwrap_or_default();
                text.lines().filter_map(|s| s.strip_prefix(name)).any(|rest| {
                    let rest = ["_sum", "_count", "_bucket"]
                        .iter()
                        .find_map(|suffix| rest.strip_prefix(suffix))
                        .unwrap_or(rest);
                    rest.starts_with(['{', ' '])
                })
            })
            .count();
        assert!(declared > 500);
        assert_eq!(fams.iter().count(), with_samples);
        let lines = text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).count();
        let mut p = Parser::new(&src, &mut store);
        let mut streamed = 0;
        while p.next_sample().unwrap().is_some() {
            streamed += 1;
        }
        assert_eq!(streamed, lines);
    }

    #[test]
    fn go_error_messages() {
        // Messages as Go's TextParser gives them for the same input.
        let cases: &[(&[u8], &str)] = &[
            (b"\nmetric 4.12\n# TYPE metric counter", "line 3: second TYPE line for metric name \"metric\", or TYPE reported after samples"),
            (b"metric 1", "line 1: unexpected end of input stream"),
            (b"\n# TYPE metric counter", "line 2: unexpected end of input stream"),
            (b"metric{label=\"\\t\"} 3.14\n", "line 1: invalid escape sequence '\\t'"),
            (b"\nmetric{label=\"new\nline\"} 3.14\n", "line 2: label value \"new\" contains unescaped new-line"),
            (b"m{a=\"a\\\\b\\\"c\nd\"} 1\n", "line 1: label value \"a\\\\b\\\"c\" contains unescaped new-line"),
            (b"metric{@=\"bla\"} 3.14\n", "line 1: invalid label name for metric \"metric\""),
            (b"m{a=\"1\",,} 1\n", "line 1: invalid label name for metric \"m\""),
            (b"metric{__name__=\"bla\"} 3.14\n", "line 1: label name \"__name__\" is reserved"),
            (b"metric{label+=\"bla\"} 3.14\n", "line 1: expected '=' after label name, found '+'"),
            (b"m{a\xe9=\"1\"} 1\n", "line 1: expected '=' after label name, found '\u{e9}'"),
            (b"metric{label=bla} 3.14\n", "line 1: expected '\"' at start of label value, found 'b'"),
            (b"\n# TYPE metric summary\nmetric{quantile=\"bla\"} 3.14\n", "line 3: expected float as value for 'quantile' label, got \"bla\""),
            (b"\n# TYPE metric histogram\nmetric_bucket{le=\"bla\"} 3.14\n", "line 3: expected float as value for 'le' label, got \"bla\""),
            (b"metric{label=\"bla\"+} 3.14\n", "line 1: unexpected end of label value \"bla\""),
            (b"# TYPE h histogram\nh_bucket{le=\"1\",b=\"\\\\\\n\\\"\"x} 1\n", "line 2: unexpected end of label value \"\\\\\\n\\\"\""),
            (b"metric{label=\"bla\"} 3.14 2.72\n", "line 1: expected integer as timestamp, got \"2.72\""),
            (b"m 1 99999999999999999999\n", "line 1: expected integer as timestamp, got \"99999999999999999999\""),
            (b"m 1 \n", "line 1: expected integer as timestamp, got \"\""),
            (b"metric{label=\"bla\"} 3.14 2 3\n", "line 1: spurious string after timestamp: \" 3\""),
            (b"m 1 2 \n", "line 1: spurious string after timestamp: \" \""),
            (b"m 1 2 \\x\\\n", "line 1: spurious string after timestamp: \" x\""),
            (b"metric{label=\"bla\"} blubb\n", "line 1: expected float as value, got \"blubb\""),
            (b"m \x80\n", "line 1: expected float as value, got \"\\x80\""),
            (b"foo 1_2\n", "line 1: expected float as value, got \"1_2\""),
            (b"foo 0x1p-3\n", "line 1: expected float as value, got \"0x1p-3\""),
            (b"m +nan\n", "line 1: expected float as value, got \"+nan\""),
            (b"m 1e400\n", "line 1: expected float as value, got \"1e400\""),
            (b"\n# HELP metric one\n# HELP metric two\n", "line 3: second HELP line for metric name \"metric\""),
            (b"# TYPE s summary\nx 1\n# HELP s_count x\n# HELP s y\n", "line 4: second HELP line for metric name \"s\""),
            (b"\n# TYPE metric counter\n# TYPE metric untyped\n", "line 3: second TYPE line for metric name \"metric\", or TYPE reported after samples"),
            (b"# TYPE s summary\n# TYPE s_sum gauge\n", "line 2: second TYPE line for metric name \"s\", or TYPE reported after samples"),
            (b"\n# TYPE metric bla\n", "line 2: unknown metric type \"bla\""),
            (b"# TYPE m co\\unt\\er\n# TYPE n b\\o\\gus\n", "line 2: unknown metric type \"bogus\""),
            (b"\n# TYPE met-ric\n", "line 2: invalid metric name in comment"),
            (b"@invalidmetric{label=\"bla\"} 3.14 2\n", "line 1: invalid metric name"),
            (b"{label=\"bla\"} 3.14 2\n", "line 1: invalid metric name"),
            (b"metric{l=\"\xbd\"} 3.14\n", "line 1: invalid label value \"\\xbd\""),
            (b"m{a=\"x\\\"y\xff\"} 1\n", "line 1: invalid label value \"x\\\"y\\xff\""),
            (b"metric{label=\"bla\",label=\"bla\"} 3.14\n", "line 1: duplicate label names for metric \"metric\""),
            (b"# HELP m a\\tb\n", "line 1: invalid escape sequence '\\t'"),
            (b"# HELP m a\\\n", "line 1: invalid escape sequence '\\\n'"),
            (b"# HELP m \xe9x\\\xe9\n", "line 1: invalid escape sequence '\\\u{e9}'"),
            (b"m{a=\"1", "line 1: unexpected end of input stream"),
            (b"m{a=\"1\\", "line 1: unexpected end of input stream"),
        ];
        for (src, want) in cases {
            let want = format!("text format parsing error in {want}");
            assert_eq!(err(src), want, "{:?}", String::from_utf8_lossy(src));
        }
    }

    #[test]
    fn error_accessors() {
        let mut store = Store::new();
        let e = store.parse(b"m 1\nm{a=\"x\\\"\n").unwrap_err();
        assert_eq!(
            (e.line(), e.kind(), e.text()),
            (2, ErrorKind::LabelValueNewline, &b"x\\\""[..])
        );
        assert!(store.families(b"m 1\n").is_none());
    }

    #[test]
    fn type_words() {
        for (word, want) in [
            (&b"counter"[..], Some(Type::Counter)),
            (b"GAUGE", Some(Type::Gauge)),
            (b"Summary", Some(Type::Summary)),
            (b"untyped", Some(Type::Untyped)),
            ("h\u{131}stogram".as_bytes(), Some(Type::Histogram)),
            ("\u{17f}ummary".as_bytes(), Some(Type::Summary)),
            ("\u{17f}umm\\ary".as_bytes(), Some(Type::Summary)),
            (b"\xc4\\\xb1", None),
            (b"gauge_histogram", Some(Type::GaugeHistogram)),
            (b"co\\u\\\\nter", Some(Type::Counter)),
            (b"counter ", None),
            (b"gauge\xff", None),
            (b"", None),
            (b"counterrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr", None),
        ] {
            assert_eq!(Type::from_word(word), want, "{word:?}");
        }
        // Go upper-cases the word with the backslashes already gone, so ı split by one is ı.
        assert_eq!(Type::from_word(b"h\xc4\\\xb1stogram"), Some(Type::Histogram));
    }

    #[test]
    fn floats_as_go_parses_them() {
        for (s, want) in [
            ("1", Some(1.0)),
            ("-2.5e-3", Some(-0.0025)),
            ("1.e5", Some(1e5)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("+.5E-3", Some(0.0005)),
            ("00012", Some(12.0)),
            ("1e-400", Some(0.0)),
            ("inF", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("+inf", Some(f64::INFINITY)),
            ("infinit", None),
            ("+nan", None),
            ("-NaN", None),
            ("1e400", None),
            ("-1e400", None),
            ("0x1", None),
            ("0x1p3", None),
            ("1_0", None),
            ("1e", None),
            (".", None),
            ("", None),
            ("e5", None),
            ("\u{661}", None),
        ] {
            assert_eq!(parse_float(s.as_bytes()), want, "{s}");
        }
        assert_eq!(parse_float(b"nAn").map(f64::to_bits), Some(0x7ff8_0000_0000_0001));
    }

    #[test]
    fn float_to_u64_as_go_on_amd64() {
        // Values printed by Go's `uint64(f)` on amd64.
        for (v, want) in [
            (f64::NAN, 1 << 63),
            (f64::INFINITY, 1 << 63),
            (f64::NEG_INFINITY, 1 << 63),
            (-1.0, u64::MAX),
            (-1.5, u64::MAX),
            (-0.5, 0),
            (1e20, 1 << 63),
            (1.8446744073709552e19, 1 << 63),
            (9.3e18, 9_300_000_000_000_000_000),
            (-9.3e18, 1 << 63),
            (-9.223_372_036_854_776e18, 1 << 63),
            (3.7, 3),
        ] {
            assert_eq!(go_u64(v), want, "{v}");
        }
    }

    #[test]
    fn streams_samples_with_family_so_far() {
        let src = b"a 1\n# HELP a first\n# TYPE s summary\n# HELP s Sum \\\\ mary\n\
                    s{quantile=\"0.5\",x=\"\\\"\"} 2\ns_sum{x=\"y\"} 3 17\n";
        let mut store = Store::new();
        let mut p = Parser::new(src, &mut store);
        let a = p.next_sample().unwrap().unwrap();
        assert_eq!(
            (a.family, a.name, a.kind, a.help, a.value),
            ("a", "a", Type::Untyped, None, 1.0)
        );
        let q = p.next_sample().unwrap().unwrap();
        assert_eq!((q.family, q.kind, q.help), ("s", Type::Summary, Some(&b"Sum \\ mary"[..])));
        assert_eq!(
            (q.role, q.bound, q.labels().collect::<Vec<_>>()),
            (Role::Plain, Some(0.5), vec![("x", &b"\""[..])])
        );
        let s = p.next_sample().unwrap().unwrap();
        assert_eq!(
            (s.family, s.name, s.role, s.bound, s.timestamp_ms),
            ("s", "s_sum", Role::Sum, None, Some(17))
        );
        assert_eq!(s.labels().len(), 1);
        assert!(p.next_sample().unwrap().is_none());
        assert!(p.next_sample().unwrap().is_none());
        assert_eq!(p.line(), 7);

        let mut p = Parser::new(b"a 1\nb x\nc 2\n", &mut store);
        assert!(p.next_sample().unwrap().is_some());
        let e = p.next_sample().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Value);
        assert_eq!(p.next_sample().unwrap_err(), e);
    }

    #[test]
    fn view_again_only_over_the_same_input() {
        let src = b"a{x=\"1\"} 1\n".to_vec();
        let copy = src.clone();
        let mut store = Store::new();
        store.parse(&src).unwrap();
        let fams = store.families(&src).unwrap();
        let f = fams.iter().next().unwrap();
        assert_eq!((f.name(), f.len(), f.is_empty()), ("a", 1, false));
        assert_eq!(fams.get(f.index()).map(|f| f.name()), Some("a"));
        assert!(store.families(&copy).is_none());
        assert!(store.families(&src[..3]).is_none());
    }

    /// Labels, value (or sum), quantiles or bucket bounds, and count of one metric.
    type RandomMetric = (Vec<(String, String)>, f64, Vec<(f64, f64)>, u64);

    /// A random family for the round trip: kind, HELP, and metrics with distinct label values.
    #[derive(Clone, Debug)]
    struct Fam {
        kind: Kind,
        help: Vec<u8>,
        metrics: Vec<RandomMetric>,
    }

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            (-1e6..1e6f64),
            (0u32..1000).prop_map(f64::from),
        ]
    }

    fn fam() -> impl Strategy<Value = Fam> {
        let kind = prop_oneof![
            Just(Kind::Counter),
            Just(Kind::Gauge),
            Just(Kind::Untyped),
            Just(Kind::Summary),
            Just(Kind::Histogram)
        ];
        let label_names = proptest::collection::btree_set("[a-z_][a-z0-9_]{0,6}", 0..4);
        let point = (value().prop_filter("a bound is never NaN", |v| !v.is_nan()), value());
        let metric = (
            proptest::collection::vec(any::<String>(), 4),
            value(),
            proptest::collection::vec(point, 0..4),
            0u64..(1 << 53),
        );
        (
            kind,
            proptest::collection::vec(any::<u8>(), 0..12),
            label_names,
            proptest::collection::vec(metric, 1..4),
        )
            .prop_map(|(kind, help, names, metrics)| {
                let names: Vec<String> = names
                    .into_iter()
                    .filter(|n| !n.starts_with("__") && n != "le" && n != "quantile")
                    .collect();
                let metrics = metrics
                    .into_iter()
                    .enumerate()
                    .map(|(i, (values, v, points, count))| {
                        // The first label, if any, keeps series distinct.
                        let labels = names
                            .iter()
                            .zip(values)
                            .enumerate()
                            .map(|(j, (n, val))| {
                                (n.clone(), if j == 0 { format!("{i}{val}") } else { val })
                            })
                            .collect();
                        (labels, v, points, count)
                    })
                    .collect::<Vec<_>>();
                let metrics = if names.is_empty() { metrics[..1].to_vec() } else { metrics };
                Fam { kind, help, metrics }
            })
    }

    fn same_f64(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()) || (a == 0.0 && b == 0.0)
    }

    proptest! {
        /// Whatever the encoder writes parses back to the same families and samples.
        #[test]
        fn encoder_output_parses_back(fams in proptest::collection::vec(fam(), 1..5)) {
            let mut enc = Encoder::new();
            for (i, f) in fams.iter().enumerate() {
                let id = enc.family_parts(&[format!("fam{i}").as_bytes()], &[&f.help], f.kind);
                for (labels, v, points, count) in &f.metrics {
                    let labels: Vec<Label<'_>> = labels.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
                    match f.kind {
                        Kind::Summary => enc.summary(id, &labels, points, *v, *count),
                        Kind::Histogram => {
                            let buckets: Vec<(f64, u64)> = points.iter().map(|&(le, _)| (le, *count)).collect();
                            enc.histogram(id, &labels, &buckets, *v, *count)
                        }
                        _ => enc.sample(id, &labels, *v),
                    }
                }
            }
            let mut text = Vec::new();
            enc.finish(&mut text);

            let mut store = Store::new();
            let parsed = store.parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(parsed.iter().count(), fams.len());
            for got in parsed.iter() {
                let i: usize = got.name()[3..].parse().unwrap();
                let want = &fams[i];
                prop_assert_eq!(got.kind().kind(), Some(want.kind));
                // HELP loses its leading blanks (the parser skips them) and is absent if empty.
                let help: Vec<u8> = want.help.iter().copied().skip_while(|&b| b == b' ' || b == b'\t').collect();
                prop_assert_eq!(got.help().map(<[u8]>::to_vec), (!help.is_empty()).then_some(help));
                prop_assert_eq!(got.len(), want.metrics.len());
                for m in got.metrics() {
                    let mut labels: Vec<(String, String)> = m.labels().map(|(n, v)| (n.to_owned(), String::from_utf8(v.to_vec()).unwrap())).collect();
                    labels.sort();
                    let w = want.metrics.iter().find(|w| {
                        let mut l = w.0.clone();
                        l.sort();
                        l == labels
                    });
                    let Some((_, v, points, count)) = w else {
                        return Err(TestCaseError::fail(format!("unexpected series {labels:?}")));
                    };
                    match m.value() {
                        Value::Summary(s) => {
                            prop_assert_eq!(s.count, *count);
                            prop_assert!(same_f64(s.sum, *v));
                            let q: Vec<(f64, f64)> = s.quantiles().collect();
                            prop_assert_eq!(q.len(), points.len());
                            for (a, b) in q.iter().zip(points) {
                                prop_assert!(same_f64(a.0, b.0) && same_f64(a.1, b.1));
                            }
                        }
                        Value::Histogram(h) => {
                            prop_assert_eq!(h.count, *count);
                            prop_assert!(same_f64(h.sum, *v));
                            let b: Vec<(f64, u64)> = h.buckets().collect();
                            let inf = points.iter().any(|p| p.0 == f64::INFINITY);
                            prop_assert_eq!(b.len(), points.len() + usize::from(!inf));
                            prop_assert!(b.iter().all(|&(_, n)| n == *count));
                        }
                        Value::Counter(x) | Value::Gauge(x) | Value::Untyped(x) => {
                            prop_assert!(same_f64(x, *v));
                        }
                        Value::GaugeHistogram => prop_assert!(false),
                    }
                }
            }
        }

        /// A prefix of a valid input is valid if it ends at a line boundary (or in the blanks
        /// that lead a line), and otherwise fails only for its unexpected end.
        #[test]
        fn prefixes_never_panic(fams in proptest::collection::vec(fam(), 1..3)) {
            let mut enc = Encoder::new();
            for (i, f) in fams.iter().enumerate() {
                let id = enc.family_parts(&[format!("p{i}").as_bytes()], &[&f.help], f.kind);
                for (labels, v, points, count) in &f.metrics {
                    let labels: Vec<Label<'_>> = labels.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
                    match f.kind {
                        Kind::Summary => enc.summary(id, &labels, points, *v, *count),
                        _ => enc.sample(id, &labels, *v),
                    }
                }
            }
            let mut text = Vec::new();
            enc.finish(&mut text);
            let mut store = Store::new();
            for n in 0..=text.len() {
                let prefix = &text[..n];
                let last = prefix.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                let whole_lines = prefix[last..].iter().all(|&b| b == b' ' || b == b'\t');
                match store.parse(prefix) {
                    Ok(_) => prop_assert!(whole_lines, "prefix {n} accepted"),
                    Err(e) => {
                        prop_assert!(!whole_lines, "prefix {n}: {e}");
                        prop_assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
                        let lines = prefix.iter().filter(|&&b| b == b'\n').count() as u32 + 1;
                        prop_assert_eq!(e.line(), lines);
                    }
                }
            }
        }

        /// Mutated input never panics, and streaming agrees with grouping on where it fails.
        #[test]
        fn mutations_never_panic(
            base in proptest::collection::vec(fam(), 1..3),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
        ) {
            let mut enc = Encoder::new();
            for (i, f) in base.iter().enumerate() {
                let id = enc.family_parts(&[format!("q{i}").as_bytes()], &[&f.help], f.kind);
                for (labels, v, _, _) in &f.metrics {
                    let labels: Vec<Label<'_>> = labels.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
                    enc.sample(id, &labels, *v);
                }
            }
            let mut text = Vec::new();
            enc.finish(&mut text);
            for (at, byte, op) in edits {
                let i = at.index(text.len() + 1);
                match op {
                    0 if i < text.len() => { text.remove(i); }
                    1 if i < text.len() => text[i] = byte,
                    _ => text.insert(i, byte),
                }
            }
            let mut store = Store::new();
            let grouped = store.parse(&text).map(|f| f.iter().map(|f| f.len()).sum::<usize>()).map_err(|e| e.to_string());
            let mut p = Parser::new(&text, &mut store);
            let mut streamed = Ok(0usize);
            loop {
                match p.next_sample() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => { streamed = Err(e.to_string()); break; }
                }
                if let Ok(n) = &mut streamed { *n += 1; }
            }
            prop_assert_eq!(grouped.is_err(), streamed.is_err());
            if let (Err(a), Err(b)) = (&grouped, &streamed) {
                prop_assert_eq!(a, b);
            }
        }
    }
}
