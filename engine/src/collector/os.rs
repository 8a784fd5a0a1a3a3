//! `<rootfs>/etc/os-release`, else `<rootfs>/usr/lib/os-release` → `node_os_info{...}`,
//! `node_os_version{id,id_like,name}`, `node_os_support_end_timestamp_seconds`; node_exporter's
//! os collector. Shell-style `KEY=value` lines, see os-release(5):
//! `PRETTY_NAME="Ubuntu 20.04.2 LTS"`.
//!
//! Package managers replace these files by rename, so each scrape opens, reads and closes the
//! file (as upstream has since 1.8.0) rather than keeping an fd on a copy that may be gone. The
//! decoded values go into one reused buffer.

use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind, Label};
use crate::lex;
use crate::source::{c_path, Transient};
use rustix::io::Errno;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "os", default_enabled: true, flags: &[], blocking: false, build };

/// The files tried in turn, under the root file system.
const FILES: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

const INFO_HELP: &str = "A metric with a constant '1' value labeled by build_id, id, id_like, \
                         image_id, image_version, name, pretty_name, variant, variant_id, \
                         version, version_codename, version_id.";

/// The keys read, in [`Release`]'s order; the first twelve are `node_os_info`'s labels.
const KEYS: [(&str, &str); 13] = [
    ("BUILD_ID", "build_id"),
    ("ID", "id"),
    ("ID_LIKE", "id_like"),
    ("IMAGE_ID", "image_id"),
    ("IMAGE_VERSION", "image_version"),
    ("NAME", "name"),
    ("PRETTY_NAME", "pretty_name"),
    ("VARIANT", "variant"),
    ("VARIANT_ID", "variant_id"),
    ("VERSION", "version"),
    ("VERSION_CODENAME", "version_codename"),
    ("VERSION_ID", "version_id"),
    ("SUPPORT_END", "support_end"),
];

const ID: usize = 1;
const ID_LIKE: usize = 2;
const NAME: usize = 5;
const VERSION_ID: usize = 11;
const SUPPORT_END: usize = 12;

#[derive(Debug)]
struct Os {
    paths: [CString; 2],
    buf: Vec<u8>,
    values: Vec<u8>,
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    // Upstream appends the names to `--path.rootfs` as strings, without a path join.
    let root = b.paths.rootfs.as_os_str().as_bytes();
    let paths = FILES.map(|f| c_path(OsStr::from_bytes(&[root, f.as_bytes()].concat()).as_ref()));
    Ok(Box::new(Os { paths, buf: Vec::new(), values: Vec::new() }))
}

impl Collector for Os {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        for (path, name) in self.paths.iter().zip(FILES) {
            let file = match Transient::open(path) {
                Ok(f) => f,
                Err(Errno::NOENT) => continue,
                Err(errno) => return Err(Error::Read { path: name, errno }),
            };
            let src = file.read(&mut self.buf).map_err(Error::read(name))?;
            let release = parse(src, &mut self.values).map_err(Error::parse(name))?;
            return emit(enc, &release, &self.values).map_err(Error::parse(name));
        }
        // Upstream also tries macOS's SystemVersion.plist here, which a Linux root lacks.
        Err(Error::NoData)
    }
}

/// The values of the keys reported (`NAME`, `ID`, ..., `SUPPORT_END`) in a file, as ranges of
/// the decoded-values buffer (empty if unset).
#[derive(Clone, Copy, Debug, Default)]
pub struct Release {
    fields: [(u32, u32); 13],
}

impl Release {
    /// The value of [`KEYS`]`[i]`.
    fn get<'v>(&self, values: &'v [u8], i: usize) -> &'v [u8] {
        let (a, b) = self.fields[i];
        &values[a as usize..b as usize]
    }
}

/// Parses an os-release file as hashicorp's go-envparse v0.1.0 does, decoding values into
/// `values` (cleared first). A key given twice keeps its last value, even an empty one.
///
/// # Errors
/// The first line go-envparse rejects: no `=`, a key not of the form `[A-Za-z_][A-Za-z0-9_./]*`
/// (after an optional `export `), a control character in the value, an unmatched quote, or a
/// bad escape.
pub fn parse(src: &[u8], values: &mut Vec<u8>) -> Result<Release, ParseError> {
    values.clear();
    let mut release = Release::default();
    for (n, line) in lex::lines(src).enumerate() {
        let start = values.len();
        let key = parse_line(line, values).map_err(|what| ParseError::at(n + 1, what))?;
        let Some(key) = key else { continue };
        match KEYS.iter().position(|(k, _)| k.as_bytes() == key) {
            Some(i) => release.fields[i] = (start as u32, values.len() as u32),
            None => values.truncate(start),
        }
    }
    Ok(release)
}

