//! The device include/exclude filter that diskstats, netdev, arp and qdisc share,
//! node_exporter's `device_filter.go`: a device is dropped when its name matches the exclude
//! pattern or, given an include pattern, when it does not match that one.

use super::Settings;
use regex::bytes::Regex;

/// A compiled `--collector.<name>.device-exclude` / `-include` pair. Patterns are unanchored,
/// as Go's `Regexp.MatchString` is: `eth` matches `veth0`.
#[derive(Clone, Debug, Default)]
pub struct DeviceFilter {
    exclude: Option<Regex>,
    include: Option<Regex>,
}

impl DeviceFilter {
    /// A filter from the two patterns as given on the command line; an empty pattern filters
    /// nothing. `*_flag` names the flag each pattern came from, for the error message. Whether
    /// both may be set at once is the caller's rule, not this type's.
    ///
    /// # Errors
    /// A message naming the flag whose pattern does not compile.
    pub fn new(
        exclude_flag: &str,
        exclude: &str,
        include_flag: &str,
        include: &str,
    ) -> Result<DeviceFilter, String> {
        Ok(DeviceFilter {
            exclude: compile(exclude_flag, exclude)?,
            include: compile(include_flag, include)?,
        })
    }

    /// The filter from a collector's include and exclude flags, each given as its name and
    /// the deprecated name upstream still accepts for it. Neither pattern has a default;
    /// giving both, or an old name together with its new one, is an error, as upstream. Old
    /// names are looked up under their own names, so this holds whether the command line files
    /// an alias's value under the alias or under the flag.
    ///
    /// # Errors
    /// A message naming the conflicting flags, or the flag whose pattern does not compile.
    pub fn from_flags(
        s: &Settings,
        (include_new, include_old): (&'static str, &'static str),
        (exclude_new, exclude_old): (&'static str, &'static str),
    ) -> Result<DeviceFilter, String> {
        let pick = |new: &'static str, old: &'static str| -> Result<(&'static str, &str), String> {
            match (s.str(new), s.str(old)) {
                (value, "") => Ok((new, value)),
                ("", value) => Ok((old, value)),
                (a, b) if a == b => Ok((new, a)),
                _ => Err(format!("--{old} and --{new} are mutually exclusive")),
            }
        };
        let (include_flag, include) = pick(include_new, include_old)?;
        let (exclude_flag, exclude) = pick(exclude_new, exclude_old)?;
        if !include.is_empty() && !exclude.is_empty() {
            return Err(format!("--{exclude_flag} and --{include_flag} are mutually exclusive"));
        }
        DeviceFilter::new(exclude_flag, exclude, include_flag, include)
    }

    /// Whether the device `name` is left out. Runs one or two regex matches; allocates nothing.
    pub fn is_ignored(&self, name: &[u8]) -> bool {
        self.exclude.as_ref().is_some_and(|re| re.is_match(name))
            || self.include.as_ref().is_some_and(|re| !re.is_match(name))
    }
}

fn compile(flag: &str, pattern: &str) -> Result<Option<Regex>, String> {
    match pattern {
        "" => Ok(None),
        re => Regex::new(re)
            .map(Some)
            .map_err(|e| format!("invalid regular expression for --{flag}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_include_and_neither() {
        let none = DeviceFilter::new("x", "", "i", "").unwrap();
        assert!(!none.is_ignored(b"sda"));
        let ex = DeviceFilter::new("x", "^loop\\d+$", "i", "").unwrap();
        assert!(ex.is_ignored(b"loop0"));
        assert!(!ex.is_ignored(b"sda"));
        // Unanchored, as Go's MatchString.
        let inc = DeviceFilter::new("x", "", "i", "eth").unwrap();
        assert!(!inc.is_ignored(b"veth0"));
        assert!(inc.is_ignored(b"lo"));
        let both = DeviceFilter::new("x", "1", "i", "eth").unwrap();
        assert!(both.is_ignored(b"eth1"));
        assert!(!both.is_ignored(b"eth0"));
    }

    #[test]
    fn bad_pattern_names_the_flag() {
        let err = DeviceFilter::new("collector.a.device-exclude", "(", "i", "").unwrap_err();
        assert!(err.contains("--collector.a.device-exclude"), "{err}");
        let err = DeviceFilter::new("x", "", "collector.a.device-include", "[z-a]").unwrap_err();
        assert!(err.contains("--collector.a.device-include"), "{err}");
    }
}
