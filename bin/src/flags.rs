//! Kingpin-style flags on clap: `--flag=value` and `--flag value`, booleans as `--flag` /
//! `--no-flag` (last one wins), repeatable flags, and the collector flags generated from the
//! engine's collector registry, so the command line always matches what is built; and the
//! HTTP server's limits, which both subcommands share.

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use engine::collector::{Flag, FlagKind, Settings, REGISTRY};
use engine::serve;
use std::time::Duration;

/// A boolean flag `--name` with its `--no-name` twin.
pub fn bool_flag(name: &'static str, help: impl Into<String>) -> [Arg; 2] {
    let no = no_name(name);
    [
        Arg::new(name)
            .long(name)
            .help(help.into())
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .value_parser(["true", "false"])
            .hide_possible_values(true)
            .action(ArgAction::Set)
            .overrides_with(no.clone()),
        Arg::new(no.clone()).long(no).action(ArgAction::SetTrue).hide(true).overrides_with(name),
    ]
}

fn no_name(name: &str) -> String {
    format!("no-{name}")
}

/// A boolean flag's value: the last of `--name[=bool]` and `--no-name`, or `default`.
pub fn bool_value(m: &ArgMatches, name: &str, default: bool) -> bool {
    if m.get_flag(&no_name(name)) {
        return false;
    }
    match m.get_one::<String>(name) {
        Some(v) => v == "true",
        None => default,
    }
}

/// Whether a boolean flag was given either way on the command line.
pub fn bool_given(m: &ArgMatches, name: &str) -> bool {
    m.value_source(name) == Some(ValueSource::CommandLine)
        || m.value_source(&no_name(name)) == Some(ValueSource::CommandLine)
}

/// A flag taking one value (the last given wins, as kingpin's).
pub fn value_flag(name: &'static str, help: &'static str, default: &'static str) -> Arg {
    let arg = Arg::new(name).long(name).help(help).action(ArgAction::Set).overrides_with(name);
    if default.is_empty() {
        arg
    } else {
        arg.default_value(default)
    }
}

/// A positive count: clap names the flag when the value is not one.
fn positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A duration (`10s`, `5m`, `1m30s`) that is not zero.
fn positive_duration(s: &str) -> Result<Duration, String> {
    match engine::collector::parse_duration(s)? {
        Duration::ZERO => Err("must be longer than 0s".to_owned()),
        d => Ok(d),
    }
}

/// The HTTP server's limits, named after the fields of Go's `http.Server` they correspond to.
/// Defaults are [`serve::Config`]'s; the README's "Limits" section explains each.
pub fn server_args() -> [Arg; 6] {
    [
        value_flag(
            "web.max-connections",
            "Open connections at most; more are closed as soon as they are accepted.",
            "1024",
        )
        .value_parser(positive),
        value_flag(
            "web.max-header-bytes",
            "Largest request head (request line and headers) in bytes; larger ones get 431.",
            "16384",
        )
        .value_parser(positive),
        value_flag(
            "web.read-header-timeout",
            "Time a request head may take to arrive from its first byte; then 408.",
            "10s",
        )
        .value_parser(positive_duration),
        value_flag(
            "web.read-timeout",
            "Time a whole request, body included, may take to arrive from its first byte; \
             then 408. 0 for no limit.",
            "60s",
        )
        .value_parser(engine::collector::parse_duration),
        value_flag(
            "web.write-timeout",
            "Time a response may take to be read by the client; then the connection closes.",
            "30s",
        )
        .value_parser(positive_duration),
        value_flag(
            "web.idle-timeout",
            "Time a kept-alive connection may wait for its next request, and the longest \
             pause allowed within a request body; then the connection closes.",
            "5m",
        )
        .value_parser(positive_duration),
    ]
}

