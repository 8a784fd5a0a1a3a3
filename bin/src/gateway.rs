//! `nodegate gateway`: the Pushgateway's command line (v1.10.0's flags, names and defaults),
//! then the gateway served over HTTP, its state recovered from and kept durable in
//! `--persistence.file`.

use crate::flags::{self, bool_flag, bool_value, value_flag};
use crate::logger;
use crate::persistence;
use clap::{Arg, ArgAction, ArgMatches, Command};
use engine::serve::{self, Server};
use gateway::handler::{route_prefix, Config, Gateway};
use gateway::limits::{Limits, PushLimits};
use gateway::own::BuildInfo;
use gateway::store::Store;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The subcommand and its flags.
pub fn command() -> Command {
    Command::new("gateway")
        .about("Accept pushed metrics and serve them as the Prometheus Pushgateway does")
        .version(crate::VERSION)
        .arg(
            Arg::new("web.listen-address")
                .long("web.listen-address")
                .help("Addresses on which to expose metrics and web interface. Repeatable for multiple addresses. [default: :9091]")
                .action(ArgAction::Append)
                .value_parser(|s: &str| serve::resolve_listen_address(s).map(|_| s.to_owned())),
        )
        .arg(value_flag("web.telemetry-path", "Path under which to expose metrics.", "/metrics"))
        .arg(value_flag(
            "web.external-url",
            "The URL under which the Pushgateway is externally reachable.",
            "",
        ))
        .arg(value_flag(
            "web.route-prefix",
            "Prefix for the internal routes of web endpoints. Defaults to the path of --web.external-url.",
            "",
        ))
        .args(bool_flag("web.enable-lifecycle", "Enable shutdown via HTTP request."))
        .args(bool_flag("web.enable-admin-api", "Enable API endpoints for admin control actions."))
        .args(bool_flag(
            "push.disable-consistency-check",
            "Do not check consistency of pushed metrics. DANGEROUS.",
        ))
        .args(flags::server_args())
        .args(limit_args())
        .args(persistence::args())
        .arg(
            value_flag("log.level", "Only log messages with the given severity or above.", "info")
                .value_parser(["debug", "info", "warn", "error"]),
        )
        .arg(
            value_flag("log.format", "Output format of log messages.", "logfmt")
                .value_parser(["logfmt", "json"]),
        )
}

/// A count where 0 means no limit.
fn count(s: &str) -> Result<usize, String> {
    s.parse::<usize>().map_err(|e| e.to_string())
}

/// The gateway's limits (upstream has none); defaults are [`Limits::default`]'s, explained in
/// the README's "Limits" section.
fn limit_args() -> [Arg; 6] {
    let d = Limits::default();
    let text = |n: usize| -> &'static str { Box::leak(n.to_string().into_boxed_str()) };
    [
        value_flag(
            "push.max-body-bytes",
            "Largest push body in bytes, and most a gzip or snappy body may decode to; past it \
             the push gets 413.",
            text(d.body_bytes),
        )
        .value_parser(|s: &str| match count(s)? {
            0 => Err("must be at least 1".to_owned()),
            n => Ok(n),
        }),
        value_flag(
            "push.max-labels-per-series",
            "Most labels a pushed series may have, grouping labels and instance included; \
             past it the push gets 400. 0 for no limit.",
            text(d.push.labels_per_series),
        )
        .value_parser(count),
        value_flag(
            "push.max-series-per-push",
            "Most series one push may hold; past it the push gets 400. 0 for no limit.",
            text(d.push.series_per_push),
        )
        .value_parser(count),
        value_flag(
            "push.max-label-value-bytes",
            "Longest label value in a push, in bytes; past it the push gets 400. 0 for no limit.",
            text(d.push.label_value_bytes),
        )
        .value_parser(count),
        value_flag(
            "push.max-groups",
            "Most groups the gateway holds; a push that would add one past it gets 507. 0 for \
             no limit.",
            text(d.groups),
        )
        .value_parser(count),
        value_flag(
            "push.max-series",
            "Most series the gateway holds (two push-time gauges per group included); a push \
             that would add series past it gets 507. 0 for no limit.",
            text(d.series),
        )
        .value_parser(count),
    ]
}

/// The limits from [`limit_args`].
fn limits(m: &ArgMatches) -> Limits {
    let d = Limits::default();
    let n = |name: &str, default: usize| m.get_one::<usize>(name).copied().unwrap_or(default);
    Limits {
        body_bytes: n("push.max-body-bytes", d.body_bytes),
        push: PushLimits {
            labels_per_series: n("push.max-labels-per-series", d.push.labels_per_series),
            series_per_push: n("push.max-series-per-push", d.push.series_per_push),
            label_value_bytes: n("push.max-label-value-bytes", d.push.label_value_bytes),
        },
        groups: n("push.max-groups", d.groups),
        series: n("push.max-series", d.series),
    }
}

