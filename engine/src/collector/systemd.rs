//! systemd's manager over D-Bus → `node_systemd_*`; node_exporter's systemd collector.
//!
//! From `org.freedesktop.systemd1` (see org.freedesktop.systemd1(5)): the manager's `Version`
//! and `SystemState` properties, `ListUnits` (every unit's name, load and active state), and
//! per included unit the properties of its type's interface: a service's `Type`, `NRestarts`,
//! `TasksCurrent`/`TasksMax`; a mount's `Type`; a unit's `ActiveEnterTimestamp`; a timer's
//! `LastTriggerUSec`; a socket's `NAccepted`, `NConnections`, `NRefused`. A unit's object path
//! is its name escaped as systemd escapes bus labels (`ssh.service` →
//! `/org/freedesktop/systemd1/unit/ssh_2eservice`). Sample output:
//! `node_systemd_unit_state{name="ssh.service",state="active",type="notify"} 1`.
//!
//! Units are included when their name matches `--collector.systemd.unit-include`, does not
//! match `--collector.systemd.unit-exclude` (both anchored at both ends, as upstream) and they
//! are loaded. A property that cannot be read leaves its sample out, as upstream; where
//! upstream would crash on a property of another type, the sample is left out too. The calls
//! are made one after another on one kept connection (upstream runs groups of them side by
//! side); the collector is marked blocking, since a D-Bus call can hang.

use super::dbus::{self, Dial};
use super::{Build, Collector, Error, Flag, FlagKind, Settings, Spec};
use crate::encode::{Encoder, Kind};
use crate::quote;
use regex::Regex;
use zbus::blocking::Connection;
use zbus::zvariant::OwnedObjectPath;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "systemd", default_enabled: false, flags: FLAGS, blocking: true, build };

const INCLUDE: &str = "collector.systemd.unit-include";
const INCLUDE_OLD: &str = "collector.systemd.unit-whitelist";
const EXCLUDE: &str = "collector.systemd.unit-exclude";
const EXCLUDE_OLD: &str = "collector.systemd.unit-blacklist";
const PRIVATE: &str = "collector.systemd.private";
const TASKS: &str = "collector.systemd.enable-task-metrics";
const RESTARTS: &str = "collector.systemd.enable-restarts-metrics";
const START_TIME: &str = "collector.systemd.enable-start-time-metrics";

const FLAGS: &[Flag] = &[
    Flag {
        name: INCLUDE,
        help: "Regexp of systemd units to include. Units must both match include and not match \
               exclude to be included.",
        kind: FlagKind::Regex,
        default: ".+",
        aliases: &[INCLUDE_OLD],
    },
    Flag {
        name: EXCLUDE,
        help: "Regexp of systemd units to exclude. Units must both match include and not match \
               exclude to be included.",
        kind: FlagKind::Regex,
        default: ".+\\.(automount|device|mount|scope|slice)",
        aliases: &[EXCLUDE_OLD],
    },
    // Hidden upstream; listed here, as flags have no hidden form.
    Flag {
        name: PRIVATE,
        help: "Establish a private, direct connection to systemd without dbus (Strongly \
               discouraged since it requires root. For testing purposes only).",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    },
    Flag {
        name: TASKS,
        help: "Enables service unit tasks metrics unit_tasks_current and unit_tasks_max",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    },
    Flag {
        name: RESTARTS,
        help: "Enables service unit metric service_restart_total",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    },
    Flag {
        name: START_TIME,
        help: "Enables service unit metric unit_start_time_seconds",
        kind: FlagKind::Bool,
        default: "false",
        aliases: &[],
    },
];

const DEST: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// The first systemd with the manager's `SystemState` and timers' `LastTriggerUSec`.
const MIN_VERSION_SYSTEM_STATE: f64 = 212.0;
/// The active states every unit summary and unit reports, in upstream's order.
const STATES: [&str; 5] = ["active", "activating", "deactivating", "inactive", "failed"];

#[derive(Debug)]
struct Config {
    include: Regex,
    exclude: Regex,
    tasks: bool,
    restarts: bool,
    start_time: bool,
}

