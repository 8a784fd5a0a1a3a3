//! The process's local time zone, resolved as Go's `time.Local` resolves it, so that
//! `node_time_zone_offset_seconds{time_zone}` names the zone and offset node_exporter would.
//!
//! Go reads `TZ` once: unset means `/etc/localtime`; empty means UTC; otherwise a leading `:` is
//! dropped, an absolute path names a TZif file, `UTC` is UTC, and any other name is looked up
//! under the zoneinfo directories. Anything that cannot be loaded falls back to UTC. Go does
//! not take `TZ` as a POSIX rule (`EST5EDT,M3.2.0,M11.1.0`) by itself; neither does this.
//!
//! A TZif file (RFC 9636, tzfile(5)) holds local time types (UTC offset, DST flag,
//! abbreviation), the transitions between them, and since version 2 a footer with a POSIX TZ
//! rule for times after the last transition. Version 2 and 3 files repeat the data with 64-bit
//! times after the 32-bit block; that second block is the one used. The rule covers today in
//! every current zone: zic's "slim" output stops listing transitions where the rule takes over.
//!
//! # Implementation notes
//!
//! Everything is parsed once, when the zone is loaded. A lookup ([`Zone::period`]) is a binary
//! search over the transitions and, past the last one, some integer arithmetic on the rule; it
//! allocates nothing, and the [`Period`] it returns says how long its answer holds, so a caller
//! asking every few seconds recomputes only when a period ends.

use std::ffi::OsStr;
use std::fmt;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Where Go looks for a zone named by `TZ`, in order.
pub const ZONEINFO_DIRS: [&str; 3] =
    ["/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/usr/lib/locale/TZ"];

/// The zone used when `TZ` is unset.
pub const LOCALTIME: &str = "/etc/localtime";

/// Largest TZif file read, as Go's limit; real ones are a few KiB.
const MAX_TZIF: u64 = 10 << 20;

/// Go's bounds for "since forever" and "until forever".
const ALPHA: i64 = i64::MIN;
const OMEGA: i64 = i64::MAX;

const SECS_PER_DAY: i64 = 86_400;
const SECS_PER_HOUR: i64 = 3_600;

/// A byte range in [`Zone`]'s name buffer.
type Span = (u32, u32);

/// A loaded time zone: what Go's `*time.Location` holds.
#[derive(Clone, Debug)]
pub struct Zone {
    /// Local time types; empty for UTC.
    types: Vec<LocalType>,
    /// `(UTC second, index into types)`, ascending; never empty when `types` is not.
    transitions: Vec<(i64, u8)>,
    /// Abbreviations: the file's, then the footer rule's.
    names: Vec<u8>,
    /// The footer rule, if the file has one and it parses.
    rule: Option<Rule>,
}

#[derive(Clone, Copy, Debug)]
struct LocalType {
    offset: i64,
    is_dst: bool,
    name: Span,
}

/// The zone's answer for an instant, and the span of instants `[start, end)` it holds for.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Period {
    /// First second (Unix time) with this answer.
    pub start: i64,
    /// First second after it.
    pub end: i64,
    /// Seconds east of UTC.
    pub offset: i64,
    /// Whether this is daylight saving time.
    pub is_dst: bool,
    name: Span,
}

impl Period {
    /// Whether `sec` falls in this period.
    pub fn contains(&self, sec: i64) -> bool {
        self.start <= sec && sec < self.end
    }
}

/// Why a TZif file was rejected (and the zone fell back to UTC).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum TzifError {
    /// It does not start with `TZif`.
    Magic,
    /// A version byte other than 0, `2` or `3` (Go accepts no other).
    Version,
    /// It ends before the counts in its header say.
    Truncated,
    /// It declares no local time types.
    NoTypes,
    /// A transition names a missing type, or a type a missing abbreviation.
    Index,
}

impl fmt::Display for TzifError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TzifError::Magic => "not a TZif file",
            TzifError::Version => "unsupported TZif version",
            TzifError::Truncated => "truncated TZif data",
            TzifError::NoTypes => "TZif file without local time types",
            TzifError::Index => "TZif index out of range",
        })
    }
}

impl std::error::Error for TzifError {}

impl Zone {
    /// Coordinated Universal Time, named `UTC`.
    pub fn utc() -> Zone {
        Zone { types: Vec::new(), transitions: Vec::new(), names: b"UTC".to_vec(), rule: None }
    }