/// The path of a URL as Go's `url.Parse` gives it: after `scheme://host`, or the whole value
/// when it has no scheme.
fn url_path(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| {
            let p = &rest[i..];
            p.split(['?', '#']).next().unwrap_or(p)
        }),
        None => url.split(['?', '#']).next().unwrap_or(url),
    }
}

/// Runs the gateway until SIGTERM, SIGINT or `/-/quit`.
pub fn run(m: &ArgMatches) -> ExitCode {
    let s = |name: &str| m.get_one::<String>(name).cloned().unwrap_or_default();
    // A flag's text as given (or defaulted), for flags parsed into other types.
    let raw = |name: &str| {
        m.get_raw(name)
            .and_then(|mut v| v.next())
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let level = logger::parse_level(&s("log.level")).unwrap_or(log::LevelFilter::Info);
    let format = logger::parse_format(&s("log.format")).unwrap_or(logger::Format::Logfmt);
    logger::init(level, format);

    let external = s("web.external-url");
    let prefix = route_prefix(&s("web.route-prefix"), url_path(&external));
    let mut telemetry = format!("{prefix}{}", s("web.telemetry-path"));
    if !telemetry.starts_with('/') {
        telemetry.insert(0, '/');
    }
    let addrs: Vec<String> = match m.get_many::<String>("web.listen-address") {
        Some(v) => v.cloned().collect(),
        None => vec![":9091".to_owned()],
    };
    let lifecycle = bool_value(m, "web.enable-lifecycle", false);
    let admin = bool_value(m, "web.enable-admin-api", false);
    let unchecked = bool_value(m, "push.disable-consistency-check", false);
    let flag = |b: bool| if b { "true" } else { "false" }.to_owned();
    let mut flags = vec![
        ("log.format".to_owned(), s("log.format")),
        ("log.level".to_owned(), s("log.level")),
        ("persistence.file".to_owned(), s("persistence.file")),
        ("persistence.interval".to_owned(), raw("persistence.interval")),
        ("push.disable-consistency-check".to_owned(), flag(unchecked)),
        ("web.enable-admin-api".to_owned(), flag(admin)),
        ("web.enable-lifecycle".to_owned(), flag(lifecycle)),
        ("web.external-url".to_owned(), external.clone()),
        ("web.listen-address".to_owned(), addrs.join(",")),
        ("web.route-prefix".to_owned(), prefix.clone()),
        ("web.telemetry-path".to_owned(), s("web.telemetry-path")),
    ];
    // The limits as given (or defaulted), for `/api/v1/status`.
    let limit_flags = flags::server_args().into_iter().chain(limit_args());
    flags.extend(limit_flags.map(|a| (a.get_id().to_string(), raw(a.get_id().as_str()))));
    let toolchain = env!("NODEGATE_TOOLCHAIN");
    // Upstream links its UI under the external URL's path, and routes under the prefix.
    let ui_prefix =
        if external.is_empty() { prefix.clone() } else { route_prefix("", url_path(&external)) };
    let cfg = Config {
        route_prefix: prefix.clone(),
        telemetry_path: telemetry,
        ui_prefix,
        lifecycle,
        admin,
        checked: !unchecked,
        flags,
        build: BuildInfo {
            branch: env!("NODEGATE_BRANCH").to_owned(),
            goarch: crate::exporter::go_arch(std::env::consts::ARCH).to_owned(),
            goos: std::env::consts::OS.to_owned(),
            goversion: toolchain.to_owned(),
            revision: env!("NODEGATE_REVISION").to_owned(),
            tags: String::new(),
            version: crate::VERSION_SHORT.to_owned(),
        },
        build_status: vec![
            ("branch".to_owned(), env!("NODEGATE_BRANCH").to_owned()),
            ("buildDate".to_owned(), String::new()),
            ("buildUser".to_owned(), String::new()),
            ("goVersion".to_owned(), toolchain.to_owned()),
            ("revision".to_owned(), env!("NODEGATE_REVISION").to_owned()),
            ("version".to_owned(), crate::VERSION_SHORT.to_owned()),
        ],
    };
    log::info!(version = crate::VERSION_SHORT, toolchain = toolchain; "starting pushgateway");
    log::debug!(url = external.as_str(); "external URL");
    log::debug!(path = prefix.as_str(); "path prefix for internal routing");

    let mut listen = Vec::new();
    for a in &addrs {
        match serve::resolve_listen_address(a) {
            Ok(v) => listen.extend(v),
            Err(e) => {
                log::error!(err:% = e; "invalid --web.listen-address");
                return ExitCode::FAILURE;
            }
        }
    }
    let limits = limits(m);
    let store = Arc::new(Store::with_limits(limits));
    let replay = |op: &gateway::op::Op<'_>| {
        if let Err(e) = store.apply(op) {
            log::warn!(err:% = e; "a persisted change could not be applied; skipped");
        }
    };
    let snapshot = {
        let store = Arc::clone(&store);
        move |emit: &mut dyn FnMut(&gateway::op::Op<'_>)| store.snapshot(&mut |op| emit(op))
    };
    let durable = match persistence::start(m, replay, snapshot) {
        Ok(d) => d,
        Err(e) => {
            log::error!(err:% = e; "cannot start persistence");
            return ExitCode::FAILURE;
        }
    };
    let r = &durable.report;
    log::info!(
        snapshot_ops = r.snapshot_ops,
        log_ops = r.log_ops,
        damaged_files = r.damage.len();
        "state restored"
    );
    if let Some(from) = &r.migrated_from {
        log::info!(kept_as:% = from.display(); "imported a Pushgateway persistence file");
    }
    spawn_trimmer();
    let gateway = Arc::new(Gateway::new(cfg, Arc::clone(&store), Arc::clone(&durable.journal)));
    let mut server_cfg = serve::Config {
        listen,
        max_body: limits.body_bytes,
        handle_signals: true,
        ..serve::Config::default()
    };
    flags::server_config(m, &mut server_cfg);
    let server = match Server::bind(server_cfg, Arc::clone(&gateway)) {
        Ok(s) => s,
        Err(e) => {
            log::error!(err:% = e, address = addrs.join(","); "cannot listen (--web.listen-address)");
            return ExitCode::FAILURE;
        }
    };
    gateway.set_stopper(server.stopper());
    let code = match server.run() {
        Ok(()) => {
            log::info!("HTTP server stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::error!(err:% = e; "HTTP server stopped");
            ExitCode::FAILURE
        }
    };
    // No more writes can arrive: the final snapshot.
    durable.shutdown();
    code
}

/// How often freed memory is handed back to the kernel.
const TRIM_EVERY: Duration = Duration::from_secs(10);

/// Replaced and deleted groups and closed connections free buffers of every size, and glibc
/// keeps most of them: after churn the resident size stays well above what the groups hold
/// (measured: 500 groups of 100 series re-pushed with values a digit longer left 5.5 MB of
/// 31 MB resident in free buffers). This thread releases them every ten seconds. Pushes and
/// scrapes allocate nothing in steady state, so the arena locks `malloc_trim` takes do not
/// hold them up, and with nothing freed the call only walks the free lists.
fn spawn_trimmer() {
    let spawned = std::thread::Builder::new().name("trim".into()).spawn(|| loop {
        std::thread::sleep(TRIM_EVERY);
        engine::sys::release_free_memory();
    });
    if let Err(e) = spawned {
        log::warn!(err:% = e; "cannot start the thread that returns freed memory; continuing without");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths() {
        assert_eq!(url_path(""), "");
        assert_eq!(url_path("http://example.com"), "");
        assert_eq!(url_path("http://example.com/pgw/?x=1"), "/pgw/");
        assert_eq!(url_path("/pgw"), "/pgw");
    }

    #[test]
    fn flags_parse() {
        let m = command()
            .try_get_matches_from([
                "gateway",
                "--web.enable-admin-api",
                "--push.disable-consistency-check=false",
                "--web.route-prefix=/pgw",
            ])
            .unwrap();
        assert!(bool_value(&m, "web.enable-admin-api", false));
        assert!(!bool_value(&m, "push.disable-consistency-check", true));
        assert_eq!(m.get_one::<String>("web.route-prefix").unwrap(), "/pgw");
    }

    #[test]
    fn limit_flags_default_to_the_gateways_and_parse() {
        let m = command().try_get_matches_from(["gateway"]).unwrap();
        assert_eq!(limits(&m), Limits::default());
        let m = command()
            .try_get_matches_from([
                "gateway",
                "--push.max-body-bytes=1000",
                "--push.max-labels-per-series=0",
                "--push.max-series-per-push=7",
                "--push.max-label-value-bytes=9",
                "--push.max-groups=2",
                "--push.max-series=0",
            ])
            .unwrap();
        let want = Limits {
            body_bytes: 1000,
            push: PushLimits { labels_per_series: 0, series_per_push: 7, label_value_bytes: 9 },
            groups: 2,
            series: 0,
        };
        assert_eq!(limits(&m), want);
        for bad in ["--push.max-body-bytes=0", "--push.max-groups=-1", "--push.max-series=1e6"] {
            let e = command().try_get_matches_from(["gateway", bad]).unwrap_err().to_string();
            assert!(e.contains(bad.split('=').next().unwrap()), "{bad}: {e}");
        }
    }
}
