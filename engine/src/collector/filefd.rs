//! `/proc/sys/fs/file-nr` → `node_filefd_allocated`, `node_filefd_maximum`; node_exporter's
//! filefd collector. One line of three tab-separated numbers, allocated, free (always 0 since
//! 2.6) and maximum: `1024\t0\t1631329`, see proc_sys_fs(5).

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "filefd", default_enabled: true, flags: &[], blocking: false, build };

const PATH: &str = "proc/sys/fs/file-nr";

#[derive(Debug)]
struct Filefd {
    file: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Filefd { file: File::new(b.paths.proc("sys/fs/file-nr")), buf: Vec::new() }))
}

impl Collector for Filefd {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.file.read(&mut self.buf).map_err(Error::read(PATH))?;
        scan(src, enc).map_err(Error::parse(PATH))
    }
}

/// Scans the file's text into `enc`; adds nothing unless both reported values parse.
///
/// As upstream, the trimmed text is split on tabs only and needs at least three parts; the
/// first and third are parsed as floats, the second is not looked at.
pub fn scan(src: &[u8], enc: &mut Encoder) -> Result<(), ParseError> {
    let mut parts = lex::trim(src).split(|&b| b == b'\t');
    let (Some(allocated), Some(_), Some(maximum)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::at(1, "expected three tab-separated values"));
    };
    let allocated = lex::parse_f64(allocated).ok_or(ParseError::at(1, "invalid allocated"))?;
    let maximum = lex::parse_f64(maximum).ok_or(ParseError::at(1, "invalid maximum"))?;
    for (stem, v) in [("allocated", allocated), ("maximum", maximum)] {
        let f = enc.family_parts(
            &[b"node_filefd_", stem.as_bytes()],
            &[b"File descriptor statistics: ", stem.as_bytes(), b"."],
            Kind::Gauge,
        );
        enc.sample(f, &[], v);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{assert_e2e_families, render};

    #[test]
    fn fixture_matches_upstream() {
        assert_e2e_families("proc/sys/fs/file-nr", |src, enc| scan(src, enc).unwrap());
    }

    #[test]
    fn values() {
        let text = render(|enc| scan(b"9472\t0\t9223372036854775807\t7\n", enc).unwrap());
        assert_eq!(
            text,
            "# HELP node_filefd_allocated File descriptor statistics: allocated.\n\
             # TYPE node_filefd_allocated gauge\n\
             node_filefd_allocated 9472\n\
             # HELP node_filefd_maximum File descriptor statistics: maximum.\n\
             # TYPE node_filefd_maximum gauge\n\
             node_filefd_maximum 9.223372036854776e+18\n"
        );
        // The free count is never parsed.
        assert!(render(|enc| scan(b"1\tx\t2", enc).unwrap()).contains("node_filefd_maximum 2\n"));
    }

    #[test]
    fn bad_input() {
        for src in [
            &b""[..],
            b"\n",
            b"1024\t0",
            b"1024 0 1631329\n",
            b"1024\t0\tmany\n",
            b"x\t0\t1\n",
            b"1024 \t0\t1\n",
        ] {
            let mut enc = Encoder::new();
            assert!(scan(src, &mut enc).is_err(), "{src:?}");
            let mut out = Vec::new();
            enc.finish(&mut out);
            assert!(out.is_empty(), "a failed scan left samples behind");
        }
    }
}
