//! The `--log.level` / `--log.format` logger: one line per record on standard error, in logfmt
//! (`ts=2024-05-10T12:00:00.000Z level=info msg="Listening on" address=[::]:9100`) or JSON, as
//! Prometheus's own programs write them, so existing log pipelines parse both.

use log::kv::{Key, Value, VisitSource};
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// The line format.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Format {
    /// `key=value` pairs.
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// Parses `--log.level`.
pub fn parse_level(s: &str) -> Result<LevelFilter, String> {
    match s {
        "debug" => Ok(LevelFilter::Debug),
        "info" => Ok(LevelFilter::Info),
        "warn" => Ok(LevelFilter::Warn),
        "error" => Ok(LevelFilter::Error),
        _ => Err(format!("unrecognized log level {s:?}: expected debug, info, warn or error")),
    }
}

/// Parses `--log.format`.
pub fn parse_format(s: &str) -> Result<Format, String> {
    match s {
        "logfmt" => Ok(Format::Logfmt),
        "json" => Ok(Format::Json),
        _ => Err(format!("unrecognized log format {s:?}: expected logfmt or json")),
    }
}

/// Installs the logger for the whole process.
pub fn init(level: LevelFilter, format: Format) {
    static LOGFMT: Logger = Logger { format: Format::Logfmt };
    static JSON: Logger = Logger { format: Format::Json };
    let logger = match format {
        Format::Logfmt => &LOGFMT,
        Format::Json => &JSON,
    };
    // A second call (tests) keeps the first logger; only the level changes.
    let _ = log::set_logger(logger);
    log::set_max_level(level);
}

#[derive(Debug)]
struct Logger {
    format: Format,
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format_record(self.format, SystemTime::now(), record);
        // One write per line so that lines from several threads do not interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Error => "error",
        Level::Warn => "warn",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "debug",
    }
}

fn format_record(format: Format, now: SystemTime, record: &Record<'_>) -> String {
    let mut line = String::with_capacity(128);
    let ts = rfc3339_millis(now);
    let msg = record.args().to_string();
    match format {
        Format::Logfmt => {
            let _ = write!(line, "ts={ts} level={}", level_name(record.level()));
            // A record may be only key-value pairs (`collector=cpu`), as go-kit logs them.
            if !msg.is_empty() {
                push_logfmt(&mut line, "msg", &msg);
            }
            let _ = record.key_values().visit(&mut LogfmtPairs(&mut line));
        }
        Format::Json => {
            line.push_str("{\"ts\":");
            push_json_str(&mut line, &ts);
            line.push_str(",\"level\":");
            push_json_str(&mut line, level_name(record.level()));
            if !msg.is_empty() {
                line.push_str(",\"msg\":");
                push_json_str(&mut line, &msg);
            }
            let _ = record.key_values().visit(&mut JsonPairs(&mut line));
            line.push('}');
        }
    }
    line.push('\n');
    line
}

struct LogfmtPairs<'a>(&'a mut String);

impl<'kvs> VisitSource<'kvs> for LogfmtPairs<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        push_logfmt(self.0, key.as_str(), &value.to_string());
        Ok(())
    }
}

struct JsonPairs<'a>(&'a mut String);

impl<'kvs> VisitSource<'kvs> for JsonPairs<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        self.0.push(',');
        push_json_str(self.0, key.as_str());
        self.0.push(':');
        push_json_str(self.0, &value.to_string());
        Ok(())
    }
}

/// Appends ` key=value`, quoting the value when it is empty or holds a space, `=`, `"` or a
/// control character.
fn push_logfmt(line: &mut String, key: &str, value: &str) {
    line.push(' ');
    line.push_str(key);
    line.push('=');
    let plain = !value.is_empty()
        && !value.chars().any(|c| c == ' ' || c == '=' || c == '"' || c.is_control());
    if plain {
        line.push_str(value);
        return;
    }
    line.push('"');
    for c in value.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\t' => line.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(line, "\\u{:04x}", c as u32);
            }
            c => line.push(c),
        }
    }
    line.push('"');
}

fn push_json_str(line: &mut String, s: &str) {
    line.push('"');
    for c in s.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(line, "\\u{:04x}", c as u32);
            }
            c => line.push(c),
        }
    }
    line.push('"');
}

/// `2024-05-10T12:00:00.123Z` for a time at or after the epoch.
fn rfc3339_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, dd) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Year, month and day of a day count since 1970-01-01, in the proleptic Gregorian calendar
/// (the era-based method: 400-year eras of 146,097 days).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_715_342_400_123);
        assert_eq!(rfc3339_millis(t), "2024-05-10T12:00:00.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339_millis(leap), "2000-02-29T00:00:00.000Z");
        let end = UNIX_EPOCH + Duration::from_secs(4_102_444_799); // 2099-12-31T23:59:59
        assert_eq!(rfc3339_millis(end), "2099-12-31T23:59:59.000Z");
    }

    #[test]
    fn logfmt_and_json_lines() {
        let t = UNIX_EPOCH + Duration::from_secs(86_400);
        let kvs: &[(&str, &str)] = &[("address", "[::]:9100"), ("err", "no such \"file\"")];
        let rec = Record::builder()
            .level(Level::Info)
            .args(format_args!("Listening on"))
            .key_values(&kvs)
            .build();
        assert_eq!(
            format_record(Format::Logfmt, t, &rec),
            "ts=1970-01-02T00:00:00.000Z level=info msg=\"Listening on\" address=[::]:9100 \
             err=\"no such \\\"file\\\"\"\n"
        );
        assert_eq!(
            format_record(Format::Json, t, &rec),
            "{\"ts\":\"1970-01-02T00:00:00.000Z\",\"level\":\"info\",\"msg\":\"Listening on\",\
             \"address\":\"[::]:9100\",\"err\":\"no such \\\"file\\\"\"}\n"
        );
    }

    #[test]
    fn level_and_format_flags() {
        assert_eq!(parse_level("warn"), Ok(LevelFilter::Warn));
        assert!(parse_level("verbose").unwrap_err().contains("verbose"));
        assert_eq!(parse_format("json"), Ok(Format::Json));
        assert!(parse_format("xml").is_err());
    }
}