/// Parses one line, appending its decoded value to `out`; the key, or `None` for a blank or
/// comment line.
fn parse_line<'l>(line: &'l [u8], out: &mut Vec<u8>) -> Result<Option<&'l [u8]>, &'static str> {
    let line = lex::trim_unicode(line);
    if line.is_empty() || line[0] == b'#' {
        return Ok(None);
    }
    let eq = memchr::memchr(b'=', line).ok_or("missing =")?;
    let mut key = lex::trim_unicode(&line[..eq]);
    let value = lex::trim_unicode(&line[eq + 1..]);
    // `export ` goes only if a key follows it.
    if key.len() > b"export ".len() {
        key = key.strip_prefix(b"export ").unwrap_or(key);
    }
    let (&first, rest) = key.split_first().ok_or("empty key")?;
    if !(first.is_ascii_alphabetic() || first == b'_') {
        return Err("key must start with [A-Za-z_]");
    }
    if !rest.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'/')) {
        return Err("key characters must be [A-Za-z0-9/_.]");
    }
    decode_value(value, out)?;
    Ok(Some(key))
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Normal,
    Double,
    Single,
    Escape,
}

/// Decodes a value as go-envparse does: `"..."` with JSON escapes, `'...'` literal, an
/// unquoted `#` starting a comment (the value then ends at the last significant byte).
fn decode_value(value: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    let start = out.len();
    // Length of the value up to its last significant byte, relative to `start`.
    let mut last_sig = 0;
    let mut mode = Mode::Normal;
    let mut i = 0;
    while i < value.len() {
        let v = value[i];
        if v < 32 {
            return Err("control character in value");
        }
        if v > 127 {
            if mode == Mode::Escape {
                return Err("multibyte characters disallowed in escape sequences");
            }
            // go-envparse marks the byte significant before writing it, so a comment after
            // a multibyte character cuts its last byte; kept as it is.
            last_sig = out.len() - start;
            out.push(v);
            i += 1;
            continue;
        }
        match mode {
            Mode::Normal => match v {
                b'"' => mode = Mode::Double,
                b'\'' => mode = Mode::Single,
                b'#' => {
                    out.truncate(start + last_sig);
                    return Ok(());
                }
                b' ' => out.push(v),
                _ => {
                    out.push(v);
                    last_sig = out.len() - start;
                }
            },
            Mode::Double => match v {
                b'"' => mode = Mode::Normal,
                b'\\' => mode = Mode::Escape,
                _ => {
                    out.push(v);
                    last_sig = out.len() - start;
                }
            },
            Mode::Single => match v {
                b'\'' => mode = Mode::Normal,
                _ => {
                    out.push(v);
                    last_sig = out.len() - start;
                }
            },
            Mode::Escape => {
                match v {
                    b'"' | b'\\' | b'/' => out.push(v),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'r' => out.push(b'\r'),
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'u' => {
                        let mut r = hex4(&value[i + 1..])?;
                        i += 4;
                        if (0xd800..0xe000).contains(&r) {
                            if value.len() < i + 6 || value[i + 1] != b'\\' || value[i + 2] != b'u'
                            {
                                return Err("incomplete Unicode surrogate pair");
                            }
                            let r2 = hex4(&value[i + 3..])?;
                            i += 6;
                            r = match (
                                (0xd800..0xdc00).contains(&r),
                                (0xdc00..0xe000).contains(&r2),
                            ) {
                                (true, true) => 0x10000 + ((r - 0xd800) << 10) + (r2 - 0xdc00),
                                _ => 0xfffd,
                            };
                        }
                        let c = char::from_u32(r).unwrap_or('\u{fffd}');
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    _ => return Err("invalid escape sequence"),
                }
                last_sig = out.len() - start;
                mode = Mode::Double;
            }
        }
        i += 1;
    }
    match mode {
        Mode::Normal => Ok(()),
        Mode::Double => Err("unmatched \""),
        Mode::Single => Err("unmatched '"),
        Mode::Escape => Err("incomplete escape sequence"),
    }
}

/// Four hex digits at the start of `s`, as go-envparse's `h2r`.
fn hex4(s: &[u8]) -> Result<u32, &'static str> {
    let digits = s.get(..4).ok_or("incomplete hex sequence")?;
    let mut r = 0;
    for &d in digits {
        let v = (d as char).to_digit(16).ok_or("invalid hex character")?;
        r = r * 16 + v;
    }
    Ok(r)
}