    /// The local zone from the `TZ` environment variable and the system's files, as Go
    /// resolves it. Reads at most one or a few small files; allocates the zone's tables.
    pub fn local() -> Zone {
        let tz = std::env::var_os("TZ");
        let dirs = ZONEINFO_DIRS.map(Path::new);
        Zone::from_env(tz.as_deref().map(OsStrExt::as_bytes), Path::new(LOCALTIME), &dirs)
    }

    /// [`Zone::local`] for a given `TZ` value (`None`: unset), default zone file and zoneinfo
    /// directories.
    pub fn from_env(tz: Option<&[u8]>, localtime: &Path, dirs: &[&Path]) -> Zone {
        let loaded = match tz {
            None => load(localtime),
            Some(tz) => {
                let tz = tz.strip_prefix(b":").unwrap_or(tz);
                let path = Path::new(OsStr::from_bytes(tz));
                match tz {
                    b"" | b"UTC" => None,
                    _ if tz[0] == b'/' => load(path),
                    _ => dirs.iter().find_map(|dir| load(&dir.join(path))),
                }
            }
        };
        loaded.unwrap_or_else(Zone::utc)
    }

    /// Parses a TZif file.
    ///
    /// # Errors
    /// What made Go's `LoadLocationFromTZData` reject the same bytes. A footer rule that does
    /// not parse is not an error: as in Go, the last transition's type then holds for ever.
    pub fn from_tzif(data: &[u8]) -> Result<Zone, TzifError> {
        let mut r = Reader(data);
        if r.take(4)? != b"TZif" {
            return Err(TzifError::Magic);
        }
        let version = r.take(16)?[0];
        let wide = match version {
            0 => false,
            b'2' | b'3' => true,
            _ => return Err(TzifError::Version),
        };
        let mut counts = Counts::read(&mut r)?;
        if wide {
            // Skip the 32-bit block and the second header's magic and version, then read its
            // counts, which may differ.
            r.take(counts.block_len(4))?;
            r.take(20)?;
            counts = Counts::read(&mut r)?;
        }
        let time_size = if wide { 8 } else { 4 };
        let times = r.take(counts.times * time_size)?;
        let indices = r.take(counts.times)?;
        let types = r.take(counts.types * 6)?;
        let abbrevs = r.take(counts.chars)?;
        r.take(counts.leaps * (time_size + 4))?;
        r.take(counts.std_wall)?;
        r.take(counts.ut_local)?;
        let footer = match r.0 {
            [b'\n', rule @ .., b'\n'] if !rule.is_empty() => Some(rule),
            _ => None,
        };
        if counts.types == 0 {
            return Err(TzifError::NoTypes);
        }

        let mut zone = Zone {
            types: Vec::with_capacity(counts.types),
            transitions: Vec::with_capacity(counts.times.max(1)),
            names: Vec::new(),
            rule: None,
        };
        for t in types.chunks_exact(6) {
            let at = usize::from(t[5]);
            if at >= abbrevs.len() {
                return Err(TzifError::Index);
            }
            let abbrev = &abbrevs[at..];
            let abbrev = &abbrev[..memchr::memchr(0, abbrev).unwrap_or(abbrev.len())];
            zone.types.push(LocalType {
                offset: i64::from(i32::from_be_bytes([t[0], t[1], t[2], t[3]])),
                is_dst: t[4] != 0,
                name: push_name(&mut zone.names, abbrev),
            });
        }
        for (time, &index) in times.chunks_exact(time_size).zip(indices) {
            if usize::from(index) >= zone.types.len() {
                return Err(TzifError::Index);
            }
            let at = match *time {
                [a, b, c, d] => i64::from(i32::from_be_bytes([a, b, c, d])),
                [a, b, c, d, e, f, g, h] => i64::from_be_bytes([a, b, c, d, e, f, g, h]),
                _ => return Err(TzifError::Truncated),
            };
            zone.transitions.push((at, index));
        }
        if zone.transitions.is_empty() {
            // A fixed zone such as Etc/GMT+5: the first type holds from the beginning of time
            // (and the footer rule, if any, from there on).
            zone.transitions.push((ALPHA, 0));
        }
        zone.rule = footer.and_then(|f| Rule::parse(f, &mut zone.names));
        Ok(zone)
    }

    /// The zone's abbreviation in `period`, e.g. `CEST` or `-03`.
    pub fn name(&self, period: &Period) -> &[u8] {
        &self.names[period.name.0 as usize..period.name.1 as usize]
    }

