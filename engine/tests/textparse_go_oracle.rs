//! The text parser against Go's: every input of `data/textparse-go.txt` must be accepted or
//! rejected as `expfmt.TextParser` (prometheus/common v0.53.0, run on amd64) did, with the
//! same families, metrics and values, or the same error message.
//!
//! Each line of the data file is `hex(input) <tab> result`, where the result is `E hex(message)`
//! or `O` followed by the families in name order, each `F name help type;` then its metrics
//! `M labels [@timestamp] value;`, with text in hex and floats as their IEEE bits: the form
//! [`dump`] writes. The inputs are random expositions, mutations of them and the error cases
//! of the unit tests; the results were produced by running each through Go's parser.
//! `TEXTPARSE_ORACLE=<file>` points the test at a larger file of the same form.

use engine::textparse::{Store, Type, Value};
use std::fmt::Write;

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::from("x"), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn bits(v: f64) -> String {
    format!("{:016x}", v.to_bits())
}

fn dump(src: &[u8], store: &mut Store) -> String {
    let fams = match store.parse(src) {
        Ok(f) => f,
        Err(e) => return format!("E {}", hex(e.to_string().as_bytes()).trim_start_matches('x')),
    };
    let mut fams: Vec<_> = fams.iter().collect();
    fams.sort_by_key(|f| f.name());
    let mut out = String::from("O ");
    for f in fams {
        let help = f.help().map_or("-".to_owned(), hex);
        let kind = match f.kind() {
            Type::Counter => 0,
            Type::Gauge => 1,
            Type::Summary => 2,
            Type::Untyped => 3,
            Type::Histogram => 4,
            Type::GaugeHistogram => 5,
        };
        let _ = write!(out, "F {} {help} {kind};", hex(f.name().as_bytes()));
        for m in f.metrics() {
            out.push('M');
            for (name, value) in m.labels() {
                let _ = write!(out, " {}={}", hex(name.as_bytes()), hex(value));
            }
            if let Some(ts) = m.timestamp_ms() {
                let _ = write!(out, " @{ts}");
            }
            match m.value() {
                Value::Counter(v) => out += &format!(" c{}", bits(v)),
                Value::Gauge(v) => out += &format!(" g{}", bits(v)),
                Value::Untyped(v) => out += &format!(" u{}", bits(v)),
                Value::Summary(s) => {
                    let _ = write!(out, " s{}/{}", s.count, bits(s.sum));
                    for (q, v) in s.quantiles() {
                        let _ = write!(out, " q{}={}", bits(q), bits(v));
                    }
                }
                Value::Histogram(h) => {
                    let _ = write!(out, " h{}/{}", h.count, bits(h.sum));
                    for (le, n) in h.buckets() {
                        let _ = write!(out, " b{}={n}", bits(le));
                    }
                }
                Value::GaugeHistogram => out.push_str(" none"),
            }
            out.push(';');
        }
    }
    out
}

fn unhex(s: &str) -> Result<Vec<u8>, std::num::ParseIntError> {
    (0..s.len() / 2).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16)).collect()
}

#[test]
fn matches_go() {
    let path = std::env::var("TEXTPARSE_ORACLE").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/textparse-go.txt").into()
    });
    let text = std::fs::read_to_string(&path).unwrap();
    let mut store = Store::new();
    let (mut bad, mut total) = (0, 0);
    for line in text.lines() {
        let (input, want) = line.split_once('\t').unwrap();
        let src = unhex(input).unwrap();
        let got = dump(&src, &mut store);
        total += 1;
        if got != want {
            bad += 1;
            if bad <= 10 {
                eprintln!("input {:?}\n want {want}\n  got {got}", String::from_utf8_lossy(&src));
            }
        }
    }
    assert!(total > 0);
    assert_eq!(bad, 0, "{bad} of {total} inputs differ from Go");
}
