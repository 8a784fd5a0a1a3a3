//! logind's sessions over D-Bus → `node_logind_sessions{seat,remote,type,class}`;
//! node_exporter's logind collector.
//!
//! From `org.freedesktop.login1` (see org.freedesktop.login1(5)): `ListSeats` and
//! `ListSessions` on the manager, then each session's `Remote`, `Type` and `Class`
//! properties. Sessions are counted per seat, remoteness, type and class; every combination of
//! the known seats (plus the empty seat of remote sessions), `true`/`false`, the types and
//! the classes logind knew in systemd 229 is reported, unknown types and classes as `other`:
//! `node_logind_sessions{class="user",remote="true",seat="",type="tty"} 1`. A session whose
//! properties cannot be read is not counted, as upstream. Marked blocking: D-Bus calls can
//! hang.

use super::dbus::{self, Dial};
use super::{Build, Collector, Error, Spec};
use crate::encode::{Encoder, Kind};
use zbus::blocking::Connection;
use zbus::zvariant::OwnedObjectPath;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "logind", default_enabled: false, flags: &[], blocking: true, build };

const DEST: &str = "org.freedesktop.login1";
const MANAGER_PATH: &str = "/org/freedesktop/login1";
const MANAGER: &str = "org.freedesktop.login1.Manager";
const SESSION: &str = "org.freedesktop.login1.Session";

const REMOTE: [&str; 2] = ["true", "false"];
/// Session types and classes as of systemd 229; `other` stands for any newer one.
const TYPES: [&str; 7] = ["other", "unspecified", "tty", "x11", "wayland", "mir", "web"];
const CLASSES: [&str; 5] = ["other", "user", "greeter", "lock-screen", "background"];

fn build(_: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Logind { dial: Dial::Bus(None), conn: None, logged: None }))
}

#[derive(Debug)]
struct Logind {
    dial: Dial,
    conn: Option<Connection>,
    logged: Option<String>,
}

impl Collector for Logind {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => dbus::connect(&self.dial)
                .map_err(|e| dbus::fail("D-Bus system bus", &e, &mut self.logged))?,
        };
        let counts = collect(&conn, &mut self.logged)?;
        self.conn = Some(conn);
        self.logged = None;
        emit(&counts, enc);
        Ok(())
    }
}

/// One session's labels: seat, remote, type and class (the last two folded to the known
/// values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The seat id; empty for sessions without a seat (SSH).
    pub seat: String,
    /// `true` or `false`.
    pub remote: bool,
    /// One of the known types.
    pub kind: &'static str,
    /// One of the known classes.
    pub class: &'static str,
}

/// The seats (with the empty seat last) and the readable sessions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Seat ids.
    pub seats: Vec<String>,
    /// Sessions whose properties could be read.
    pub sessions: Vec<Session>,
}

