//! TCP sockets by state → `node_tcp_connection_states{state}`; node_exporter's tcpstat
//! collector (off by default).
//!
//! A `NETLINK_SOCK_DIAG` dump (sock_diag(7)): `SOCK_DIAG_BY_FAMILY` with a
//! `struct inet_diag_req_v2` for TCP in states 1 to 11, answered with one `struct
//! inet_diag_msg` per socket (include/uapi/linux/inet_diag.h), tallied as each datagram
//! arrives, since a busy host's dump can run to megabytes. IPv4 always; IPv6 too when
//! `/proc/net/tcp6` exists, as upstream decides. Sockets are counted by state, and their
//! receive and send queues summed into the `rx_queued_bytes` and `tx_queued_bytes` series,
//! which upstream keys as states 12 and 13.
//!
//! Upstream also asks for `INET_DIAG_INFO` (a `struct tcp_info` per socket), which it never
//! reads; this collector does not, so the kernel builds and copies less for the same counts.

use super::{nl, Build, Collector, Error, Spec};
use crate::encode::{Encoder, Kind};
use crate::netlink::{self, Protocol, Socket};
use crate::source;
use std::ffi::CString;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "tcpstat", default_enabled: false, flags: &[], blocking: false, build };

const DUMP: &str = "sock_diag SOCK_DIAG_BY_FAMILY";

/// `SOCK_DIAG_BY_FAMILY`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
/// States 1 (`TCP_ESTABLISHED`) to 11 (`TCP_CLOSING`) as a bit mask, upstream's `TCPFAll`.
const STATES: u32 = 0xfff;
/// `sizeof(struct inet_diag_req_v2)`.
const REQ_LEN: usize = 56;
/// `sizeof(struct inet_diag_msg)`.
const MSG_LEN: usize = 72;
/// Offsets of `idiag_rqueue` and `idiag_wqueue` in `struct inet_diag_msg`.
const RQUEUE: usize = 56;
const WQUEUE: usize = 60;

/// Upstream's keys for the summed queues, past the TCP states.
const RX_QUEUED: usize = 12;
const TX_QUEUED: usize = 13;

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Tcpstat {
        sock: Socket::new(Protocol::SockDiag),
        reply: Vec::new(),
        tcp6: source::c_path(&b.paths.proc("net/tcp6")),
        tally: Tally::default(),
    }))
}

#[derive(Debug)]
struct Tcpstat {
    sock: Socket,
    reply: Vec<u8>,
    /// `/proc/net/tcp6`, whose presence says whether to dump IPv6 sockets.
    tcp6: CString,
    tally: Tally,
}

/// Upstream's map from state to value: socket counts by `idiag_state`, with the queue sums
/// added under keys 12 and 13.
#[derive(Debug)]
pub struct Tally {
    values: [f64; 256],
    present: [bool; 256],
}

impl Default for Tally {
    fn default() -> Tally {
        Tally { values: [0.0; 256], present: [false; 256] }
    }
}

impl Tally {
    fn clear(&mut self) {
        self.values = [0.0; 256];
        self.present = [false; 256];
    }

    fn add(&mut self, key: usize, v: f64) {
        self.values[key] += v;
        self.present[key] = true;
    }

    /// Adds one `struct inet_diag_msg`.
    ///
    /// # Errors
    /// A message shorter than the struct (upstream would read past it).
    pub fn add_socket(&mut self, m: &[u8]) -> Result<(), netlink::Error> {
        if m.len() < MSG_LEN {
            return Err(netlink::Error::Malformed("inet_diag_msg cut short"));
        }
        self.add(TX_QUEUED, f64::from(netlink::ne_u32(m, WQUEUE).unwrap_or(0)));
        self.add(RX_QUEUED, f64::from(netlink::ne_u32(m, RQUEUE).unwrap_or(0)));
        self.add(usize::from(m[1]), 1.0);
        Ok(())
    }
}

impl Collector for Tcpstat {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        self.tally.clear();
        for family in [AF_INET, AF_INET6] {
            if family == AF_INET6 && !source::exists(&self.tcp6) {
                continue;
            }
            let tally = &mut self.tally;
            self.sock
                .dump_each(
                    SOCK_DIAG_BY_FAMILY,
                    |r| {
                        r.bytes(&request(family));
                    },
                    &mut self.reply,
                    |msg| tally.add_socket(msg.payload),
                )
                .map_err(nl::error(DUMP))?;
        }
        emit(&self.tally, enc);
        Ok(())
    }
}