fn config(s: &Settings) -> Result<Config, String> {
    // An old name given apart from its new one (rather than filed under it as an alias)
    // stands in for the new one's default, and clashes with an explicit new value.
    let pick = |new: &'static str, old: &'static str| -> Result<(&'static str, String), String> {
        match (s.is_set(new), s.str(old)) {
            (_, "") => Ok((new, s.str(new).to_owned())),
            (false, old_value) => Ok((old, old_value.to_owned())),
            (true, _) => Err(format!("--{old} and --{new} are mutually exclusive")),
        }
    };
    let anchored = |(flag, re): (&str, String)| {
        Regex::new(&format!("^(?:{re})$"))
            .map_err(|e| format!("invalid regular expression for --{flag}: {e}"))
    };
    Ok(Config {
        include: anchored(pick(INCLUDE, INCLUDE_OLD)?)?,
        exclude: anchored(pick(EXCLUDE, EXCLUDE_OLD)?)?,
        tasks: s.bool(TASKS),
        restarts: s.bool(RESTARTS),
        start_time: s.bool(START_TIME),
    })
}

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let dial = if b.settings.bool(PRIVATE) {
        Dial::Peer("unix:path=/run/systemd/private".to_owned())
    } else {
        Dial::Bus(None)
    };
    Ok(Box::new(Systemd { config: config(b.settings)?, dial, conn: None, logged: None }))
}

#[derive(Debug)]
struct Systemd {
    config: Config,
    dial: Dial,
    conn: Option<Connection>,
    logged: Option<String>,
}

impl Collector for Systemd {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => dbus::connect(&self.dial)
                .map_err(|e| dbus::fail("D-Bus system bus", &e, &mut self.logged))?,
        };
        let snapshot = collect(&conn, &self.config, &mut self.logged)?;
        self.conn = Some(conn);
        self.logged = None;
        emit(&snapshot, enc);
        Ok(())
    }
}

/// One unit from `ListUnits`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Unit {
    /// Unit name (`ssh.service`).
    pub name: String,
    /// `loaded`, `not-found`, …
    pub load_state: String,
    /// `active`, `inactive`, …
    pub active_state: String,
}

/// What one scrape learned about an included unit; `None` for what is not reported.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Detail {
    /// Index into [`Snapshot::units`].
    pub unit: usize,
    /// A service's or mount's `Type`, empty otherwise or when unreadable.
    pub unit_type: String,
    /// `NRestarts`.
    pub restarts: Option<u32>,
    /// `ActiveEnterTimestamp` in µs (0 for a unit not active).
    pub start_time: Option<u64>,
    /// `TasksCurrent`.
    pub tasks_current: Option<u64>,
    /// `TasksMax`.
    pub tasks_max: Option<u64>,
    /// A timer's `LastTriggerUSec`.
    pub last_trigger: Option<u64>,
    /// A socket's `NAccepted`, `NConnections`, `NRefused`.
    pub accepted: Option<u32>,
    /// See `accepted`.
    pub connections: Option<u32>,
    /// See `accepted`.
    pub refused: Option<u32>,
}

/// Everything one scrape reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// The version as a number (`255.4`), 0 if unknown.
    pub version: f64,
    /// The version as systemd gives it (`255.4-1`), empty if unknown.
    pub version_label: String,
    /// Every unit.
    pub units: Vec<Unit>,
    /// The included units' properties.
    pub details: Vec<Detail>,
    /// Whether `SystemState` is `running`; `None` before systemd 212.
    pub system_running: Option<bool>,
}

/// `ListUnits`' reply: name, description, load state, active state, sub state, followed unit,
/// object path, job id, job type, job path.
type UnitRow =
    (String, String, String, String, String, String, OwnedObjectPath, u32, String, OwnedObjectPath);