/// Adds the families for `release`, whose values are in `values`.
///
/// # Errors
/// A `VERSION_ID` whose leading number overflows a float, a `SUPPORT_END` that is not a
/// `YYYY-MM-DD` date, or a label value that is not UTF-8 (upstream panics on it).
pub fn emit(enc: &mut Encoder, release: &Release, values: &[u8]) -> Result<(), ParseError> {
    let value = |i| release.get(values, i);
    let err = |what| ParseError::at(0, what);
    // `^[0-9]+\.?[0-9]*`; none means no version metric.
    let version_id = value(VERSION_ID);
    let int = version_id.iter().take_while(|b| b.is_ascii_digit()).count();
    let version = match int {
        0 => 0.0,
        _ => {
            let mut end = int;
            if version_id.get(end) == Some(&b'.') {
                end += 1;
                end += version_id[end..].iter().take_while(|b| b.is_ascii_digit()).count();
            }
            lex::parse_f64(&version_id[..end]).ok_or(err("VERSION_ID out of range"))?
        }
    };
    let support_end = match value(SUPPORT_END) {
        b"" => None,
        date => Some(parse_date(date).ok_or(err("SUPPORT_END is not a YYYY-MM-DD date"))?),
    };
    if (0..12).any(|i| std::str::from_utf8(value(i)).is_err()) {
        return Err(err("value is not UTF-8"));
    }

    let labels: [Label<'_>; 12] = std::array::from_fn(|i| (KEYS[i].1, value(i)));
    let f = enc.family("node_os_info", INFO_HELP, Kind::Gauge);
    enc.sample(f, &labels, 1.0);
    if version > 0.0 {
        let f = enc.family(
            "node_os_version",
            "Metric containing the major.minor part of the OS version.",
            Kind::Gauge,
        );
        enc.sample(f, &[labels[ID], labels[ID_LIKE], labels[NAME]], version);
    }
    if let Some(seconds) = support_end {
        let f = enc.family(
            "node_os_support_end_timestamp_seconds",
            "Metric containing the end-of-life date timestamp of the OS.",
            Kind::Gauge,
        );
        enc.sample(f, &[], seconds as f64);
    }
    Ok(())
}

/// Seconds since the epoch of midnight UTC on the date `YYYY-MM-DD`, as Go's
/// `time.Parse(time.DateOnly, ..)`: exactly four, two and two digits, a real day.
fn parse_date(s: &[u8]) -> Option<i64> {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *s else { return None };
    let num = |digits: &[u8]| -> Option<i64> {
        digits
            .iter()
            .try_fold(0i64, |n, &d| d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (num(&[y0, y1, y2, y3])?, num(&[m0, m1])?, num(&[d0, d1])?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) {
        return None;
    }
    // Days from 1970-01-01 to the date (the proleptic Gregorian calendar, as Go uses).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fixtures, put, render, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    fn decode(line: &str) -> Result<Option<(String, String)>, &'static str> {
        let mut out = Vec::new();
        let key = parse_line(line.as_bytes(), &mut out)?;
        Ok(key.map(|k| {
            (String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(&out).into_owned())
        }))
    }

    fn pair(k: &str, v: &str) -> Result<Option<(String, String)>, &'static str> {
        Ok(Some((k.to_owned(), v.to_owned())))
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert_matches_e2e(&text);
        assert_eq!(scrape(c.as_mut()), text);
    }

    #[test]
    fn lines_as_go_envparse_reads_them() {
        assert_eq!(decode("  # comment"), Ok(None));
        assert_eq!(decode(""), Ok(None));
        assert_eq!(decode("NAME=\"Ubuntu\""), pair("NAME", "Ubuntu"));
        assert_eq!(decode("export ID = plain words  # note"), pair("ID", "plain words"));
        assert_eq!(decode("export=x"), pair("export", "x"));
        assert_eq!(decode("K='a \"b\" #c'd"), pair("K", "a \"b\" #cd"));
        assert_eq!(decode(r#"K="tab\tnl\n\u00e9\ud83d\ude00\/""#), pair("K", "tab\tnl\né😀/"));
        assert_eq!(decode(r#"K="\ud83dx""#), Err("incomplete Unicode surrogate pair"));
        assert_eq!(decode(r#"K="\ud83d\u0041""#), pair("K", "\u{fffd}"));
        assert_eq!(decode("K=a#b"), pair("K", "a"));
        assert_eq!(decode("K="), pair("K", ""));
        assert_eq!(decode("a.b/c_1=v"), pair("a.b/c_1", "v"));
        for (bad, what) in [
            ("KEY", "missing ="),
            ("=v", "empty key"),
            ("1K=v", "key must start with [A-Za-z_]"),
            ("K-1=v", "key characters must be [A-Za-z0-9/_.]"),
            ("K=a\tb", "control character in value"),
            ("K=\"open", "unmatched \""),
            ("K='open", "unmatched '"),
            ("K=\"x\\", "incomplete escape sequence"),
            ("K=\"\\q\"", "invalid escape sequence"),
            ("K=\"\\u12xy\"", "invalid hex character"),
            ("K=\"\\u1", "incomplete hex sequence"),
        ] {
            assert_eq!(decode(bad), Err(what), "{bad}");
        }
        // The comment after a multibyte character cuts its last byte, as go-envparse does.
        let mut out = Vec::new();
        parse_line("K=é #c".as_bytes(), &mut out).unwrap();
        assert_eq!(out, b"\xc3");
    }

    fn report(src: &str) -> Result<String, ParseError> {
        let mut values = Vec::new();
        let release = parse(src.as_bytes(), &mut values)?;
        let mut r = Ok(());
        let text = render(|enc| r = emit(enc, &release, &values));
        r.map(|()| text)
    }

    #[test]
    fn versions_and_support_end() {
        let text =
            report("ID=debian\nVERSION_ID=\"12\"\nSUPPORT_END=2028-06-30\nID=x\nID=\n").unwrap();
        assert!(text.contains("node_os_version{id=\"\",id_like=\"\",name=\"\"} 12\n"), "{text}");
        assert!(text.contains("\nnode_os_support_end_timestamp_seconds 1.845936e+09\n"), "{text}");
        assert!(!report("VERSION_ID=rolling\n").unwrap().contains("node_os_version"));
        assert!(!report("VERSION_ID=0.0\n").unwrap().contains("node_os_version"));
        assert!(report("VERSION_ID=7.\n").unwrap().contains("} 7\n"));
        assert!(report("VERSION_ID=39.1.2-beta\n").unwrap().contains("} 39.1\n"));
        assert!(report(&format!("VERSION_ID={}\n", "9".repeat(400))).is_err());
        for (date, seconds) in
            [("1970-01-01", 0), ("2000-02-29", 951_782_400), ("1969-12-31", -86_400)]
        {
            assert_eq!(parse_date(date.as_bytes()), Some(seconds), "{date}");
        }
        for bad in [
            "2023-02-29",
            "2023-13-01",
            "2023-00-10",
            "2023-01-00",
            "2023-1-01",
            "23-01-01",
            "2023-01-01 ",
            "2023/01/01",
        ] {
            assert_eq!(parse_date(bad.as_bytes()), None, "{bad}");
            assert!(report(&format!("SUPPORT_END=\"{bad}\"\n")).is_err());
        }
        assert!(report("NAME=\"\\u00e9\"\n").is_ok());
        let mut values = Vec::new();
        let release = parse(b"NAME=\xff\n", &mut values).unwrap();
        assert!(emit(&mut Encoder::new(), &release, &values).is_err());
    }

    #[test]
    fn files_tried_in_turn() {
        let root = tmpdir("os");
        let paths = Paths::under(&root);
        let mut c = build_spec(&SPEC, &paths, &Settings::new()).unwrap();
        assert_eq!(try_scrape(c.as_mut()), Err(Error::NoData));
        put(&root, "usr/lib/os-release", "ID=lib\n");
        assert!(try_scrape(c.as_mut()).unwrap().contains("id=\"lib\""));
        // A file replaced by rename is read anew.
        put(&root, "etc/os-release.tmp", "ID=etc\n");
        std::fs::rename(root.join("etc/os-release.tmp"), root.join("etc/os-release")).unwrap();
        assert!(try_scrape(c.as_mut()).unwrap().contains("id=\"etc\""));
        put(&root, "etc/os-release.tmp", "ID=new\n");
        std::fs::rename(root.join("etc/os-release.tmp"), root.join("etc/os-release")).unwrap();
        assert!(try_scrape(c.as_mut()).unwrap().contains("id=\"new\""));
        // A broken /etc file is an error, not a reason to read /usr/lib.
        put(&root, "etc/os-release", "ID=\"open\n");
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Parse { .. })));
        std::fs::remove_dir_all(&root).unwrap();

        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(c.as_mut()) {
                Ok(text) => assert!(text.contains("node_os_info{")),
                Err(e) => assert_eq!(e, Error::NoData),
            }
        }
    }
}
