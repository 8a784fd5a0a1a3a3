//! `/proc/loadavg` → `node_load1`, `node_load5`, `node_load15`; node_exporter's loadavg
//! collector. One line, see proc(5): `0.21 0.37 0.39 1/719 19737`.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "loadavg", default_enabled: true, flags: &[], blocking: false, build };

const PATH: &str = "proc/loadavg";

#[derive(Debug)]
struct Loadavg {
    file: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Loadavg { file: File::new(b.paths.proc("loadavg")), buf: Vec::new() }))
}

impl Collector for Loadavg {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc).map_err(Error::parse(PATH))
    }
}

/// Scans the file's text into `enc`; adds nothing unless the three averages parse.
pub fn scan(src: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    let mut fields = lex::fields(src);
    let mut loads = [0.0; 3];
    for load in &mut loads {
        *load = fields
            .next()
            .and_then(lex::parse_f64)
            .ok_or(ParseError::at(1, "expected three load averages"))?;
    }
    let names = [("node_load1", "1m"), ("node_load5", "5m"), ("node_load15", "15m")];
    for ((name, span), load) in names.into_iter().zip(loads) {
        let help: &[u8] = span.as_bytes();
        let f = enc.family_parts(&[name.as_bytes()], &[help, b" load average."], Kind::Gauge);
        enc.sample(f, &[], load);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{assert_e2e_families, render};

    #[test]
    fn fixture_matches_upstream() {
        assert_e2e_families("proc/loadavg", |src, enc| scan(src, enc).unwrap());
    }

    #[test]
    fn values() {
        let text = render(|enc| scan(b"1.5 0.00 12.25 3/100 7\n", enc).unwrap());
        assert!(text.contains("\nnode_load1 1.5\n"));
        assert!(text.contains("\nnode_load5 0\n"));
        assert!(text.contains("\nnode_load15 12.25\n"));
    }

    #[test]
    fn malformed() {
        for src in [&b""[..], b"0.1 0.2", b"0.1 x 0.3 1/2 3", b"\n\n"] {
            let mut enc = Encoder::new();
            assert!(scan(src, &mut enc).is_err(), "{src:?}");
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
    }
}
