//! `collect[]` and `exclude[]`: the query parameters that restrict a scrape to some collectors,
//! with upstream's 400 texts. Parameters are compared percent-decoded (Prometheus sends
//! `collect%5B%5D=cpu`) without decoding into a buffer.

use crate::collector;
use std::fmt;

/// A set of collectors, by their index among the enabled ones.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Mask(u128);

impl Mask {
    /// Every collector.
    pub const ALL: Mask = Mask(u128::MAX);
    /// No collector.
    pub const NONE: Mask = Mask(0);
    /// How many collectors a mask can name.
    pub const CAPACITY: usize = 128;

    /// Whether collector `i` is in the set.
    pub fn contains(self, i: usize) -> bool {
        i < Mask::CAPACITY && self.0 & (1 << i) != 0
    }

    fn with(self, i: usize) -> Mask {
        Mask(self.0 | (1 << i))
    }

    fn without(self, i: usize) -> Mask {
        Mask(self.0 & !(1 << i))
    }
}

/// Why a query's filter was refused; `Display` is upstream's 400 body.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum FilterError {
    /// Both `collect[]` and `exclude[]` were given.
    Combined,
    /// `collect[]` named no known collector.
    Missing(String),
    /// `collect[]` named a collector that is not enabled.
    Disabled(String),
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const PREFIX: &str = "Couldn't create filtered metrics handler: couldn't create collector";
        match self {
            FilterError::Combined => {
                f.write_str("Combined collect and exclude queries are not allowed.")
            }
            FilterError::Missing(name) => write!(f, "{PREFIX}: missing collector: {name}"),
            FilterError::Disabled(name) => write!(f, "{PREFIX}: disabled collector: {name}"),
        }
    }
}

/// The collectors a query selects among `enabled` (sorted names): all without parameters;
/// those named by `collect[]`; all but those named by `exclude[]` (unknown names ignored).
///
/// # Errors
/// [`FilterError`] for a name `collect[]` cannot select, or both parameters at once.
pub fn select<'q>(
    enabled: &[&str],
    pairs: impl Iterator<Item = (&'q [u8], &'q [u8])> + Clone,
) -> Result<Mask, FilterError> {
    let is_key = |k: &[u8], want: &str| decoded(k).eq(want.bytes());
    let collect = pairs.clone().filter(|(k, _)| is_key(k, "collect[]"));
    let mut exclude = pairs.filter(|(k, _)| is_key(k, "exclude[]")).peekable();
    let mut collect = collect.peekable();
    match (collect.peek().is_some(), exclude.peek().is_some()) {
        (false, false) => Ok(Mask::ALL),
        (true, true) => Err(FilterError::Combined),
        (true, false) => {
            let mut mask = Mask::NONE;
            for (_, v) in collect {
                match enabled.iter().position(|name| decoded(v).eq(name.bytes())) {
                    Some(i) => mask = mask.with(i),
                    None => {
                        let name =
                            String::from_utf8_lossy(&decoded(v).collect::<Vec<u8>>()).into_owned();
                        return Err(if collector::spec(&name).is_some() {
                            FilterError::Disabled(name)
                        } else {
                            FilterError::Missing(name)
                        });
                    }
                }
            }
            Ok(mask)
        }
        (false, true) => {
            let mut mask = Mask::ALL;
            for (_, v) in exclude {
                if let Some(i) = enabled.iter().position(|name| decoded(v).eq(name.bytes())) {
                    mask = mask.without(i);
                }
            }
            Ok(mask)
        }
    }
}

/// The bytes of a query component with `%XX` escapes and `+` decoded, as Go's `ParseQuery`.
fn decoded(raw: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let b = *raw.get(i)?;
        i += 1;
        match b {
            b'+' => Some(b' '),
            b'%' => {
                match (raw.get(i).copied().and_then(hex), raw.get(i + 1).copied().and_then(hex)) {
                    (Some(h), Some(l)) => {
                        i += 2;
                        Some(h << 4 | l)
                    }
                    _ => Some(b'%'),
                }
            }
            b => Some(b),
        }
    })
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENABLED: &[&str] = &["cpu", "loadavg", "meminfo"];

    fn q(s: &'static str) -> impl Iterator<Item = (&'static [u8], &'static [u8])> + Clone {
        s.as_bytes().split(|&b| b == b'&').filter(|p| !p.is_empty()).map(|p| {
            match p.iter().position(|&b| b == b'=') {
                Some(i) => (&p[..i], &p[i + 1..]),
                None => (p, &b""[..]),
            }
        })
    }

    #[test]
    fn no_parameters_selects_all() {
        assert_eq!(select(ENABLED, q("")), Ok(Mask::ALL));
        assert_eq!(select(ENABLED, q("other=1")), Ok(Mask::ALL));
    }

    #[test]
    fn collect_selects_named_encoded_or_not() {
        let m = select(ENABLED, q("collect[]=meminfo&collect%5B%5D=cpu")).unwrap();
        assert!(m.contains(0) && !m.contains(1) && m.contains(2));
    }

    #[test]
    fn exclude_removes_named_and_ignores_unknown() {
        let m = select(ENABLED, q("exclude[]=loadavg&exclude[]=nope")).unwrap();
        assert!(m.contains(0) && !m.contains(1) && m.contains(2));
    }

    #[test]
    fn upstream_error_texts() {
        assert_eq!(
            select(ENABLED, q("collect[]=nope")).unwrap_err().to_string(),
            "Couldn't create filtered metrics handler: couldn't create collector: missing collector: nope"
        );
        assert_eq!(
            select(&["cpu"], q("collect[]=loadavg")).unwrap_err().to_string(),
            "Couldn't create filtered metrics handler: couldn't create collector: disabled collector: loadavg"
        );
        assert_eq!(
            select(ENABLED, q("collect[]=cpu&exclude[]=cpu")).unwrap_err().to_string(),
            "Combined collect and exclude queries are not allowed."
        );
    }
}
