//! `/proc/sys/kernel/random/{entropy_avail,poolsize}` → `node_entropy_available_bits`,
//! `node_entropy_pool_size_bits`; node_exporter's entropy collector. Each file holds one
//! decimal number (`256\n`), see random(4), "/proc interfaces".

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::lex;
use crate::source::File;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "entropy", default_enabled: true, flags: &[], blocking: false, build };

const AVAIL: &str = "proc/sys/kernel/random/entropy_avail";
const POOLSIZE: &str = "proc/sys/kernel/random/poolsize";

#[derive(Debug)]
struct Entropy {
    avail: File,
    poolsize: File,
    buf: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Entropy {
        avail: File::new(b.paths.proc("sys/kernel/random/entropy_avail")),
        poolsize: File::new(b.paths.proc("sys/kernel/random/poolsize")),
        buf: Vec::new(),
    }))
}

impl Collector for Entropy {
    // Upstream reads these two through procfs' `KernelRandom`, which also reads three files it
    // does not report (`urandom_min_reseed_secs`, the wakeup thresholds) and fails on their
    // errors too; reading only what is reported saves three reads per scrape.
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let src = self.avail.read_attr(&mut self.buf).map_err(Error::read(AVAIL))?;
        let avail = parse(src).map_err(Error::parse(AVAIL))?;
        let src = self.poolsize.read_attr(&mut self.buf).map_err(Error::read(POOLSIZE))?;
        let poolsize = parse(src).map_err(Error::parse(POOLSIZE))?;
        emit(enc, avail, poolsize);
        Ok(())
    }
}

/// Parses one of the files: a decimal number with surrounding whitespace, as
/// `strconv.ParseUint(strings.TrimSpace(..))`.
pub fn parse(src: &[u8]) -> Result<u64, ParseError> {
    lex::parse_u64(lex::trim(src)).ok_or(ParseError::at(1, "expected an unsigned integer"))
}

/// Adds both families to `enc`.
pub fn emit(enc: &mut Encoder, avail: u64, poolsize: u64) {
    let f = enc.family("node_entropy_available_bits", "Bits of available entropy.", Kind::Gauge);
    enc.sample_u64(f, &[], avail);
    let f = enc.family("node_entropy_pool_size_bits", "Bits of entropy pool.", Kind::Gauge);
    enc.sample_u64(f, &[], poolsize);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build_with, fixtures, put, render, tmpdir, try_scrape,
    };
    use crate::collector::{Settings, Shared};
    use crate::source::Paths;
    use rustix::io::Errno;

    fn collector(paths: &Paths) -> Box<dyn Collector> {
        build_with(&SPEC, paths, &Settings::new(), &Shared::default(), &[]).unwrap()
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = collector(&Paths::under(root));
        let text = try_scrape(&mut *c).unwrap();
        assert_matches_e2e(&text);
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 2);
    }

    #[test]
    fn values() {
        let text = render(|enc| emit(enc, parse(b"  256\n").unwrap(), parse(b"4096").unwrap()));
        assert!(text.contains("\nnode_entropy_available_bits 256\n"));
        assert!(text.contains("\nnode_entropy_pool_size_bits 4096\n"));
    }

    #[test]
    fn bad_input() {
        for src in [&b""[..], b"\n", b"-1", b"12 34", b"1.5", b"18446744073709551616", b"x"] {
            assert!(parse(src).is_err(), "{src:?}");
        }
        assert_eq!(parse(b"18446744073709551615\n"), Ok(u64::MAX));

        let d = tmpdir("entropy-bad");
        let paths = Paths::under(&d);
        let mut c = collector(&paths);
        // Both missing, then only the pool size missing: an error, and nothing half-written.
        assert!(matches!(
            try_scrape(&mut *c),
            Err(Error::Read { path: AVAIL, errno: Errno::NOENT })
        ));
        put(&d, "proc/sys/kernel/random/entropy_avail", "256\n");
        assert!(matches!(try_scrape(&mut *c), Err(Error::Read { path: POOLSIZE, .. })));
        put(&d, "proc/sys/kernel/random/poolsize", "many\n");
        assert!(matches!(try_scrape(&mut *c), Err(Error::Parse { path: POOLSIZE, .. })));
        put(&d, "proc/sys/kernel/random/poolsize", "256\n");
        assert!(try_scrape(&mut *c).unwrap().contains("node_entropy_pool_size_bits 256\n"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