    /// The local time type in force at `sec` (Unix time), as Go's `Location.lookup`.
    /// Allocates nothing.
    pub fn period(&self, sec: i64) -> Period {
        // Only UTC has no transitions: a loaded file gets a transition at ALPHA if it has none.
        let Some(&(first, _)) = self.transitions.first() else {
            return Period { start: ALPHA, end: OMEGA, offset: 0, is_dst: false, name: (0, 3) };
        };
        if sec < first {
            let t = self.types[self.first_type()];
            return Period {
                start: ALPHA,
                end: first,
                offset: t.offset,
                is_dst: t.is_dst,
                name: t.name,
            };
        }
        // The last transition at or before `sec`.
        let i = self.transitions.partition_point(|&(at, _)| at <= sec) - 1;
        let (start, index) = self.transitions[i];
        let end = self.transitions.get(i + 1).map_or(OMEGA, |&(at, _)| at);
        let t = self.types[usize::from(index)];
        let period = Period { start, end, offset: t.offset, is_dst: t.is_dst, name: t.name };
        match &self.rule {
            Some(rule) if i + 1 == self.transitions.len() => rule.period(start, sec),
            _ => period,
        }
    }

    /// The type in force before the first transition, chosen as Go chooses it: the first
    /// type unless a transition uses it; else the last standard type before the first
    /// transition's type if that one is DST; else the first standard type; else the first.
    fn first_type(&self) -> usize {
        if !self.transitions.iter().any(|&(_, index)| index == 0) {
            return 0;
        }
        let first = usize::from(self.transitions[0].1);
        if self.types[first].is_dst {
            if let Some(i) = (0..first).rev().find(|&i| !self.types[i].is_dst) {
                return i;
            }
        }
        self.types.iter().position(|t| !t.is_dst).unwrap_or(0)
    }
}

fn load(path: &Path) -> Option<Zone> {
    let mut data = Vec::new();
    std::fs::File::open(path).ok()?.take(MAX_TZIF + 1).read_to_end(&mut data).ok()?;
    if data.len() as u64 > MAX_TZIF {
        return None;
    }
    Zone::from_tzif(&data).ok()
}

fn push_name(names: &mut Vec<u8>, name: &[u8]) -> Span {
    let start = names.len() as u32;
    names.extend_from_slice(name);
    (start, names.len() as u32)
}