/// Makes every call of a scrape. `logged` is the last D-Bus failure logged.
///
/// # Errors
/// The step that failed: listing the units, or reading `SystemState` (systemd 212 on).
fn collect(
    conn: &Connection,
    cfg: &Config,
    logged: &mut Option<String>,
) -> Result<Snapshot, Error> {
    let mut snap = Snapshot::default();
    if let Ok(raw) = dbus::get::<String>(conn, DEST, MANAGER_PATH, MANAGER, "Version") {
        (snap.version, snap.version_label) = parse_version(&raw);
    }
    let rows: Vec<UnitRow> = dbus::call(conn, DEST, MANAGER_PATH, MANAGER, "ListUnits")
        .map_err(|e| dbus::fail("org.freedesktop.systemd1 ListUnits", &e, logged))?;
    snap.units =
        rows.into_iter().map(|r| Unit { name: r.0, load_state: r.2, active_state: r.3 }).collect();
    for (i, unit) in snap.units.iter().enumerate() {
        if cfg.include.is_match(&unit.name)
            && !cfg.exclude.is_match(&unit.name)
            && unit.load_state == "loaded"
        {
            snap.details.push(detail(conn, cfg, i, unit, snap.version));
        }
    }
    if snap.version >= MIN_VERSION_SYSTEM_STATE {
        let state: String = dbus::get(conn, DEST, MANAGER_PATH, MANAGER, "SystemState")
            .map_err(|e| dbus::fail("org.freedesktop.systemd1 SystemState", &e, logged))?;
        snap.system_running = Some(state == "running");
    }
    Ok(snap)
}

/// The properties of one included unit; each unreadable one is left out.
fn detail(conn: &Connection, cfg: &Config, index: usize, unit: &Unit, version: f64) -> Detail {
    let path = unit_path(&unit.name);
    let get_u32 = |iface: &str, prop: &str| -> Option<u32> {
        let iface = format!("org.freedesktop.systemd1.{iface}");
        dbus::get(conn, DEST, &path, &iface, prop)
            .map_err(|e| log::debug!(unit = unit.name.as_str(), prop = prop, err:% = e; "systemd: property"))
            .ok()
    };
    let get_u64 = |iface: &str, prop: &str| -> Option<u64> {
        let iface = format!("org.freedesktop.systemd1.{iface}");
        dbus::get(conn, DEST, &path, &iface, prop)
            .map_err(|e| log::debug!(unit = unit.name.as_str(), prop = prop, err:% = e; "systemd: property"))
            .ok()
    };
    let get_string = |iface: &str| -> Option<String> {
        let iface = format!("org.freedesktop.systemd1.{iface}");
        dbus::get(conn, DEST, &path, &iface, "Type").ok()
    };
    let name = unit.name.as_str();
    let is_service = name.ends_with(".service");
    let mut d = Detail { unit: index, ..Detail::default() };
    if is_service {
        d.unit_type = get_string("Service").unwrap_or_default();
    } else if name.ends_with(".mount") {
        d.unit_type = get_string("Mount").unwrap_or_default();
    }
    if cfg.restarts && is_service {
        d.restarts = get_u32("Service", "NRestarts");
    }
    if cfg.start_time {
        d.start_time = if unit.active_state == "active" {
            get_u64("Unit", "ActiveEnterTimestamp")
        } else {
            Some(0)
        };
    }
    if cfg.tasks && is_service {
        // systemd reports "no limit" and "not counted" as the largest u64.
        d.tasks_current = get_u64("Service", "TasksCurrent").filter(|&v| v != u64::MAX);
        d.tasks_max = get_u64("Service", "TasksMax").filter(|&v| v != u64::MAX);
    }
    if version >= MIN_VERSION_SYSTEM_STATE && name.ends_with(".timer") {
        d.last_trigger = get_u64("Timer", "LastTriggerUSec");
    }
    if name.ends_with(".socket") {
        // As upstream: no accepted count, nothing; no current count, no refused count.
        d.accepted = get_u32("Socket", "NAccepted");
        if d.accepted.is_some() {
            d.connections = get_u32("Socket", "NConnections");
        }
        if d.connections.is_some() {
            d.refused = get_u32("Socket", "NRefused");
        }
    }
    d
}

/// The manager's `Version` as upstream reads it: the string as Go quotes it less its outer
/// quotes (the label), and the first `[0-9]{3,}(\.[0-9]+)?` in it as a number; `(0, "")`
/// when there is no such number.
pub fn parse_version(raw: &str) -> (f64, String) {
    let mut label = String::new();
    // Writing to a String cannot fail.
    let _ = quote::write_inner(&mut label, raw.as_bytes());
    let number = first_version_number(&label);
    match number.and_then(|n| n.parse::<f64>().ok()) {
        Some(v) => (v, label),
        None => (0.0, String::new()),
    }
}