/// The server's limits from [`server_args`], over `cfg`.
pub fn server_config(m: &ArgMatches, cfg: &mut serve::Config) {
    let count = |name: &str, into: &mut usize| {
        if let Some(&v) = m.get_one::<usize>(name) {
            *into = v;
        }
    };
    count("web.max-connections", &mut cfg.max_connections);
    count("web.max-header-bytes", &mut cfg.max_head);
    let duration = |name: &str, into: &mut Duration| {
        if let Some(&v) = m.get_one::<Duration>(name) {
            *into = v;
        }
    };
    duration("web.read-header-timeout", &mut cfg.header_timeout);
    duration("web.read-timeout", &mut cfg.read_timeout);
    duration("web.write-timeout", &mut cfg.write_timeout);
    duration("web.idle-timeout", &mut cfg.idle_timeout);
}

/// `--collector.<name>` for every collector, then every collector's own flags.
pub fn collector_args() -> Vec<Arg> {
    let mut args = Vec::new();
    for spec in REGISTRY {
        let name: &'static str = Box::leak(format!("collector.{}", spec.name).into_boxed_str());
        let state = if spec.default_enabled { "enabled" } else { "disabled" };
        args.extend(bool_flag(
            name,
            format!("Enable the {} collector (default: {state}).", spec.name),
        ));
        for flag in spec.flags {
            args.extend(flag_args(flag));
        }
    }
    args
}

fn flag_args(flag: &'static Flag) -> Vec<Arg> {
    let help = if flag.default.is_empty() {
        flag.help.to_owned()
    } else {
        format!("{} [default: {}]", flag.help, flag.default)
    };
    match flag.kind {
        FlagKind::Bool => {
            bool_flag(flag.name, help).into_iter().map(|a| a.aliases(flag.aliases)).collect()
        }
        FlagKind::Strings => vec![Arg::new(flag.name)
            .long(flag.name)
            .help(help)
            .aliases(flag.aliases)
            .action(ArgAction::Append)],
        kind => {
            let arg = Arg::new(flag.name)
                .long(flag.name)
                .help(help)
                .aliases(flag.aliases)
                .action(ArgAction::Set)
                .overrides_with(flag.name);
            vec![match kind {
                FlagKind::Regex => arg.value_parser(|s: &str| {
                    engine::collector::check_regex(s).map(|()| s.to_owned())
                }),
                FlagKind::Int => arg.value_parser(|s: &str| {
                    s.parse::<i64>().map(|_| s.to_owned()).map_err(|e| e.to_string())
                }),
                FlagKind::Duration => arg.value_parser(|s: &str| {
                    engine::collector::parse_duration(s).map(|_| s.to_owned())
                }),
                _ => arg,
            }]
        }
    }
}

/// Collects every collector flag's value into `Settings` (defaults are left to the engine).
pub fn collector_settings(m: &ArgMatches) -> Settings {
    let mut settings = Settings::new();
    for flag in REGISTRY.iter().flat_map(|s| s.flags.iter()) {
        match flag.kind {
            FlagKind::Bool => {
                if bool_given(m, flag.name) {
                    let v = bool_value(m, flag.name, flag.default == "true");
                    settings.set(flag.name, if v { "true" } else { "false" });
                }
            }
            FlagKind::Strings => {
                for v in m.get_many::<String>(flag.name).into_iter().flatten() {
                    settings.push(flag.name, v.clone());
                }
            }
            _ => {
                if let Some(v) = m.get_one::<String>(flag.name) {
                    settings.set(flag.name, v.clone());
                }
            }
        }
    }
    settings
}

/// The enabled collectors: each collector's flag, or its default; with
/// `--collector.disable-defaults`, only those named on the command line.
pub fn enabled_collectors(m: &ArgMatches, disable_defaults: bool) -> Vec<&'static str> {
    REGISTRY
        .iter()
        .filter(|spec| {
            let flag = format!("collector.{}", spec.name);
            // --collector.disable-defaults leaves on only collectors named explicitly.
            let default = spec.default_enabled && (!disable_defaults || bool_given(m, &flag));
            bool_value(m, &flag, default)
        })
        .map(|spec| spec.name)
        .collect()
}