/// A `struct inet_diag_req_v2` for every TCP socket of `family` in states 1 to 11, no
/// extensions.
fn request(family: u8) -> [u8; REQ_LEN] {
    let mut req = [0u8; REQ_LEN];
    req[0] = family;
    req[1] = IPPROTO_TCP;
    req[4..8].copy_from_slice(&STATES.to_ne_bytes());
    req
}

fn emit(t: &Tally, enc: &mut Encoder) {
    let fam = enc.family("node_tcp_connection_states", "Number of connection states.", Kind::Gauge);
    for (key, &v) in t.values.iter().enumerate().filter(|&(k, _)| t.present[k]) {
        enc.sample(fam, &[("state", state_name(key).as_bytes())], v);
    }
}

/// The `state` label of a key, as upstream names it.
fn state_name(key: usize) -> &'static str {
    match key {
        1 => "established",
        2 => "syn_sent",
        3 => "syn_recv",
        4 => "fin_wait1",
        5 => "fin_wait2",
        6 => "time_wait",
        7 => "close",
        8 => "close_wait",
        9 => "last_ack",
        10 => "listen",
        11 => "closing",
        RX_QUEUED => "rx_queued_bytes",
        TX_QUEUED => "tx_queued_bytes",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{build as build_spec, render, scrape};
    use crate::collector::Settings;
    use crate::netlink::testing::{done, message};
    use crate::netlink::Messages;
    use crate::source::Paths;

    fn sock(out: &mut Vec<u8>, state: u8, rq: u32, wq: u32) {
        let mut p = [0u8; MSG_LEN];
        p[0] = AF_INET;
        p[1] = state;
        p[RQUEUE..RQUEUE + 4].copy_from_slice(&rq.to_ne_bytes());
        p[WQUEUE..WQUEUE + 4].copy_from_slice(&wq.to_ne_bytes());
        message(out, SOCK_DIAG_BY_FAMILY, 1, &p);
    }

    #[test]
    fn counts_and_queues() {
        let mut d = Vec::new();
        sock(&mut d, 10, 0, 128);
        sock(&mut d, 1, 5, 7);
        sock(&mut d, 1, 0, 0);
        sock(&mut d, 6, 0, 0);
        done(&mut d, 1);
        let mut t = Tally::default();
        Messages::new(&d).try_for_each(|m| t.add_socket(m.payload)).unwrap();
        let text = render(|enc| emit(&t, enc));
        assert_eq!(
            text,
            "# HELP node_tcp_connection_states Number of connection states.\n\
             # TYPE node_tcp_connection_states gauge\n\
             node_tcp_connection_states{state=\"established\"} 2\n\
             node_tcp_connection_states{state=\"listen\"} 1\n\
             node_tcp_connection_states{state=\"rx_queued_bytes\"} 5\n\
             node_tcp_connection_states{state=\"time_wait\"} 1\n\
             node_tcp_connection_states{state=\"tx_queued_bytes\"} 135\n"
        );
        // No socket, no series (upstream's map stays empty).
        let mut t = Tally::default();
        let mut d = Vec::new();
        done(&mut d, 1);
        Messages::new(&d).try_for_each(|m| t.add_socket(m.payload)).unwrap();
        assert_eq!(render(|enc| emit(&t, enc)), "");
        // A cut-short message is an error, never a read past it.
        let mut d = Vec::new();
        message(&mut d, SOCK_DIAG_BY_FAMILY, 1, &[1; MSG_LEN - 1]);
        assert!(Messages::new(&d).try_for_each(|m| t.add_socket(m.payload)).is_err());
    }

    #[test]
    fn request_layout() {
        let r = request(AF_INET6);
        assert_eq!((r[0], r[1], r[2]), (AF_INET6, IPPROTO_TCP, 0));
        assert_eq!(netlink::ne_u32(&r, 4), Some(0xfff));
        assert!(r[8..].iter().all(|&b| b == 0));
    }

    #[test]
    fn live_host_sees_a_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            let text = scrape(c.as_mut());
            let listen = text
                .lines()
                .find_map(|l| l.strip_prefix("node_tcp_connection_states{state=\"listen\"} "))
                .and_then(|v| v.parse::<f64>().ok());
            assert!(listen.is_some_and(|n| n >= 1.0), "{text}");
        }
        drop(listener);
    }
}
