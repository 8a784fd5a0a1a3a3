//! Every limit of the README's "Limits" section, black-box: the real binary over loopback,
//! each limit set low by its flag, and what a client past it sees. Slow clients are driven
//! byte by byte; no assertion is on elapsed time (the timeouts in use are one or two seconds,
//! the clients' patience ten or more).

use flate2::write::GzEncoder;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use xtests::{binary, get, read_response, send, Response, Running};

fn start(cmd: &str, name: &str, args: &[&str]) -> Running {
    let dir = std::env::temp_dir().join(format!("nodegate-limits-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut all = vec![cmd];
    all.extend_from_slice(args);
    Running::start(&dir, &all)
}

fn gateway(name: &str, args: &[&str]) -> Running {
    start("gateway", name, args)
}

fn put(addr: SocketAddr, path: &str, body: &str) -> Response {
    send(addr, "PUT", path, &[], body.as_bytes())
}

/// The pushed series of a scrape (the lines with a `job` label): what a refused push must
/// leave as it was. The gateway's own metrics change with every request.
fn pushed(addr: SocketAddr) -> String {
    let r = get(addr, "/metrics");
    assert_eq!(r.status, 200);
    r.text().lines().filter(|l| l.contains("job=\"")).map(|l| format!("{l}\n")).collect()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// Whether the server closed `s` without a response (end of stream or a reset).
fn closed_without_response(s: &mut TcpStream) -> bool {
    let mut b = [0; 64];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted),
    }
}

/// Sends `bytes` one every `pause` until the server answers; returns the answer. The server
/// must answer within `patience`, long before all of `bytes` could be sent.
fn trickle(mut s: TcpStream, bytes: Vec<u8>, pause: Duration, patience: Duration) -> Response {
    let start = Instant::now();
    s.set_read_timeout(Some(pause)).unwrap();
    for b in bytes {
        assert!(start.elapsed() < patience, "still reading after {patience:?}");
        // A write after the server closed fails; the answer is then already in.
        if s.write_all(&[b]).is_err() {
            break;
        }
        match s.peek(&mut [0]) {
            Ok(_) => break,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("{e}"),
        }
    }
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    read_response(&mut s, false)
}

fn trickler(addr: SocketAddr, bytes: Vec<u8>, pause: Duration) -> JoinHandle<Response> {
    let s = connect(addr);
    thread::spawn(move || trickle(s, bytes, pause, Duration::from_secs(15)))
}

/// A head that takes `n` more bytes to finish.
fn endless_head(n: usize) -> Vec<u8> {
    let mut head = b"GET /-/healthy HTTP/1.1\r\nHost: t\r\nX-Slow: ".to_vec();
    head.resize(head.len() + n, b'a');
    head
}

#[test]
fn invalid_limit_flags_stop_startup_naming_the_flag() {
    for (cmd, flag) in [
        ("exporter", "--web.max-connections=0"),
        ("exporter", "--web.read-timeout=10"),
        ("gateway", "--web.max-header-bytes=-5"),
        ("gateway", "--web.idle-timeout=0s"),
        ("gateway", "--push.max-body-bytes=0"),
        ("gateway", "--push.max-series=ten"),
    ] {
        let out = Command::new(binary()).args([cmd, flag]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{cmd} {flag} started");
        assert!(err.contains(flag.split('=').next().unwrap()), "{cmd} {flag}: {err}");
    }
}

#[test]
fn heads_past_max_header_bytes_get_431() {
    let gw = gateway("head", &["--web.max-header-bytes=1024"]);
    let r = get(gw.addr, &format!("/-/healthy?{}", "q".repeat(2000)));
    assert_eq!(r.status, 431);
    assert!(r.text().contains("--web.max-header-bytes"), "{}", r.text());
    assert_eq!(get(gw.addr, &format!("/-/healthy?{}", "q".repeat(500))).status, 200);
}

#[test]
fn bodies_past_max_body_bytes_get_413_raw_or_decoded() {
    let gw = gateway("body", &["--push.max-body-bytes=1000"]);
    let body: String = (0..200).map(|i| format!("m{{i=\"{i}\"}} 1\n")).collect();
    let r = put(gw.addr, "/metrics/job/a", &body);
    assert_eq!(r.status, 413, "{}", r.text());
    // Well under the limit compressed; three times over it decoded.
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(body.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    assert!(gz.len() < 1000);
    let r = send(gw.addr, "PUT", "/metrics/job/a", &[("Content-Encoding", "gzip")], &gz);
    assert_eq!(
        (r.status, r.text().as_str()),
        (413, "request body decodes to more than --push.max-body-bytes=1000 bytes\n")
    );
    let mut framed = Vec::new();
    snap::write::FrameEncoder::new(&mut framed).write_all(body.as_bytes()).unwrap();
    assert!(framed.len() < 1000);
    let r = send(gw.addr, "PUT", "/metrics/job/a", &[("Content-Encoding", "snappy")], &framed);
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(pushed(gw.addr).is_empty());
    assert_eq!(
        put(gw.addr, "/metrics/job/a", &body[..=body[..1000].rfind('\n').unwrap()]).status,
        200
    );
    assert!(pushed(gw.addr).contains("m{i=\"0\",instance=\"\",job=\"a\"} 1\n"));
}

#[test]
fn per_push_limits_get_400_naming_the_flag_and_store_nothing() {
    let gw = gateway(
        "push",
        &[
            "--push.max-labels-per-series=4",
            "--push.max-series-per-push=3",
            "--push.max-label-value-bytes=8",
        ],
    );
    // job, instance and two of the body's own: four labels.
    let ok = "m{a=\"12345678\",b=\"x\"} 1\nn 1\no 1\n";
    assert_eq!(put(gw.addr, "/metrics/job/a", ok).status, 200);
    let before = pushed(gw.addr);
    for (body, flag) in [
        ("m{a=\"1\",b=\"2\",c=\"3\"} 1\n", "--push.max-labels-per-series=4"),
        ("m 1\nn 1\no 1\np 1\n", "--push.max-series-per-push=3"),
        ("m{a=\"123456789\"} 1\n", "--push.max-label-value-bytes=8"),
    ] {
        for method in ["PUT", "POST"] {
            let r = send(gw.addr, method, "/metrics/job/a", &[], body.as_bytes());
            let text = r.text();
            assert_eq!(r.status, 400, "{text}");
            assert!(text.starts_with("push refused: ") && text.ends_with(&format!("{flag}\n")));
        }
        assert_eq!(pushed(gw.addr), before);
    }
    // Grouping labels count, in the URL as in the body.
    let r = put(gw.addr, "/metrics/job/a/x/1/y/2", "m{a=\"1\"} 1\n");
    assert_eq!(r.status, 400, "{}", r.text());
    // Zero lifts a limit.
    let open = gateway("push-open", &["--push.max-labels-per-series=0"]);
    let labels: Vec<String> = (0..100).map(|i| format!("l{i}=\"v\"")).collect();
    let body = format!("m{{{}}} 1\n", labels.join(","));
    assert_eq!(put(open.addr, "/metrics/job/a", &body).status, 200);
}

#[test]
fn total_caps_get_507_and_nothing_stored_changes() {
    let gw = gateway("caps", &["--push.max-groups=2", "--push.max-series=7"]);
    let status = get(gw.addr, "/api/v1/status").text();
    for flag in ["\"push.max-groups\":\"2\"", "\"web.read-timeout\":\"60s\""] {
        assert!(status.contains(flag), "{flag} not in {status}");
    }
    // Each group holds its series and the two push-time gauges: 4 + 3 series, at the cap.
    assert_eq!(put(gw.addr, "/metrics/job/a", "m 1\nn 1\n").status, 200);
    assert_eq!(put(gw.addr, "/metrics/job/b", "m 1\n").status, 200);
    let before = pushed(gw.addr);
    let r = put(gw.addr, "/metrics/job/c", "m 1\n");
    assert_eq!(
        (r.status, r.text().as_str()),
        (507, "push refused: would hold 3 groups, --push.max-groups=2\n")
    );
    let r = send(gw.addr, "POST", "/metrics/job/b", &[], b"o 1\np 1\n");
    assert_eq!(
        (r.status, r.text().as_str()),
        (507, "push refused: would hold 9 series, --push.max-series=7\n")
    );
    assert_eq!(pushed(gw.addr), before);
    // At the cap, a group may still be replaced by one no larger, and shrink to let another grow.
    assert_eq!(put(gw.addr, "/metrics/job/a", "x 2\ny 2\n").status, 200);
    assert_eq!(put(gw.addr, "/metrics/job/a", "x 3\n").status, 200);
    assert_eq!(send(gw.addr, "POST", "/metrics/job/b", &[], b"o 1\n").status, 200);
    assert_eq!(send(gw.addr, "DELETE", "/metrics/job/a", &[], b"").status, 202);
    assert_eq!(put(gw.addr, "/metrics/job/c", "m 1\n").status, 200);
    let t = get(gw.addr, "/metrics").text();
    assert!(
        t.contains(
            "pushgateway_http_requests_total{code=\"507\",handler=\"push\",method=\"put\"} 1"
        ),
        "{t}"
    );
}

#[test]
fn slow_loris_heads_get_408_while_others_are_served() {
    let gw = gateway("loris", &["--web.read-header-timeout=1s"]);
    // Each would take 50 s to finish its head at a byte per 100 ms.
    let loris: Vec<_> =
        (0..16).map(|_| trickler(gw.addr, endless_head(500), Duration::from_millis(100))).collect();
    for _ in 0..5 {
        assert_eq!(get(gw.addr, "/-/healthy").status, 200);
        thread::sleep(Duration::from_millis(100));
    }
    for l in loris {
        let r = l.join().unwrap();
        assert_eq!((r.status, r.header("connection")), (408, Some("close")));
        assert!(r.text().contains("--web.read-header-timeout"), "{}", r.text());
    }
    assert_eq!(get(gw.addr, "/-/healthy").status, 200);
}

#[test]
fn a_trickled_body_gets_408_past_the_read_timeout() {
    // Each pause (100 ms) is far under the idle timeout, the whole body (100 s) far over the
    // read timeout.
    let gw = gateway("trickle", &["--web.read-timeout=2s"]);
    let mut req =
        b"PUT /metrics/job/slow HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n".to_vec();
    req.extend(b"m 1\n".repeat(250));
    let s = connect(gw.addr);
    let r = trickle(s, req, Duration::from_millis(100), Duration::from_secs(15));
    assert_eq!(r.status, 408);
    assert!(r.text().contains("--web.read-timeout"), "{}", r.text());
    assert!(pushed(gw.addr).is_empty());
    // With the deadline off, the same trickle (shortened) gets through.
    let gw = gateway("trickle-off", &["--web.read-timeout=0"]);
    let mut req =
        b"PUT /metrics/job/slow HTTP/1.1\r\nHost: t\r\nContent-Length: 8\r\n\r\n".to_vec();
    req.extend(b"m 1\nn 2\n");
    let mut s = connect(gw.addr);
    for b in req {
        s.write_all(&[b]).unwrap();
        thread::sleep(Duration::from_millis(30));
    }
    assert_eq!(read_response(&mut s, false).status, 200);
}

/// A connection on which `req` was answered 200, retried while the server is at its cap: a
/// connection closed by the client counts until the server has seen the close.
fn served(addr: SocketAddr, req: &str) -> TcpStream {
    let start = Instant::now();
    loop {
        let mut s = connect(addr);
        if s.write_all(req.as_bytes()).is_ok() && s.peek(&mut [0]).is_ok_and(|n| n > 0) {
            assert_eq!(read_response(&mut s, false).status, 200);
            return s;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no room came free");
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn connections_past_max_connections_are_closed_at_once() {
    for cmd in ["gateway", "exporter"] {
        let extra: &[&str] = match cmd {
            "exporter" => &["--collector.disable-defaults", "--web.max-connections=3"],
            _ => &["--web.max-connections=3"],
        };
        let node = start(cmd, "conns", extra);
        let path = if cmd == "gateway" { "/-/healthy" } else { "/" };
        let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n");
        let mut kept: Vec<TcpStream> = (0..3).map(|_| served(node.addr, &req)).collect();
        for _ in 0..3 {
            let mut over = connect(node.addr);
            // The request may or may not get out before the close; no answer comes either way.
            let _ = over.write_all(req.as_bytes());
            assert!(closed_without_response(&mut over), "{cmd}: a fourth connection was served");
        }
        for s in &mut kept {
            s.write_all(req.as_bytes()).unwrap();
            assert_eq!(read_response(s, false).status, 200, "{cmd}");
        }
        drop(kept.pop());
        served(node.addr, &req);
    }
}

#[test]
fn the_exporter_takes_the_server_limits_too() {
    let node = start(
        "exporter",
        "exporter",
        &[
            "--collector.disable-defaults",
            "--web.read-header-timeout=1s",
            "--web.max-header-bytes=512",
        ],
    );
    let r = get(node.addr, &format!("/?{}", "q".repeat(600)));
    assert_eq!(r.status, 431);
    let r = trickle(
        connect(node.addr),
        endless_head(500),
        Duration::from_millis(100),
        Duration::from_secs(15),
    );
    assert_eq!(r.status, 408);
    assert_eq!(get(node.addr, "/").status, 200);
}
