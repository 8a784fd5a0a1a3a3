//! Kingpin-style flags on clap: `--flag=value` and `--flag value`, booleans as `--flag` /
//! `--no-flag` (last one wins), repeatable flags, and the collector flags generated from the
//! engine's collector registry, so the command line always matches what is built.

use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use engine::collector::{Flag, FlagKind, Settings, REGISTRY};

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
    fn unknown_flag_is_named() {
        let e = cmd().try_get_matches_from(["t", "--collector.nope"]).unwrap_err().to_string();
        assert!(e.contains("--collector.nope"), "{e}");
        let e = cmd().try_get_matches_from(["t", "--collector.x=maybe"]).unwrap_err().to_string();
        assert!(e.contains("--collector.x"), "{e}");
    }
}
