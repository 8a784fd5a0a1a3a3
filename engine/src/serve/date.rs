//! The `Date` header value (RFC 9110 §5.6.7 IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`),
//! formatted once per second on the loop and copied into every response head.

use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate.
const LEN: usize = 29;

/// The current second, formatted.
#[derive(Debug)]
pub(super) struct Date {
    secs: u64,
    text: [u8; LEN],
}

impl Date {
    /// The date for `now`.
    pub fn new(now: SystemTime) -> Date {
        let mut date = Date { secs: 0, text: [0; LEN] };
        date.format(unix_secs(now));
        date
    }

    /// Moves to `now`, formatting only if the second changed.
    pub fn update(&mut self, now: SystemTime) {
        let secs = unix_secs(now);
        if secs != self.secs {
            self.format(secs);
        }
    }

    /// The formatted value.
    pub fn as_bytes(&self) -> &[u8] {
        &self.text
    }

    fn format(&mut self, secs: u64) {
        const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
        const MONTHS: [&[u8; 3]; 12] = [
            b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
            b"Dec",
        ];
        self.secs = secs;
        let days = secs / 86_400;
        let (year, month, day) = civil(days);
        let sod = secs % 86_400;
        let t = &mut self.text;
        t[..3].copy_from_slice(DAYS[(days % 7) as usize]);
        t[3..5].copy_from_slice(b", ");
        two(&mut t[5..7], day);
        t[7] = b' ';
        t[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
        t[11] = b' ';
        two(&mut t[12..14], year / 100 % 100);
        two(&mut t[14..16], year % 100);
        t[16] = b' ';
        two(&mut t[17..19], sod / 3600);
        t[19] = b':';
        two(&mut t[20..22], sod / 60 % 60);
        t[22] = b':';
        two(&mut t[23..25], sod % 60);
        t[25..].copy_from_slice(b" GMT");
    }
}

/// Seconds since the epoch; a clock before it reads as the epoch.
fn unix_secs(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn two(out: &mut [u8], v: u64) {
    out[0] = b'0' + (v / 10 % 10) as u8;
    out[1] = b'0' + (v % 10) as u8;
}

/// Year, month (1-12) and day (1-31) of a day count since 1970-01-01, in the proleptic
/// Gregorian calendar: the era-based conversion from Howard Hinnant's `civil_from_days`
/// paper, restricted to days after the epoch.
fn civil(days: u64) -> (u64, u64, u64) {
    // Shift to 0000-03-01 so that leap days fall at the end of each (March-based) year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> String {
        String::from_utf8(Date::new(UNIX_EPOCH + Duration::from_secs(secs)).text.to_vec()).unwrap()
    }

    #[test]
    fn known_dates() {
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(4_133_980_799), "Fri, 31 Dec 2100 23:59:59 GMT");
        assert_eq!(at(1_709_164_800), "Thu, 29 Feb 2024 00:00:00 GMT");
    }

    /// Oracle: `civil` against counting days forward one at a time from the epoch.
    #[test]
    fn civil_matches_day_by_day_counting() {
        let leap = |y: u64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let (mut y, mut m, mut d) = (1970, 1, 1);
        for days in 0..200_000 {
            assert_eq!(civil(days), (y, m, d), "day {days}");
            let len = match m {
                2 if leap(y) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            d += 1;
            if d > len {
                (m, d) = (m + 1, 1);
                if m > 12 {
                    (y, m) = (y + 1, 1);
                }
            }
        }
    }

    #[test]
    fn update_reformats_on_a_new_second() {
        let mut date = Date::new(UNIX_EPOCH);
        date.update(UNIX_EPOCH + Duration::from_millis(999));
        assert_eq!(date.as_bytes(), b"Thu, 01 Jan 1970 00:00:00 GMT");
        date.update(UNIX_EPOCH + Duration::from_secs(61));
        assert_eq!(date.as_bytes(), b"Thu, 01 Jan 1970 00:01:01 GMT");
    }
}