/// A cursor over TZif bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TzifError> {
        if n > self.0.len() {
            return Err(TzifError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
}

/// A TZif header's six counts.
struct Counts {
    ut_local: usize,
    std_wall: usize,
    leaps: usize,
    times: usize,
    types: usize,
    chars: usize,
}

impl Counts {
    fn read(r: &mut Reader<'_>) -> Result<Counts, TzifError> {
        let mut n = [0usize; 6];
        for v in &mut n {
            let b = r.take(4)?;
            *v = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
        }
        let [ut_local, std_wall, leaps, times, types, chars] = n;
        Ok(Counts { ut_local, std_wall, leaps, times, types, chars })
    }

    /// Length of the data block these counts describe, with `time_size`-byte times.
    fn block_len(&self, time_size: usize) -> usize {
        self.times * (time_size + 1)
            + self.types * 6
            + self.chars
            + self.leaps * (time_size + 4)
            + self.std_wall
            + self.ut_local
    }
}

/// A POSIX TZ rule as a TZif footer carries it: `CET-1CEST,M3.5.0,M10.5.0/3`.
#[derive(Clone, Copy, Debug)]
struct Rule {
    std: Span,
    /// Seconds east of UTC (the string's sign is the other way round).
    std_offset: i64,
    dst: Option<Dst>,
}

#[derive(Clone, Copy, Debug)]
struct Dst {
    name: Span,
    offset: i64,
    start: Date,
    end: Date,
}

/// When in the year a change happens, and at what local time (seconds after midnight).
#[derive(Clone, Copy, Debug)]
struct Date {
    day: Day,
    time: i64,
}

#[derive(Clone, Copy, Debug)]
enum Day {
    /// `Jn`: day 1 to 365, February 29th never counted.
    Julian(i64),
    /// `n`: day 0 to 365, counting February 29th in leap years.
    OfYear(i64),
    /// `Mm.w.d`: weekday `d` (0 = Sunday) of week `w` (5 = last) of month `m`.
    Weekday { month: i64, week: i64, weekday: i64 },
}

impl Rule {
    /// Parses a rule, adding its names to `names`. `None` where Go's `tzset` fails.
    fn parse(s: &[u8], names: &mut Vec<u8>) -> Option<Rule> {
        let (std, s) = rule_name(s)?;
        let (offset, s) = rule_offset(s)?;
        let std_offset = -offset;
        let std = push_name(names, std);
        if s.first().is_none_or(|&c| c == b',') {
            return Some(Rule { std, std_offset, dst: None });
        }
        let (dst, mut s) = rule_name(s)?;
        let dst_offset = if s.first().is_none_or(|&c| c == b',') {
            std_offset + SECS_PER_HOUR
        } else {
            let (offset, rest) = rule_offset(s)?;
            s = rest;
            -offset
        };
        // The US rules of 2007 are tzcode's default; `;` is accepted as tzcode does.
        let s: &[u8] = if s.is_empty() { b",M3.2.0,M11.1.0" } else { s };
        let s = s.strip_prefix(b",").or_else(|| s.strip_prefix(b";"))?;
        let (start, s) = rule_date(s)?;
        let (end, s) = rule_date(s.strip_prefix(b",")?)?;
        if !s.is_empty() {
            return None;
        }
        let name = push_name(names, dst);
        Some(Rule { std, std_offset, dst: Some(Dst { name, offset: dst_offset, start, end }) })
    }

    /// The period containing `sec`, when the last transition was at `last`: Go's `tzset`.
    fn period(&self, last: i64, sec: i64) -> Period {
        let std = Period {
            start: last,
            end: OMEGA,
            offset: self.std_offset,
            is_dst: false,
            name: self.std,
        };
        let Some(dst) = self.dst else { return std };

        let days = sec.div_euclid(SECS_PER_DAY);
        let year = civil_year(days);
        let year_start = days_from_civil(year, 1, 1);
        // As Go: the day of the (UTC) year plus the remainder of `sec`, truncated.
        let ysec = (days - year_start) * SECS_PER_DAY + sec % SECS_PER_DAY;
        let base = year_start.saturating_mul(SECS_PER_DAY);

        let mut start_sec = dst.start.utc_second(year, self.std_offset);
        let mut end_sec = dst.end.utc_second(year, dst.offset);
        let mut outside = (self.std, self.std_offset, false);
        let mut inside = (dst.name, dst.offset, true);
        // Southern hemisphere: summer time ends earlier in the calendar year than it starts.
        // Swap the two, so that the year's middle is standard time and its edges summer time.
        if end_sec < start_sec {
            std::mem::swap(&mut start_sec, &mut end_sec);
            std::mem::swap(&mut outside, &mut inside);
        }
        let at = |s: i64| base.saturating_add(s);
        // The periods outside [start, end) are cut at the year's edges, as in Go, except that
        // Go ends the year after 365 days even in a leap year; the true end keeps `sec` inside
        // the period returned, so that a caller can cache it.
        let next_year = days_from_civil(year + 1, 1, 1).saturating_mul(SECS_PER_DAY);
        let (start, end, (name, offset, is_dst)) = if ysec < start_sec {
            (base, at(start_sec), outside)
        } else if ysec >= end_sec {
            (at(end_sec), next_year, outside)
        } else {
            (at(start_sec), at(end_sec), inside)
        };
        Period { start, end, offset, is_dst, name }
    }
}

impl Date {
    /// Seconds from the start of `year` (UTC) to this date's change, for a zone `offset`
    /// seconds east of UTC before it.
    fn utc_second(&self, year: i64, offset: i64) -> i64 {
        let day = match self.day {
            Day::Julian(n) => n - 1 + i64::from(is_leap(year) && n >= 60),
            Day::OfYear(n) => n,
            Day::Weekday { month, week, weekday } => {
                // Zeller's congruence for the weekday of the month's first day, as Go has it.
                let m1 = (month + 9) % 12 + 1;
                let yy0 = if month <= 2 { year - 1 } else { year };
                let (yy1, yy2) = (yy0 / 100, yy0 % 100);
                let mut first = ((26 * m1 - 2) / 10 + 1 + yy2 + yy2 / 4 + yy1 / 4 - 2 * yy1) % 7;
                if first < 0 {
                    first += 7;
                }
                let mut d = weekday - first;
                if d < 0 {
                    d += 7;
                }
                for _ in 1..week {
                    if d + 7 >= days_in_month(month, year) {
                        break;
                    }
                    d += 7;
                }
                d + DAYS_BEFORE[(month - 1) as usize] + i64::from(is_leap(year) && month > 2)
            }
        };
        day * SECS_PER_DAY + self.time - offset
    }
}

/// Days before each month in a common year.
const DAYS_BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(month: i64, year: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let (era, yoe) = (y.div_euclid(400), y.rem_euclid(400));
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of the day `days` after 1970-01-01.
fn civil_year(days: i64) -> i64 {
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let march_based_month = (5 * doy + 2) / 153;
    era * 400 + yoe + i64::from(march_based_month >= 10)
}

/// A zone name: three or more characters up to a digit, sign or comma, or anything between
/// `<` and `>`.
fn rule_name(s: &[u8]) -> Option<(&[u8], &[u8])> {
    if let Some(quoted) = s.strip_prefix(b"<") {
        let end = memchr::memchr(b'>', quoted)?;
        return Some((&quoted[..end], &quoted[end + 1..]));
    }
    let end =
        s.iter().position(|c| matches!(c, b'0'..=b'9' | b',' | b'-' | b'+')).unwrap_or(s.len());
    (end >= 3).then(|| s.split_at(end))
}

/// `[+-]hh[:mm[:ss]]`, hours up to 167 as tzcode allows; seconds west of UTC as written.
fn rule_offset(s: &[u8]) -> Option<(i64, &[u8])> {
    let (negative, s) = match s.first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let (hours, mut s) = rule_number(s, 0, 24 * 7)?;
    let mut secs = hours * SECS_PER_HOUR;
    for unit in [60, 1] {
        let Some(rest) = s.strip_prefix(b":") else { break };
        let (n, rest) = rule_number(rest, 0, 59)?;
        secs += n * unit;
        s = rest;
    }
    Some((if negative { -secs } else { secs }, s))
}

/// `Jn`, `n` or `Mm.w.d`, then an optional `/time` (default 02:00).
fn rule_date(s: &[u8]) -> Option<(Date, &[u8])> {
    let (day, s) = if let Some(s) = s.strip_prefix(b"J") {
        let (n, s) = rule_number(s, 1, 365)?;
        (Day::Julian(n), s)
    } else if let Some(s) = s.strip_prefix(b"M") {
        let (month, s) = rule_number(s, 1, 12)?;
        let (week, s) = rule_number(s.strip_prefix(b".")?, 1, 5)?;
        let (weekday, s) = rule_number(s.strip_prefix(b".")?, 0, 6)?;
        (Day::Weekday { month, week, weekday }, s)
    } else {
        let (n, s) = rule_number(s, 0, 365)?;
        (Day::OfYear(n), s)
    };
    match s.strip_prefix(b"/") {
        None => Some((Date { day, time: 2 * SECS_PER_HOUR }, s)),
        Some(s) => {
            let (time, s) = rule_offset(s)?;
            Some((Date { day, time }, s))
        }
    }
}

/// Leading decimal digits within `[min, max]`.
fn rule_number(s: &[u8], min: i64, max: i64) -> Option<(i64, &[u8])> {
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let mut n = 0i64;
    for &c in &s[..digits] {
        n = n * 10 + i64::from(c - b'0');
        if n > max {
            return None;
        }
    }
    (n >= min).then_some((n, &s[digits..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A TZif file: `types` as (UTC offset, DST, abbreviation), `transitions` as (time, type).
    /// Version 0 writes one 32-bit block; `b'2'` and up write a 32-bit block holding only the
    /// transitions that fit, the 64-bit block, and the footer.
    fn tzif(
        version: u8,
        types: &[(i32, bool, &str)],
        trans: &[(i64, u8)],
        footer: &str,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let block = |wide: bool, out: &mut Vec<u8>| {
            let trans: Vec<_> =
                trans.iter().filter(|(t, _)| wide || i32::try_from(*t).is_ok()).collect();
            let mut chars = Vec::new();
            let mut at = Vec::new();
            for (_, _, name) in types {
                at.push(chars.len() as u8);
                chars.extend_from_slice(name.as_bytes());
                chars.push(0);
            }
            out.extend_from_slice(b"TZif");
            out.push(version);
            out.extend_from_slice(&[0; 15]);
            for n in [0, 0, 0, trans.len(), types.len(), chars.len()] {
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            for (t, _) in &trans {
                if wide {
                    out.extend_from_slice(&t.to_be_bytes());
                } else {
                    out.extend_from_slice(&(*t as i32).to_be_bytes());
                }
            }
            out.extend(trans.iter().map(|(_, i)| *i));
            for ((offset, dst, _), at) in types.iter().zip(at) {
                out.extend_from_slice(&offset.to_be_bytes());
                out.extend_from_slice(&[u8::from(*dst), at]);
            }
            out.extend_from_slice(&chars);
        };
        block(false, &mut out);
        if version != 0 {
            block(true, &mut out);
            out.extend_from_slice(format!("\n{footer}\n").as_bytes());
        }
        out
    }

    /// Instants with the abbreviation and offset expected there.
    type Answers = &'static [(i64, &'static str, i64)];

    fn at(zone: &Zone, sec: i64) -> (String, i64) {
        let p = zone.period(sec);
        assert!(p.contains(sec), "{sec}: {p:?}");
        (String::from_utf8(zone.name(&p).to_vec()).unwrap(), p.offset)
    }

    /// Answers of Go 1.19's `time.Unix(sec, 0).In(loc).Zone()` for a zone with one fixed type
    /// (`FIX`, UTC-7), no transitions, and the footer rule shown.
    #[test]
    fn footer_rules_match_go() {
        let cases: &[(&str, Answers)] = &[
            (
                "CET-1CEST,M3.5.0,M10.5.0/3",
                &[
                    (951782400, "CET", 3600),
                    (1600000000, "CEST", 7200),
                    (1711846799, "CET", 3600),
                    (1711846800, "CEST", 7200),
                    (1729990799, "CEST", 7200),
                    (1729990800, "CET", 3600),
                    (1735689599, "CET", 3600),
                ],
            ),
            ("EST5EDT,M3.2.0,M11.1.0", &[(951782400, "EST", -18000), (1600000000, "EDT", -14400)]),
            // Southern hemisphere: summer time spans the new year.
            (
                "AEST-10AEDT,M10.1.0,M4.1.0/3",
                &[(951782400, "AEDT", 39600), (1600000000, "AEST", 36000)],
            ),
            // Ireland: "standard" time is the summer one, with negative DST in winter.
            (
                "IST-1GMT0,M10.5.0,M3.5.0/1",
                &[(951782400, "GMT", 0), (1600000000, "IST", 3600), (1711846799, "GMT", 0)],
            ),
            ("<+0545>-5:45", &[(1600000000, "+0545", 20700)]),
            ("<-04>4<-03>,M9.1.6/24,M4.1.6/24", &[(1600000000, "-03", -10800)]),
            // The default rule, ",M3.2.0,M11.1.0", with DST one hour ahead.
            ("EST5EDT", &[(951782400, "EST", -18000), (1600000000, "EDT", -14400)]),
            ("XXX3YYY,J60/1:30:15,J300", &[(951782400, "XXX", -10800), (1600000000, "YYY", -7200)]),
            ("XXX-3YYY-4,59,300/-1", &[(951782400, "YYY", 14400), (1729990800, "XXX", 10800)]),
            ("WART4WARST,J1/0,J365/25", &[(1600000000, "WARST", -10800)]),
            (
                "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
                &[(951782400, "-02", -7200), (1600000000, "-01", -3600)],
            ),
            ("ABC+25DEF", &[(951782400, "ABC", -90000), (1600000000, "DEF", -86400)]),
            ("ABC-167DEF-168,0,365", &[(1600000000, "DEF", 604800), (1735689599, "ABC", 601200)]),
            ("<>5<>", &[(951782400, "", -18000), (1600000000, "", -14400)]),
            // Rules Go cannot parse: the last transition's type holds.
            ("AB1", &[(1600000000, "FIX", -25200)]),
            ("ABC1DEF,M3.2.0", &[(1600000000, "FIX", -25200)]),
            ("ABC1DEF;M3.2.0,M11.1.0", &[(1600000000, "FIX", -25200)]),
            ("ABC1DEF,M13.1.0,M11.1.0", &[(1600000000, "FIX", -25200)]),
            ("ABC1DEF,M3.2.0,M11.1.0x", &[(1600000000, "FIX", -25200)]),
        ];
        for (rule, answers) in cases {
            let zone = Zone::from_tzif(&tzif(b'2', &[(-25200, false, "FIX")], &[], rule)).unwrap();
            for &(sec, name, offset) in *answers {
                assert_eq!(at(&zone, sec), (name.to_owned(), offset), "{rule} at {sec}");
            }
        }
    }

    #[test]
    fn transitions_then_rule() {
        let types = [(3600, false, "CET"), (7200, true, "CEST"), (-3600, false, "OLD")];
        let trans = [(-5_000_000_000, 2), (100, 0), (200, 1), (300, 0)];
        for version in [b'2', b'3'] {
            let zone =
                Zone::from_tzif(&tzif(version, &types, &trans, "CET-1CEST,M3.5.0,M10.5.0/3"))
                    .unwrap();
            // Before the first transition: type 0 is used by a transition and the first
            // transition's type is not DST, so Go takes the first standard type, CET.
            assert_eq!(at(&zone, -6_000_000_000), ("CET".into(), 3600));
            assert_eq!(at(&zone, 0), ("OLD".into(), -3600));
            assert_eq!(zone.period(150), Period { start: 100, end: 200, ..zone.period(150) });
            assert_eq!(at(&zone, 250), ("CEST".into(), 7200));
            // After the last transition the rule decides.
            assert_eq!(at(&zone, 1600000000), ("CEST".into(), 7200));
            assert_eq!(at(&zone, 951782400), ("CET".into(), 3600));
        }
        // Version 1: 32-bit times only, and no footer.
        let v1 = Zone::from_tzif(&tzif(0, &types, &trans[1..], "")).unwrap();
        assert_eq!(at(&v1, 1600000000), ("CET".into(), 3600));
        assert_eq!(at(&v1, 250), ("CEST".into(), 7200));
        // No transitions and no footer: the first type for ever.
        let fixed = Zone::from_tzif(&tzif(b'2', &[(-18000, false, "-05")], &[], "")).unwrap();
        assert_eq!(at(&fixed, i64::MIN), ("-05".into(), -18000));
        assert_eq!(at(&fixed, i64::MAX - 1), ("-05".into(), -18000));
    }

    #[test]
    fn first_type_before_any_transition() {
        // Type 0 unused by transitions: it holds before the first one.
        let z =
            Zone::from_tzif(&tzif(0, &[(1, false, "A"), (2, false, "B")], &[(10, 1)], "")).unwrap();
        assert_eq!(at(&z, 0), ("A".into(), 1));
        // First transition to a DST type: the nearest standard type before it.
        let types = [(1, false, "A"), (2, false, "B"), (3, true, "C")];
        let z = Zone::from_tzif(&tzif(0, &types, &[(10, 2), (20, 0)], "")).unwrap();
        assert_eq!(at(&z, 0), ("B".into(), 2));
        // Otherwise the first standard type.
        let types = [(3, true, "C"), (2, false, "B")];
        let z = Zone::from_tzif(&tzif(0, &types, &[(10, 0)], "")).unwrap();
        assert_eq!(at(&z, 0), ("B".into(), 2));
    }

    #[test]
    fn bad_files() {
        let good = tzif(b'2', &[(0, false, "UTC")], &[(5, 0)], "UTC0");
        assert!(Zone::from_tzif(&good).is_ok());
        assert_eq!(Zone::from_tzif(b"").unwrap_err(), TzifError::Truncated);
        assert_eq!(Zone::from_tzif(b"TZiX\0\0\0\0").unwrap_err(), TzifError::Magic);
        let mut v4 = good.clone();
        v4[4] = b'4';
        assert_eq!(Zone::from_tzif(&v4).unwrap_err(), TzifError::Version);
        // Every cut inside the data is an error, never a panic; cuts in the footer are not.
        let data_end = good.len() - "\nUTC0\n".len();
        for cut in 0..data_end {
            assert!(Zone::from_tzif(&good[..cut]).is_err(), "cut at {cut}");
        }
        for cut in data_end..good.len() {
            let z = Zone::from_tzif(&good[..cut]).unwrap();
            assert_eq!(at(&z, 10), ("UTC".into(), 0));
        }
        assert_eq!(Zone::from_tzif(&tzif(0, &[], &[], "")).unwrap_err(), TzifError::NoTypes);
        let bad_type = tzif(0, &[(0, false, "A")], &[(1, 1)], "");
        assert_eq!(Zone::from_tzif(&bad_type).unwrap_err(), TzifError::Index);
        // The type's abbreviation index (third byte from the end, before "A\0") past the end.
        let mut bad_abbrev = tzif(0, &[(0, false, "A")], &[], "");
        let n = bad_abbrev.len();
        bad_abbrev[n - 3] = 2;
        assert_eq!(Zone::from_tzif(&bad_abbrev).unwrap_err(), TzifError::Index);
    }

    #[test]
    fn system_zoneinfo() {
        let dir = Path::new(ZONEINFO_DIRS[0]);
        if !dir.join("Europe/Berlin").is_file() {
            eprintln!("skipping: no zoneinfo at {}", dir.display());
            return;
        }
        // Answers of Go 1.19 for the same files; these instants are long settled in tzdata.
        let cases: &[(&str, Answers)] = &[
            ("Europe/Berlin", &[(1000000000, "CEST", 7200), (1234567890, "CET", 3600)]),
            ("Australia/Sydney", &[(1000000000, "AEST", 36000), (1234567890, "AEDT", 39600)]),
            ("America/Sao_Paulo", &[(1234567890, "-02", -7200), (-2208988800, "LMT", -11188)]),
            ("Europe/Dublin", &[(1000000000, "IST", 3600), (1234567890, "GMT", 0)]),
            ("Asia/Kolkata", &[(1234567890, "IST", 19800)]),
            ("Etc/GMT+5", &[(1234567890, "-05", -18000)]),
            ("UTC", &[(1234567890, "UTC", 0)]),
        ];
        for (name, answers) in cases {
            let zone = Zone::from_env(Some(name.as_bytes()), Path::new("/nonexistent"), &[dir]);
            for &(sec, abbrev, offset) in *answers {
                assert_eq!(at(&zone, sec), (abbrev.to_owned(), offset), "{name} at {sec}");
            }
        }
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("nodegate-tz-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn tz_variable() {
        let d = tmpdir("env");
        let (a, b) = (d.join("a"), d.join("b"));
        std::fs::create_dir_all(a.join("Area")).unwrap();
        std::fs::create_dir_all(b.join("Area")).unwrap();
        let zone = |abbrev: &str| tzif(b'2', &[(3600, false, abbrev)], &[], "");
        std::fs::write(d.join("localtime"), zone("LOC")).unwrap();
        std::fs::write(d.join("abs"), zone("ABS")).unwrap();
        // A broken file in the first directory: Go goes on to the next one.
        std::fs::write(a.join("Area/City"), b"TZif garbage").unwrap();
        std::fs::write(b.join("Area/City"), zone("CITY")).unwrap();
        std::fs::write(b.join("UTC"), zone("NOTUTC")).unwrap();
        let localtime = d.join("localtime");
        let abs = d.join("abs");
        let dirs = [a.as_path(), b.as_path()];
        let name_of = |tz: Option<&[u8]>| {
            let z = Zone::from_env(tz, &localtime, &dirs);
            at(&z, 0).0
        };
        assert_eq!(name_of(None), "LOC");
        assert_eq!(name_of(Some(b"")), "UTC");
        assert_eq!(name_of(Some(b":")), "UTC");
        assert_eq!(name_of(Some(b"UTC")), "UTC");
        assert_eq!(name_of(Some(b":UTC")), "UTC");
        assert_eq!(name_of(Some(b"Area/City")), "CITY");
        assert_eq!(name_of(Some(b":Area/City")), "CITY");
        assert_eq!(name_of(Some(abs.as_os_str().as_bytes())), "ABS");
        assert_eq!(name_of(Some(format!(":{}", abs.display()).as_bytes())), "ABS");
        assert_eq!(name_of(Some(b"Nowhere/Nothing")), "UTC");
        // A POSIX rule in TZ is not read as one (Go 1.22 does not either).
        assert_eq!(name_of(Some(b"CET-1CEST,M3.5.0,M10.5.0/3")), "UTC");
        let missing = d.join("missing");
        assert_eq!(at(&Zone::from_env(None, &missing, &dirs), 0).0, "UTC");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn civil_dates() {
        for (days, year) in [(0, 1970), (-1, 1969), (365, 1971), (11_016, 2000), (-719_468, 0)] {
            assert_eq!(civil_year(days), year, "{days}");
        }
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        let mut days = days_from_civil(1600, 1, 1);
        for year in 1600..2400 {
            assert_eq!(civil_year(days), year);
            assert_eq!(days_from_civil(year, 1, 1), days);
            days += if is_leap(year) { 366 } else { 365 };
        }
    }
}