/// The leftmost match of `[0-9]{3,}(\.[0-9]+)?` in `s`.
fn first_version_number(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits >= 3 {
            let mut end = i + digits;
            if b.get(end) == Some(&b'.') {
                let frac = b[end + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if frac > 0 {
                    end += 1 + frac;
                }
            }
            return Some(&s[i..end]);
        }
        i += digits.max(1);
    }
    None
}

/// A unit's object path: its name with every byte but ASCII letters and digits (and a digit
/// in first place) written `_xx` in hex, as systemd's `bus_label_escape`.
pub fn unit_path(name: &str) -> String {
    let mut path = String::from("/org/freedesktop/systemd1/unit/");
    if name.is_empty() {
        path.push('_');
    }
    for (i, b) in name.bytes().enumerate() {
        if b.is_ascii_alphabetic() || (b.is_ascii_digit() && i > 0) {
            path.push(char::from(b));
        } else {
            path.push('_');
            path.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            path.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
    }
    path
}

/// Adds a scrape's samples.
pub fn emit(snap: &Snapshot, enc: &mut Encoder) {
    let g = Kind::Gauge;
    let version = enc.family("node_systemd_version", "Detected systemd version", g);
    enc.sample(version, &[("version", snap.version_label.as_bytes())], snap.version);

    // Every unit counts toward its state, the five usual ones reported even at 0.
    let summary = enc.family("node_systemd_units", "Summary of systemd unit states", g);
    let mut counts: Vec<(&str, u32)> = STATES.iter().map(|s| (*s, 0)).collect();
    for u in &snap.units {
        match counts.iter_mut().find(|c| c.0 == u.active_state) {
            Some(c) => c.1 += 1,
            None => counts.push((&u.active_state, 1)),
        }
    }
    for (state, n) in counts {
        enc.sample(summary, &[("state", state.as_bytes())], f64::from(n));
    }

    let unit_state = enc.family("node_systemd_unit_state", "Systemd unit", g);
    let restarts = enc.family(
        "node_systemd_service_restart_total",
        "Service unit count of Restart triggers",
        Kind::Counter,
    );
    let start_time = enc.family(
        "node_systemd_unit_start_time_seconds",
        "Start time of the unit since unix epoch in seconds.",
        g,
    );
    let tasks_current = enc.family(
        "node_systemd_unit_tasks_current",
        "Current number of tasks per Systemd unit",
        g,
    );
    let tasks_max =
        enc.family("node_systemd_unit_tasks_max", "Maximum number of tasks per Systemd unit", g);
    let last_trigger = enc.family(
        "node_systemd_timer_last_trigger_seconds",
        "Seconds since epoch of last trigger.",
        g,
    );
    let accepted = enc.family(
        "node_systemd_socket_accepted_connections_total",
        "Total number of accepted socket connections",
        Kind::Counter,
    );
    let connections = enc.family(
        "node_systemd_socket_current_connections",
        "Current number of socket connections",
        g,
    );
    // A gauge despite its name, as upstream declares it.
    let refused = enc.family(
        "node_systemd_socket_refused_connections_total",
        "Total number of refused socket connections",
        g,
    );
    for d in &snap.details {
        let unit = &snap.units[d.unit];
        let name = [("name", unit.name.as_bytes())];
        for state in STATES {
            let labels = [
                ("name", unit.name.as_bytes()),
                ("state", state.as_bytes()),
                ("type", d.unit_type.as_bytes()),
            ];
            let on = if unit.active_state == state { 1.0 } else { 0.0 };
            enc.sample(unit_state, &labels, on);
        }
        let samples = [
            (restarts, d.restarts.map(f64::from)),
            (start_time, d.start_time.map(|us| us as f64 / 1e6)),
            (tasks_current, d.tasks_current.map(|v| v as f64)),
            (tasks_max, d.tasks_max.map(|v| v as f64)),
            (last_trigger, d.last_trigger.map(|us| us as f64 / 1e6)),
            (accepted, d.accepted.map(f64::from)),
            (connections, d.connections.map(f64::from)),
            (refused, d.refused.map(f64::from)),
        ];
        for (family, value) in samples {
            if let Some(v) = value {
                enc.sample(family, &name, v);
            }
        }
    }

    if let Some(running) = snap.system_running {
        let f = enc.family(
            "node_systemd_system_running",
            "Whether the system is operational (see 'systemctl is-system-running')",
            g,
        );
        enc.sample(f, &[], if running { 1.0 } else { 0.0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::dbus::testbus::TestBus;
    use crate::collector::testing::{build, render, try_scrape};
    use crate::source::Paths;
    use zbus::zvariant::ObjectPath;

    #[test]
    fn versions_as_upstream() {
        assert_eq!(parse_version("255.4-1"), (255.4, "255.4-1".to_owned()));
        assert_eq!(parse_version("v249"), (249.0, "v249".to_owned()));
        assert_eq!(parse_version("systemd 1234.5.6"), (1234.5, "systemd 1234.5.6".to_owned()));
        assert_eq!(parse_version("252."), (252.0, "252.".to_owned()));
        assert_eq!(parse_version("12.3"), (0.0, String::new()));
        assert_eq!(parse_version(""), (0.0, String::new()));
        // The label is what Go's quoting leaves between the quotes.
        assert_eq!(parse_version("255 \"x\"\n").1, "255 \\\"x\\\"\\n");
    }

    #[test]
    fn unit_paths_as_systemd_escapes_them() {
        assert_eq!(unit_path("ssh.service"), "/org/freedesktop/systemd1/unit/ssh_2eservice");
        assert_eq!(
            unit_path("systemd-fsck@dev-vda1.service"),
            "/org/freedesktop/systemd1/unit/systemd_2dfsck_40dev_2dvda1_2eservice"
        );
        assert_eq!(unit_path("1a.mount"), "/org/freedesktop/systemd1/unit/_31a_2emount");
        assert_eq!(unit_path(""), "/org/freedesktop/systemd1/unit/_");
        assert!(ObjectPath::try_from(unit_path("ä é.socket")).is_ok());
    }

    #[test]
    fn unit_filters() {
        let cfg = config(&Settings::new()).unwrap();
        let included = |cfg: &Config, n: &str| cfg.include.is_match(n) && !cfg.exclude.is_match(n);
        assert!(included(&cfg, "ssh.service"));
        for n in ["-.mount", "dev-sda.device", "session-1.scope", "user.slice", "proc.automount"] {
            assert!(!included(&cfg, n), "{n}");
        }
        // Anchored at both ends.
        let mut s = Settings::new();
        s.set(INCLUDE, "ssh");
        assert!(!included(&config(&s).unwrap(), "ssh.service"));
        s.set(INCLUDE, "ssh.*|cron.*");
        assert!(included(&config(&s).unwrap(), "cron.service"));
        // An old name given alone replaces the default; with the new one, a clash.
        let mut s = Settings::new();
        s.set(EXCLUDE_OLD, "nothing");
        assert!(included(&config(&s).unwrap(), "home.mount"));
        s.set(EXCLUDE, "x");
        assert!(config(&s).unwrap_err().contains("mutually exclusive"));
        let mut s = Settings::new();
        s.set(INCLUDE, "(");
        assert!(config(&s).unwrap_err().contains("--collector.systemd.unit-include"));
    }

    fn unit(name: &str, load: &str, active: &str) -> Unit {
        Unit { name: name.into(), load_state: load.into(), active_state: active.into() }
    }

    #[test]
    fn snapshot_to_samples() {
        let snap = Snapshot {
            version: 255.4,
            version_label: "255.4-1".into(),
            units: vec![
                unit("ssh.service", "loaded", "active"),
                unit("gone.service", "not-found", "inactive"),
                unit("dbus.socket", "loaded", "active"),
                unit("odd.service", "loaded", "reloading"),
            ],
            details: vec![
                Detail {
                    unit: 0,
                    unit_type: "notify".into(),
                    restarts: Some(2),
                    start_time: Some(1_700_000_000_123_456),
                    tasks_current: Some(3),
                    ..Detail::default()
                },
                Detail {
                    unit: 2,
                    accepted: Some(5),
                    connections: Some(1),
                    start_time: Some(0),
                    ..Detail::default()
                },
                Detail { unit: 3, ..Detail::default() },
            ],
            system_running: Some(false),
        };
        let text = render(|enc| emit(&snap, enc));
        for line in [
            "node_systemd_version{version=\"255.4-1\"} 255.4",
            "node_systemd_units{state=\"active\"} 2",
            "node_systemd_units{state=\"inactive\"} 1",
            "node_systemd_units{state=\"failed\"} 0",
            "node_systemd_units{state=\"reloading\"} 1",
            "node_systemd_unit_state{name=\"ssh.service\",state=\"active\",type=\"notify\"} 1",
            "node_systemd_unit_state{name=\"ssh.service\",state=\"failed\",type=\"notify\"} 0",
            "node_systemd_unit_state{name=\"dbus.socket\",state=\"active\",type=\"\"} 1",
            "node_systemd_unit_state{name=\"odd.service\",state=\"active\",type=\"\"} 0",
            "node_systemd_service_restart_total{name=\"ssh.service\"} 2",
            "node_systemd_unit_start_time_seconds{name=\"ssh.service\"} 1.700000000123456e+09",
            "node_systemd_unit_start_time_seconds{name=\"dbus.socket\"} 0",
            "node_systemd_unit_tasks_current{name=\"ssh.service\"} 3",
            "node_systemd_socket_accepted_connections_total{name=\"dbus.socket\"} 5",
            "node_systemd_socket_current_connections{name=\"dbus.socket\"} 1",
            "node_systemd_system_running 0",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} missing from\n{text}");
        }
        assert!(!text.contains("gone.service"));
        assert!(!text.contains("tasks_max"));
        assert!(!text.contains("refused"));
        assert!(!text.contains("# TYPE node_systemd_socket_refused_connections_total"));
        assert!(text.contains("# TYPE node_systemd_service_restart_total counter\n"));
        // Before systemd 212 there is no system state.
        let old = Snapshot { system_running: None, ..Snapshot::default() };
        assert!(!render(|enc| emit(&old, enc)).contains("system_running"));
    }

    // A fake systemd: the manager and a few units' interfaces, served on a test bus.

    struct FakeManager(Vec<UnitRow>);

    #[zbus::interface(name = "org.freedesktop.systemd1.Manager")]
    impl FakeManager {
        #[zbus(property)]
        fn version(&self) -> String {
            "255.4-1".into()
        }

        #[zbus(property)]
        fn system_state(&self) -> String {
            "running".into()
        }

        fn list_units(&self) -> Vec<UnitRow> {
            self.0.clone()
        }
    }

    struct FakeService(&'static str, u32, u64, u64);

    #[zbus::interface(name = "org.freedesktop.systemd1.Service")]
    impl FakeService {
        #[zbus(property, name = "Type")]
        fn kind(&self) -> String {
            self.0.into()
        }

        #[zbus(property, name = "NRestarts")]
        fn n_restarts(&self) -> u32 {
            self.1
        }

        #[zbus(property)]
        fn tasks_current(&self) -> u64 {
            self.2
        }

        #[zbus(property)]
        fn tasks_max(&self) -> u64 {
            self.3
        }
    }

    struct FakeUnit(u64);

    #[zbus::interface(name = "org.freedesktop.systemd1.Unit")]
    impl FakeUnit {
        #[zbus(property)]
        fn active_enter_timestamp(&self) -> u64 {
            self.0
        }
    }

    struct FakeSocket;

    #[zbus::interface(name = "org.freedesktop.systemd1.Socket")]
    impl FakeSocket {
        #[zbus(property, name = "NAccepted")]
        fn n_accepted(&self) -> u32 {
            5
        }

        #[zbus(property, name = "NConnections")]
        fn n_connections(&self) -> u32 {
            1
        }
    }

    struct FakeTimer;

    #[zbus::interface(name = "org.freedesktop.systemd1.Timer")]
    impl FakeTimer {
        #[zbus(property, name = "LastTriggerUSec")]
        fn last_trigger_usec(&self) -> u64 {
            1_700_000_000_000_000
        }
    }

    /// A `TasksMax` of the wrong type: upstream's type assertion would panic.
    struct OddService;

    #[zbus::interface(name = "org.freedesktop.systemd1.Service")]
    impl OddService {
        #[zbus(property, name = "TasksMax")]
        fn tasks_max(&self) -> String {
            "infinity".into()
        }
    }

    fn row(name: &str, load: &str, active: &str) -> UnitRow {
        let path = OwnedObjectPath::try_from(unit_path(name)).unwrap();
        let job = OwnedObjectPath::try_from("/").unwrap();
        let s = String::from;
        (s(name), s(""), s(load), s(active), s("running"), s(""), path, 0, s(""), job)
    }

    fn fake_systemd(builder: zbus::blocking::connection::Builder<'_>) -> Connection {
        let units = vec![
            row("ssh.service", "loaded", "active"),
            row("cron.service", "loaded", "inactive"),
            row("odd.service", "loaded", "failed"),
            row("gone.service", "not-found", "inactive"),
            row("home.mount", "loaded", "active"),
            row("dbus.socket", "loaded", "active"),
            row("logrotate.timer", "loaded", "active"),
        ];
        builder
            .serve_at(MANAGER_PATH, FakeManager(units))
            .unwrap()
            .serve_at(unit_path("ssh.service"), FakeService("notify", 2, 3, u64::MAX))
            .unwrap()
            .serve_at(unit_path("ssh.service"), FakeUnit(1_700_000_000_123_456))
            .unwrap()
            .serve_at(unit_path("cron.service"), FakeService("simple", 0, u64::MAX, 4915))
            .unwrap()
            .serve_at(unit_path("odd.service"), OddService)
            .unwrap()
            .serve_at(unit_path("dbus.socket"), FakeSocket)
            .unwrap()
            .serve_at(unit_path("dbus.socket"), FakeUnit(1_600_000_000_000_000))
            .unwrap()
            .serve_at(unit_path("logrotate.timer"), FakeTimer)
            .unwrap()
            .build()
            .unwrap()
    }

    /// Everything the fake systemd answers, with every optional metric on.
    const EXPECTED: &str = "\
node_systemd_service_restart_total{name=\"cron.service\"} 0
node_systemd_service_restart_total{name=\"ssh.service\"} 2
node_systemd_socket_accepted_connections_total{name=\"dbus.socket\"} 5
node_systemd_socket_current_connections{name=\"dbus.socket\"} 1
node_systemd_system_running 1
node_systemd_timer_last_trigger_seconds{name=\"logrotate.timer\"} 1.7e+09
node_systemd_unit_start_time_seconds{name=\"cron.service\"} 0
node_systemd_unit_start_time_seconds{name=\"dbus.socket\"} 1.6e+09
node_systemd_unit_start_time_seconds{name=\"odd.service\"} 0
node_systemd_unit_start_time_seconds{name=\"ssh.service\"} 1.700000000123456e+09
node_systemd_unit_state{name=\"cron.service\",state=\"activating\",type=\"simple\"} 0
node_systemd_unit_state{name=\"cron.service\",state=\"active\",type=\"simple\"} 0
node_systemd_unit_state{name=\"cron.service\",state=\"deactivating\",type=\"simple\"} 0
node_systemd_unit_state{name=\"cron.service\",state=\"failed\",type=\"simple\"} 0
node_systemd_unit_state{name=\"cron.service\",state=\"inactive\",type=\"simple\"} 1
node_systemd_unit_state{name=\"dbus.socket\",state=\"activating\",type=\"\"} 0
node_systemd_unit_state{name=\"dbus.socket\",state=\"active\",type=\"\"} 1
node_systemd_unit_state{name=\"dbus.socket\",state=\"deactivating\",type=\"\"} 0
node_systemd_unit_state{name=\"dbus.socket\",state=\"failed\",type=\"\"} 0
node_systemd_unit_state{name=\"dbus.socket\",state=\"inactive\",type=\"\"} 0
node_systemd_unit_state{name=\"logrotate.timer\",state=\"activating\",type=\"\"} 0
node_systemd_unit_state{name=\"logrotate.timer\",state=\"active\",type=\"\"} 1
node_systemd_unit_state{name=\"logrotate.timer\",state=\"deactivating\",type=\"\"} 0
node_systemd_unit_state{name=\"logrotate.timer\",state=\"failed\",type=\"\"} 0
node_systemd_unit_state{name=\"logrotate.timer\",state=\"inactive\",type=\"\"} 0
node_systemd_unit_state{name=\"odd.service\",state=\"activating\",type=\"\"} 0
node_systemd_unit_state{name=\"odd.service\",state=\"active\",type=\"\"} 0
node_systemd_unit_state{name=\"odd.service\",state=\"deactivating\",type=\"\"} 0
node_systemd_unit_state{name=\"odd.service\",state=\"failed\",type=\"\"} 1
node_systemd_unit_state{name=\"odd.service\",state=\"inactive\",type=\"\"} 0
node_systemd_unit_state{name=\"ssh.service\",state=\"activating\",type=\"notify\"} 0
node_systemd_unit_state{name=\"ssh.service\",state=\"active\",type=\"notify\"} 1
node_systemd_unit_state{name=\"ssh.service\",state=\"deactivating\",type=\"notify\"} 0
node_systemd_unit_state{name=\"ssh.service\",state=\"failed\",type=\"notify\"} 0
node_systemd_unit_state{name=\"ssh.service\",state=\"inactive\",type=\"notify\"} 0
node_systemd_unit_tasks_current{name=\"ssh.service\"} 3
node_systemd_unit_tasks_max{name=\"cron.service\"} 4915
node_systemd_units{state=\"activating\"} 0
node_systemd_units{state=\"active\"} 4
node_systemd_units{state=\"deactivating\"} 0
node_systemd_units{state=\"failed\"} 1
node_systemd_units{state=\"inactive\"} 2
node_systemd_version{version=\"255.4-1\"} 255.4
";

    fn all_on() -> Config {
        let mut s = Settings::new();
        for flag in [TASKS, RESTARTS, START_TIME] {
            s.set(flag, "true");
        }
        config(&s).unwrap()
    }

    fn samples(text: &str) -> String {
        text.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect()
    }

    #[test]
    fn against_a_fake_systemd_on_a_private_bus() {
        let Some(bus) = TestBus::start("systemd-bus") else { return };
        let builder = zbus::blocking::connection::Builder::address(bus.address.as_str())
            .unwrap()
            .name(DEST)
            .unwrap();
        let _service = fake_systemd(builder);
        let mut c = Systemd {
            config: all_on(),
            dial: Dial::Bus(Some(bus.address.clone())),
            conn: None,
            logged: None,
        };
        for _ in 0..2 {
            let text = try_scrape(&mut c).unwrap();
            assert_eq!(samples(&text), EXPECTED);
            assert!(text.contains("# HELP node_systemd_unit_state Systemd unit\n# TYPE node_systemd_unit_state gauge\n"));
        }
        assert!(c.conn.is_some(), "the connection is kept");
        // The service leaves the bus: the scrape fails and the connection is dropped.
        drop(_service);
        assert!(try_scrape(&mut c).is_err());
        assert!(c.conn.is_none());
        drop(bus);
        assert!(try_scrape(&mut c).is_err());
    }

    #[test]
    fn private_connection_to_a_peer() {
        let dir = crate::collector::testing::tmpdir("systemd-peer");
        let socket = dir.join("private");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let guid = zbus::Guid::generate();
            #[allow(deprecated)]
            let builder = zbus::blocking::connection::Builder::unix_stream(stream)
                .server(guid)
                .unwrap()
                .p2p();
            let conn = fake_systemd(builder);
            // Serve until the client is done.
            let _ = wait.recv();
            drop(conn);
        });
        let dial = Dial::Peer(format!("unix:path={}", socket.display()));
        let mut c = Systemd { config: all_on(), dial, conn: None, logged: None };
        assert_eq!(samples(&try_scrape(&mut c).unwrap()), EXPECTED);
        drop(c);
        done.send(()).unwrap();
        server.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            // Without a system bus (containers, CI) the scrape fails cleanly.
            let _ = try_scrape(c.as_mut());
        }
    }
}