/// Adds the collector flags to a command.
pub fn with_collector_flags(cmd: Command) -> Command {
    cmd.args(collector_args())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd() -> Command {
        Command::new("t")
            .args(bool_flag("collector.x", "x"))
            .args(bool_flag("collector.y", "y"))
            .arg(value_flag("web.telemetry-path", "p", "/metrics"))
            .arg(Arg::new("repeat").long("repeat").action(ArgAction::Append))
    }

    #[test]
    fn booleans_last_one_wins() {
        let m = cmd().try_get_matches_from(["t", "--collector.x", "--no-collector.x"]).unwrap();
        assert!(!bool_value(&m, "collector.x", true));
        let m = cmd().try_get_matches_from(["t", "--no-collector.x", "--collector.x"]).unwrap();
        assert!(bool_value(&m, "collector.x", false));
        let m = cmd().try_get_matches_from(["t", "--collector.x=false"]).unwrap();
        assert!(!bool_value(&m, "collector.x", true));
        assert!(bool_given(&m, "collector.x"));
        assert!(!bool_given(&m, "collector.y"));
        assert!(bool_value(&m, "collector.y", true));
    }

    #[test]
    fn values_both_syntaxes_and_repeats() {
        let m = cmd()
            .try_get_matches_from([
                "t",
                "--web.telemetry-path",
                "/a",
                "--repeat=1",
                "--repeat",
                "2",
            ])
            .unwrap();
        assert_eq!(m.get_one::<String>("web.telemetry-path").unwrap(), "/a");
        let r: Vec<&String> = m.get_many::<String>("repeat").unwrap().collect();
        assert_eq!(r, ["1", "2"]);
        let m = cmd().try_get_matches_from(["t", "--web.telemetry-path=/b"]).unwrap();
        assert_eq!(m.get_one::<String>("web.telemetry-path").unwrap(), "/b");
    }

    #[test]
    fn server_limits_parse_and_default_to_the_servers() {
        let cmd = || Command::new("t").args(server_args());
        let mut cfg = serve::Config::default();
        server_config(&cmd().try_get_matches_from(["t"]).unwrap(), &mut cfg);
        let d = serve::Config::default();
        assert_eq!(
            (cfg.max_connections, cfg.max_head, cfg.header_timeout, cfg.read_timeout),
            (d.max_connections, d.max_head, d.header_timeout, d.read_timeout)
        );
        assert_eq!((cfg.write_timeout, cfg.idle_timeout), (d.write_timeout, d.idle_timeout));
        let m = cmd()
            .try_get_matches_from([
                "t",
                "--web.max-connections=3",
                "--web.max-header-bytes",
                "2048",
                "--web.read-header-timeout=1s",
                "--web.read-timeout=0",
                "--web.write-timeout=1m30s",
                "--web.idle-timeout=500ms",
            ])
            .unwrap();
        server_config(&m, &mut cfg);
        assert_eq!((cfg.max_connections, cfg.max_head), (3, 2048));
        assert_eq!(
            (cfg.header_timeout, cfg.read_timeout),
            (Duration::from_secs(1), Duration::ZERO)
        );
        assert_eq!(cfg.write_timeout, Duration::from_secs(90));
        assert_eq!(cfg.idle_timeout, Duration::from_millis(500));
        for bad in [
            "--web.max-connections=0",
            "--web.max-header-bytes=lots",
            "--web.read-header-timeout=0",
            "--web.read-timeout=10",
            "--web.idle-timeout=-1s",
        ] {
            let e = cmd().try_get_matches_from(["t", bad]).unwrap_err().to_string();
            let flag = bad.split('=').next().unwrap();
            assert!(e.contains(flag), "{bad}: {e}");
        }
    }

    #[test]
    fn unknown_flag_is_named() {
        let e = cmd().try_get_matches_from(["t", "--collector.nope"]).unwrap_err().to_string();
        assert!(e.contains("--collector.nope"), "{e}");
        let e = cmd().try_get_matches_from(["t", "--collector.x=maybe"]).unwrap_err().to_string();
        assert!(e.contains("--collector.x"), "{e}");
    }
}
