//! `nodegate exporter`: node_exporter's command line, then the exporter served over HTTP.

use crate::flags::{self, bool_flag, bool_value, value_flag};
use crate::logger;
use clap::{Arg, ArgAction, ArgMatches, Command};
use engine::exporter::{BuildInfo, Config, Handler, Node};
use engine::serve::{self, Server};
use engine::source::Paths;
use std::process::ExitCode;
use std::sync::Arc;

/// The subcommand and its flags.
pub fn command() -> Command {
    let cmd = Command::new("exporter")
        .about("Serve host metrics as Prometheus node_exporter does")
        .version(crate::VERSION)
        .arg(value_flag("path.procfs", "procfs mountpoint.", "/proc"))
        .arg(value_flag("path.sysfs", "sysfs mountpoint.", "/sys"))
        .arg(value_flag("path.rootfs", "rootfs mountpoint.", "/"))
        .arg(value_flag("path.udev.data", "udev data path.", "/run/udev/data"))
        .arg(
            Arg::new("web.listen-address")
                .long("web.listen-address")
                .help("Addresses on which to expose metrics and web interface. Repeatable.")
                .action(ArgAction::Append)
                .value_parser(|s: &str| serve::resolve_listen_address(s).map(|_| s.to_owned())),
        )
        .arg(value_flag("web.telemetry-path", "Path under which to expose metrics.", "/metrics"))
        .args(bool_flag(
            "web.disable-exporter-metrics",
            "Exclude metrics about the exporter itself (process_*).",
        ))
        .arg(
            value_flag(
                "web.max-requests",
                "Maximum number of parallel scrape requests. Use 0 to disable.",
                "40",
            )
            .value_parser(clap::value_parser!(u32)),
        )
        .args(flags::server_args())
        .arg(
            value_flag(
                "web.max-scrape-timeout",
                "Longest a scrape may take: collectors not done by then report \
                 node_scrape_collector_success 0 and the answer goes out. A Prometheus scrape \
                 gets the shorter of this and its own timeout.",
                "30s",
            )
            .value_parser(|s: &str| engine::collector::parse_duration(s)),
        )
        .args(bool_flag("collector.disable-defaults", "Set all collectors to disabled by default."))
        .arg(
            value_flag(
                "runtime.gomaxprocs",
                "Threads that run scrapes (0: one per CPU, at most 4).",
                "0",
            )
            .value_parser(clap::value_parser!(u16)),
        )
        .arg(
            value_flag("log.level", "Only log messages with the given severity or above.", "info")
                .value_parser(["debug", "info", "warn", "error"]),
        )
        .arg(
            value_flag("log.format", "Output format of log messages.", "logfmt")
                .value_parser(["logfmt", "json"]),
        );
    flags::with_collector_flags(cmd)
}

/// Runs the exporter until SIGTERM or SIGINT.
pub fn run(m: &ArgMatches) -> ExitCode {
    let s = |name: &str| m.get_one::<String>(name).cloned().unwrap_or_default();
    let level = logger::parse_level(&s("log.level")).unwrap_or(log::LevelFilter::Info);
    let format = logger::parse_format(&s("log.format")).unwrap_or(logger::Format::Logfmt);
    logger::init(level, format);

    let nofile = engine::source::raise_nofile_limit();
    let workers = match m.get_one::<u16>("runtime.gomaxprocs").copied().unwrap_or(0) {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()).min(4),
        n => usize::from(n),
    };
    let config = Config {
        paths: Paths {
            procfs: s("path.procfs").into(),
            sysfs: s("path.sysfs").into(),
            rootfs: s("path.rootfs").into(),
            udev_data: s("path.udev.data").into(),
        },
        settings: flags::collector_settings(m),
        enabled: flags::enabled_collectors(m, bool_value(m, "collector.disable-defaults", false)),
        exporter_metrics: !bool_value(m, "web.disable-exporter-metrics", false),
        build: build_info(),
    };
    log::info!(version = crate::VERSION_SHORT, toolchain = env!("NODEGATE_TOOLCHAIN"); "Starting nodegate exporter");
    let node = match Node::new(config, workers) {
        Ok(n) => n,
        Err(e) => {
            log::error!(err:% = e; "Couldn't create collectors");
            return ExitCode::FAILURE;
        }
    };
    log::info!("Enabled collectors");
    for c in node.enabled() {
        log::info!(collector = c; "");
    }
    log::debug!(threads = workers, max_open_files = nofile; "Scrape threads");

    let mut listen = Vec::new();
    let addrs: Vec<String> = match m.get_many::<String>("web.listen-address") {
        Some(v) => v.cloned().collect(),
        None => vec![":9100".to_owned()],
    };
    for a in &addrs {
        match serve::resolve_listen_address(a) {
            Ok(v) => listen.extend(v),
            Err(e) => {
                log::error!(err:% = e; "invalid --web.listen-address");
                return ExitCode::FAILURE;
            }
        }
    }
    let path = s("web.telemetry-path");
    let max_timeout = m
        .get_one::<std::time::Duration>("web.max-scrape-timeout")
        .copied()
        .unwrap_or(std::time::Duration::from_secs(30));
    let handler = Arc::new(Handler::new(node, &path, crate::VERSION_SHORT, max_timeout));
    let mut cfg = serve::Config {
        listen,
        workers,
        max_inflight: m.get_one::<u32>("web.max-requests").copied().unwrap_or(40) as usize,
        handle_signals: true,
        ..serve::Config::default()
    };
    flags::server_config(m, &mut cfg);
    let server = match Server::bind(cfg, handler) {
        Ok(s) => s,
        Err(e) => {
            log::error!(err:% = e, address = addrs.join(","); "cannot listen (--web.listen-address)");
            return ExitCode::FAILURE;
        }
    };
    match server.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!(err:% = e; "server failed");
            ExitCode::FAILURE
        }
    }
}

fn build_info() -> BuildInfo {
    BuildInfo {
        version: crate::VERSION_SHORT.to_owned(),
        revision: env!("NODEGATE_REVISION").to_owned(),
        branch: env!("NODEGATE_BRANCH").to_owned(),
        toolchain: env!("NODEGATE_TOOLCHAIN").to_owned(),
        os: std::env::consts::OS.to_owned(),
        arch: go_arch(std::env::consts::ARCH).to_owned(),
        tags: String::new(),
    }
}

/// Go's name for an architecture, as `goarch` labels carry it.
pub(crate) fn go_arch(rust: &str) -> &str {
    match rust {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}
