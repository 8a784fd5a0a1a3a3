//! Listen addresses: `--web.listen-address` values read as Go's `net.Listen("tcp", ..)`
//! reads them, and listening sockets bound through socket2.
//!
//! An empty host (`:9100`) or `[::]` means every address: one IPv6 socket with `IPV6_V6ONLY`
//! off takes IPv4 connections too, as Go's listener does, and a host without IPv6 gets
//! `0.0.0.0` instead. A host name is resolved and, as Go does, one of its addresses is used,
//! IPv4 first.

use rustix::io::Errno;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, ToSocketAddrs};

/// Pending connections the kernel queues per listener (it caps this at `net.core.somaxconn`).
const BACKLOG: i32 = 1024;

/// Reads a listen address as Go's `net.Listen` does: `:9100` (all addresses),
/// `127.0.0.1:9100`, `[::1]:9100`, `localhost:9100`.
///
/// # Errors
/// A message naming the value, for a missing or bad port, a malformed host, or a name that
/// does not resolve. Resolving a name may block on DNS.
pub fn resolve_listen_address(s: &str) -> Result<Vec<SocketAddr>, String> {
    let bad = |why: &dyn std::fmt::Display| format!("invalid listen address {s:?}: {why}");
    let (host, port) = split_host_port(s).map_err(|why| bad(&why))?;
    let port: u16 = port.parse().map_err(|_| bad(&format_args!("bad port {port:?}")))?;
    if host.is_empty() {
        return Ok(vec![SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port)]);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs().map_err(|e| bad(&e))?.collect();
    let first = addrs.iter().find(|a| a.is_ipv4()).or(addrs.first());
    first.map(|a| vec![*a]).ok_or_else(|| bad(&"host has no addresses"))
}

/// Splits `host:port` as Go's `net.SplitHostPort`: an IPv6 host is bracketed, and a host
/// with a colon must be.
fn split_host_port(s: &str) -> Result<(&str, &str), &'static str> {
    let colon = s.rfind(':').ok_or("missing port")?;
    let (host, port) = (&s[..colon], &s[colon + 1..]);
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or("missing ']'")?,
        None if host.contains([':', '[', ']']) => return Err("too many colons"),
        None => host,
    };
    if port.is_empty() {
        return Err("missing port");
    }
    Ok((host, port))
}

/// A non-blocking listener on `addr`, with `SO_REUSEADDR` so a restart binds at once while
/// the previous process's connections sit in `TIME_WAIT`.
///
/// # Errors
/// The socket, bind or listen error, naming the address.
pub(super) fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let dual_stack = addr.is_ipv6() && addr.ip().is_unspecified();
    match open(addr) {
        // This host has no IPv6: all addresses are IPv4's.
        Err(e)
            if dual_stack
                && matches!(
                    Errno::from_io_error(&e),
                    Some(Errno::AFNOSUPPORT | Errno::ADDRNOTAVAIL)
                ) =>
        {
            open(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), addr.port()))
        }
        r => r,
    }
    .map_err(|e| io::Error::new(e.kind(), format!("listen tcp {addr}: {e}")))
}

fn open(addr: SocketAddr) -> io::Result<TcpListener> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        sock.set_only_v6(false)?;
    }
    sock.bind(&addr.into())?;
    sock.listen(BACKLOG)?;
    sock.set_nonblocking(true)?;
    Ok(sock.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> String {
        let addrs = resolve_listen_address(s).unwrap();
        assert_eq!(addrs.len(), 1);
        addrs[0].to_string()
    }

    #[test]
    fn go_forms() {
        assert_eq!(one(":9100"), "[::]:9100");
        assert_eq!(one("127.0.0.1:9100"), "127.0.0.1:9100");
        assert_eq!(one("0.0.0.0:1"), "0.0.0.0:1");
        assert_eq!(one("[::1]:9100"), "[::1]:9100");
        assert_eq!(one("[::]:0"), "[::]:0");
        assert_eq!(one("localhost:9100"), "127.0.0.1:9100");
    }

    #[test]
    fn errors_name_the_value() {
        for (s, why) in [
            ("9100", "missing port"),
            ("localhost:", "missing port"),
            (":http-alt", "bad port"),
            (":70000", "bad port"),
            ("::1:9100", "too many colons"),
            ("[::1:9100", "missing ']'"),
        ] {
            let err = resolve_listen_address(s).unwrap_err();
            assert!(err.contains(&format!("{s:?}")) && err.contains(why), "{s}: {err}");
        }
    }

    #[test]
    fn all_addresses_take_ipv4_clients() {
        let l = bind("[::]:0".parse().unwrap()).unwrap();
        let port = l.local_addr().unwrap().port();
        std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    }

    #[test]
    fn bind_errors_name_the_address() {
        let l = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = l.local_addr().unwrap();
        let err = bind(addr).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(err.to_string().starts_with(&format!("listen tcp {addr}: ")), "{err}");
    }
}