/// `value` if it is one of `known`, else `other`.
pub fn known_or_other(value: &str, known: &[&'static str]) -> &'static str {
    known.iter().find(|k| **k == value).copied().unwrap_or("other")
}

/// Makes every call of a scrape. `logged` is the last D-Bus failure logged.
fn collect(conn: &Connection, logged: &mut Option<String>) -> Result<Counts, Error> {
    let seats: Vec<(String, OwnedObjectPath)> =
        dbus::call(conn, DEST, MANAGER_PATH, MANAGER, "ListSeats")
            .map_err(|e| dbus::fail("org.freedesktop.login1 ListSeats", &e, logged))?;
    let list: Vec<(String, u32, String, String, OwnedObjectPath)> =
        dbus::call(conn, DEST, MANAGER_PATH, MANAGER, "ListSessions")
            .map_err(|e| dbus::fail("org.freedesktop.login1 ListSessions", &e, logged))?;
    let mut counts = Counts { seats: seats.into_iter().map(|s| s.0).collect(), sessions: vec![] };
    // Remote sessions (SSH) have no seat.
    counts.seats.push(String::new());
    for (_, _, _, seat, path) in list {
        let path = path.as_str();
        let session = (|| -> zbus::Result<Session> {
            let remote: bool = dbus::get(conn, DEST, path, SESSION, "Remote")?;
            let kind: String = dbus::get(conn, DEST, path, SESSION, "Type")?;
            let class: String = dbus::get(conn, DEST, path, SESSION, "Class")?;
            Ok(Session {
                seat,
                remote,
                kind: known_or_other(&kind, &TYPES),
                class: known_or_other(&class, &CLASSES),
            })
        })();
        match session {
            Ok(s) => counts.sessions.push(s),
            Err(e) => log::debug!(session = path, err:% = e; "logind: session skipped"),
        }
    }
    Ok(counts)
}

/// Adds one sample per seat, remoteness, type and class.
pub fn emit(counts: &Counts, enc: &mut Encoder) {
    let f =
        enc.family("node_logind_sessions", "Number of sessions registered in logind.", Kind::Gauge);
    for remote in REMOTE {
        for kind in TYPES {
            for class in CLASSES {
                for seat in &counts.seats {
                    let n = counts
                        .sessions
                        .iter()
                        .filter(|s| {
                            s.seat == *seat
                                && REMOTE[usize::from(!s.remote)] == remote
                                && s.kind == kind
                                && s.class == class
                        })
                        .count();
                    let labels = [
                        ("seat", seat.as_bytes()),
                        ("remote", remote.as_bytes()),
                        ("type", kind.as_bytes()),
                        ("class", class.as_bytes()),
                    ];
                    enc.sample(f, &labels, n as f64);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::dbus::testbus::TestBus;
    use crate::collector::testing::{build, render, try_scrape};
    use crate::collector::Settings;
    use crate::source::Paths;

    fn session(seat: &str, remote: bool, kind: &str, class: &str) -> Session {
        Session {
            seat: seat.into(),
            remote,
            kind: known_or_other(kind, &TYPES),
            class: known_or_other(class, &CLASSES),
        }
    }

    #[test]
    fn counts_to_samples() {
        let counts = Counts {
            seats: vec!["seat0".into(), String::new()],
            sessions: vec![
                session("seat0", false, "x11", "user"),
                session("", true, "tty", "user"),
                session("", true, "tty", "user"),
                session("", false, "unknown-new-type", "manager"),
            ],
        };
        let text = render(|enc| emit(&counts, enc));
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples.len(), 2 * 7 * 5 * 2);
        for line in [
            "node_logind_sessions{class=\"user\",remote=\"false\",seat=\"seat0\",type=\"x11\"} 1",
            "node_logind_sessions{class=\"user\",remote=\"true\",seat=\"\",type=\"tty\"} 2",
            "node_logind_sessions{class=\"other\",remote=\"false\",seat=\"\",type=\"other\"} 1",
            "node_logind_sessions{class=\"user\",remote=\"true\",seat=\"seat0\",type=\"tty\"} 0",
        ] {
            assert!(samples.contains(&line), "{line} missing from\n{text}");
        }
        assert!(text.starts_with(
            "# HELP node_logind_sessions Number of sessions registered in logind.\n\
             # TYPE node_logind_sessions gauge\n"
        ));
    }

    struct FakeManager;

    #[zbus::interface(name = "org.freedesktop.login1.Manager")]
    impl FakeManager {
        fn list_seats(&self) -> Vec<(String, OwnedObjectPath)> {
            let path = OwnedObjectPath::try_from("/org/freedesktop/login1/seat/seat0").unwrap();
            vec![("seat0".into(), path)]
        }

        fn list_sessions(&self) -> Vec<(String, u32, String, String, OwnedObjectPath)> {
            let s = |id: &str, seat: &str| {
                let path = format!("/org/freedesktop/login1/session/_3{id}");
                (id.to_owned(), 1000, "user".to_owned(), seat.to_owned(), path.try_into().unwrap())
            };
            // Session 4 has no object: it is not counted.
            vec![s("1", "seat0"), s("2", ""), s("3", ""), s("4", "")]
        }
    }

    struct FakeSession(bool, &'static str, &'static str);

    #[zbus::interface(name = "org.freedesktop.login1.Session")]
    impl FakeSession {
        #[zbus(property)]
        fn remote(&self) -> bool {
            self.0
        }

        #[zbus(property, name = "Type")]
        fn kind(&self) -> String {
            self.1.into()
        }

        #[zbus(property)]
        fn class(&self) -> String {
            self.2.into()
        }
    }

    #[test]
    fn against_a_fake_logind_on_a_private_bus() {
        let Some(bus) = TestBus::start("logind-bus") else { return };
        let service = zbus::blocking::connection::Builder::address(bus.address.as_str())
            .unwrap()
            .name(DEST)
            .unwrap()
            .serve_at(MANAGER_PATH, FakeManager)
            .unwrap()
            .serve_at("/org/freedesktop/login1/session/_31", FakeSession(false, "wayland", "user"))
            .unwrap()
            .serve_at("/org/freedesktop/login1/session/_32", FakeSession(true, "tty", "user"))
            .unwrap()
            .serve_at("/org/freedesktop/login1/session/_33", FakeSession(true, "tty", "manager"))
            .unwrap()
            .build()
            .unwrap();
        let mut c = Logind { dial: Dial::Bus(Some(bus.address.clone())), conn: None, logged: None };
        for _ in 0..2 {
            let text = try_scrape(&mut c).unwrap();
            let nonzero: Vec<&str> =
                text.lines().filter(|l| !l.starts_with('#') && !l.ends_with(" 0")).collect();
            assert_eq!(
                nonzero,
                [
                    "node_logind_sessions{class=\"other\",remote=\"true\",seat=\"\",type=\"tty\"} 1",
                    "node_logind_sessions{class=\"user\",remote=\"false\",seat=\"seat0\",type=\"wayland\"} 1",
                    "node_logind_sessions{class=\"user\",remote=\"true\",seat=\"\",type=\"tty\"} 1",
                ]
            );
            assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 140);
        }
        drop(service);
        assert!(try_scrape(&mut c).is_err());
        assert!(c.conn.is_none());
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
