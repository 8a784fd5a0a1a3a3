//! The property the push targets share: a push the store accepts re-encodes and re-parses to
//! the same samples, and a push it refuses leaves the store as it was.
//!
//! Accepted: the body pushed into a fresh store scrapes to some text; that text pushed into
//! another fresh store under the same grouping key is accepted and scrapes to the same bytes
//! (less the NaN bucket bounds and quantiles a protobuf push may hold: the text parser drops
//! those lines, as Go's does), and so does the first store's protobuf scrape pushed as
//! protobuf. Refused: a store holding two groups (one of them the group pushed to) scrapes, as
//! text and as protobuf, and lists its groups through `/api/v1/metrics` byte for byte as
//! before. A refusal recorded as a failed push changes exactly the group's
//! `push_failure_time_seconds`, so only that is allowed to differ, in the text scrape.

use gateway::group::Group;
use gateway::op::{Format, Kind, Op, Volatile};
use gateway::store::{Pushed, Scratch, Store};

/// A group present before the fuzzed push, untouched by it.
const OTHER: &[u8] = b"# HELP other A group the push does not touch.\n# TYPE other gauge\n\
other{x=\"1\"} 1\nother{x=\"2\"} NaN\n";

/// The pushed-to group's content before the fuzzed push.
const BEFORE: &[u8] =
    b"# TYPE m counter\nm{a=\"1\"} 1\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n";

/// Checks one push: the first byte's low bit turns the consistency check on, the rest is the
/// body in `format`.
pub fn check(format: Format, data: &[u8]) {
    let Some((&flags, body)) = data.split_first() else { return };
    let checked = flags & 1 == 1;
    let mut s = Scratch::new();

    let store = Store::new();
    push_ok(&store, &mut s, b"other", Format::Text, OTHER, 1);
    push_ok(&store, &mut s, b"a", Format::Text, BEFORE, 1);
    let before = views(&store, &mut s);
    match push(&store, &mut s, b"a", format, body, 2, checked) {
        Pushed::Stored => {}
        Pushed::Refused { recorded: false, .. } | Pushed::Limited { .. } | Pushed::Journal(_) => {
            let after = views(&store, &mut s);
            assert!(before == after, "a refused push changed the store: {}", s.message());
        }
        Pushed::Refused { recorded: true, .. } => {
            let after = views(&store, &mut s);
            assert_eq!(
                without_failure_time(&before.0),
                without_failure_time(&after.0),
                "a push refused as failed changed more than its failure time"
            );
        }
    }

    let first = Store::new();
    if !matches!(push(&first, &mut s, b"a", format, body, 1, checked), Pushed::Stored) {
        return;
    }
    let (text, proto, _) = views(&first, &mut s);
    for (again, fmt) in [(&text, Format::Text), (&proto, Format::Protobuf)] {
        let second = Store::new();
        let pushed = push(&second, &mut s, b"a", fmt, again, 1, checked);
        assert!(
            matches!(pushed, Pushed::Stored),
            "the store's own {fmt:?} scrape was refused: {}\n{}",
            s.message(),
            String::from_utf8_lossy(&text)
        );
        let (round, _, _) = views(&second, &mut s);
        let expected = match fmt {
            // Text cannot carry a NaN bucket bound or quantile: the text parser drops such a
            // line, as Go's does, though a protobuf push may hold one.
            Format::Text => without_nan_bounds(&text),
            _ => text.clone(),
        };
        assert!(
            round == expected,
            "{fmt:?} round trip differs:\n{}\n---\n{}",
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(&round)
        );
    }
}

fn push(
    store: &Store,
    s: &mut Scratch,
    job: &[u8],
    format: Format,
    body: &[u8],
    time_ms: i64,
    checked: bool,
) -> Pushed {
    let op = Op {
        kind: Kind::Put,
        format,
        time_ms,
        labels: [(&b"job"[..], job)].into_iter().collect(),
        body,
    };
    store.push(s, &Volatile, &op, checked)
}

fn push_ok(store: &Store, s: &mut Scratch, job: &[u8], format: Format, body: &[u8], t: i64) {
    let pushed = push(store, s, job, format, body, t, true);
    assert!(matches!(pushed, Pushed::Stored), "setup push refused: {}", s.message());
}

/// The store's text scrape, protobuf scrape and group listing.
fn views(store: &Store, s: &mut Scratch) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut text = Vec::new();
    store.scrape(s, &Group::default(), false, &mut text);
    let mut proto = Vec::new();
    store.scrape(s, &Group::default(), true, &mut proto);
    let mut json = Vec::new();
    store.json_metrics(s, &mut json);
    (text, proto, json)
}

fn without_nan_bounds(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for line in text.split_inclusive(|&b| b == b'\n') {
        let has = |label: &[u8]| {
            line.windows(label.len() + 1).any(|w| matches!(w[0], b'{' | b',') && &w[1..] == label)
        };
        if line.starts_with(b"#") || !(has(b"le=\"NaN\"") || has(b"quantile=\"NaN\"")) {
            out.extend_from_slice(line);
        }
    }
    out
}

fn without_failure_time(text: &[u8]) -> Vec<&[u8]> {
    text.split(|&b| b == b'\n').filter(|l| !l.starts_with(b"push_failure_time_seconds")).collect()
}
