//! D-Bus plumbing shared by the systemd and logind collectors, on zbus's blocking API: how
//! to connect, reading one property, and turning a zbus error into a collector [`Error`].
//!
//! A connection is made on the first scrape and kept; a scrape that fails drops it, so the
//! next one connects afresh (after a bus or service restart, say). Method calls time out
//! after [`TIMEOUT`], so a wedged service cannot hold the collector's thread forever.

use super::Error;
use rustix::io::Errno;
use std::time::Duration;
use zbus::blocking::connection::Builder;
use zbus::blocking::Connection;
use zbus::zvariant::OwnedValue;

/// How long one method call may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Where to connect.
#[derive(Clone, Debug)]
pub enum Dial {
    /// A bus at this D-Bus address, or without one the system bus (`DBUS_SYSTEM_BUS_ADDRESS`,
    /// or `/run/dbus/system_bus_socket`).
    Bus(Option<String>),
    /// A peer at this D-Bus address, spoken to directly: no bus, no `Hello`
    /// (systemd's `unix:path=/run/systemd/private`).
    Peer(String),
}

/// Connects and authenticates (EXTERNAL, by uid).
///
/// # Errors
/// zbus's error for the address, the socket or the handshake.
pub fn connect(dial: &Dial) -> zbus::Result<Connection> {
    let builder = match dial {
        Dial::Bus(None) => Builder::system()?,
        Dial::Bus(Some(address)) => Builder::address(address.as_str())?,
        Dial::Peer(address) => Builder::address(address.as_str())?.p2p(),
    };
    builder.method_timeout(TIMEOUT).build()
}

/// `org.freedesktop.DBus.Properties.Get(iface, prop)` on `path` of `dest`, converted to `T`.
///
/// # Errors
/// The call's error, or a type mismatch (where upstream's type assertion would panic).
pub fn get<T>(conn: &Connection, dest: &str, path: &str, iface: &str, prop: &str) -> zbus::Result<T>
where
    T: TryFrom<OwnedValue>,
    T::Error: Into<zbus::Error>,
{
    let reply = conn.call_method(
        Some(dest),
        path,
        Some("org.freedesktop.DBus.Properties"),
        "Get",
        &(iface, prop),
    )?;
    let value: OwnedValue = reply.body().deserialize()?;
    T::try_from(value).map_err(Into::into)
}

/// Calls `method` of the `iface` at `path` of `dest` without arguments and decodes the reply.
///
/// # Errors
/// The call's error, or a reply of another signature.
pub fn call<T>(
    conn: &Connection,
    dest: &str,
    path: &str,
    iface: &str,
    method: &str,
) -> zbus::Result<T>
where
    T: for<'s> zbus::zvariant::DynamicDeserialize<'s>,
{
    let reply = conn.call_method(Some(dest), path, Some(iface), method, &())?;
    reply.body().deserialize()
}

/// A collector error for a failed D-Bus step `what`, logging zbus's message once per distinct
/// message (`last` keeps the one logged); the collector's error carries no text of its own.
pub fn fail(what: &'static str, e: &zbus::Error, last: &mut Option<String>) -> Error {
    let text = e.to_string();
    if last.as_deref() != Some(text.as_str()) {
        log::error!(step = what, err:% = text; "D-Bus call failed");
        *last = Some(text);
    }
    let errno = match e {
        zbus::Error::InputOutput(io) => {
            io.raw_os_error().map_or(Errno::IO, Errno::from_raw_os_error)
        }
        _ => Errno::IO,
    };
    Error::Read { path: what, errno }
}

#[cfg(test)]
pub mod testbus {
    //! A private `dbus-daemon` for tests, when the host has one.

    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// A bus daemon listening on a socket in a temporary directory; killed when dropped.
    #[derive(Debug)]
    pub struct TestBus {
        child: Child,
        dir: PathBuf,
        /// The bus's D-Bus address.
        pub address: String,
    }

    impl TestBus {
        /// Starts one, or returns `None` (with a message) where `dbus-daemon` is missing.
        pub fn start(tag: &str) -> Option<TestBus> {
            let dir = crate::collector::testing::tmpdir(tag);
            let socket = dir.join("bus");
            let config = dir.join("bus.conf");
            std::fs::write(
                &config,
                format!(
                    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n \
                     \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
                     <busconfig><type>session</type><listen>unix:path={}</listen>\
                     <auth>EXTERNAL</auth><policy context=\"default\">\
                     <allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/>\
                     <allow own=\"*\"/></policy></busconfig>\n",
                    socket.display()
                ),
            )
            .ok()?;
            let child = match Command::new("dbus-daemon")
                .arg(format!("--config-file={}", config.display()))
                .arg("--nofork")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(child) => child,
                Err(e) => {
                    eprintln!(
                        "skipping: no dbus-daemon ({e}); Debian's dbus-daemon package has it"
                    );
                    return None;
                }
            };
            let bus = TestBus { child, address: format!("unix:path={}", socket.display()), dir };
            let deadline = Instant::now() + Duration::from_secs(10);
            while !socket_ready(&socket) {
                if Instant::now() > deadline {
                    eprintln!("skipping: dbus-daemon did not start");
                    return None;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(bus)
        }
    }

    fn socket_ready(p: &Path) -> bool {
        std::os::unix::net::UnixStream::connect(p).is_ok()
    }

    impl Drop for TestBus {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
