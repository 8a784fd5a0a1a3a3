//! `nodegate gateway` black-box against the Pushgateway 1.10.0 conformance checklist: each
//! test names the checklist cases (`#n`) it covers. Where nodegate deliberately differs (an
//! upstream bug fixed, a Go-only metric), the test says so.

use flate2::write::GzEncoder;
use gateway::proto;
use std::io::Write;
use std::net::SocketAddr;
use xtests::{get, send, Response, Running};

fn start(name: &str, args: &[&str]) -> Running {
    let dir = std::env::temp_dir().join(format!("nodegate-gw-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut all = vec!["gateway"];
    all.extend_from_slice(args);
    Running::start(&dir, &all)
}

fn put(addr: SocketAddr, path: &str, body: &str) -> Response {
    send(addr, "PUT", path, &[], body.as_bytes())
}

fn post(addr: SocketAddr, path: &str, body: &str) -> Response {
    send(addr, "POST", path, &[], body.as_bytes())
}

fn delete(addr: SocketAddr, path: &str) -> Response {
    send(addr, "DELETE", path, &[], b"")
}

fn metrics(addr: SocketAddr) -> String {
    let r = get(addr, "/metrics");
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

/// Lines of `text` that start with `prefix`.
fn lines<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

fn value_of(text: &str, series: &str) -> f64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .unwrap_or_else(|| panic!("{series} missing:\n{text}"));
    line[series.len() + 1..].parse().unwrap()
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

fn assert_status(r: &Response, status: u16, body: &str) {
    assert_eq!((r.status, r.text().as_str()), (status, body));
}

const INVALID: &str = "pushed metrics are invalid or inconsistent with existing metrics: ";

#[test]
fn put_post_delete_semantics() {
    // #1-#8
    let gw = start("semantics", &["--web.enable-admin-api"]);
    let a = gw.addr;
    assert_status(&put(a, "/metrics/job/j1", "m1 1\nm2 2\n"), 200, "");
    let t = metrics(a);
    assert!(t.contains("m1{instance=\"\",job=\"j1\"} 1\n"), "{t}");
    assert!(t.contains("m2{instance=\"\",job=\"j1\"} 2\n"));
    assert!((value_of(&t, "push_time_seconds{instance=\"\",job=\"j1\"}") - now()).abs() < 60.0);
    assert_eq!(value_of(&t, "push_failure_time_seconds{instance=\"\",job=\"j1\"}"), 0.0);

    assert_status(&post(a, "/metrics/job/j1", "m1 10\nm3 3\n"), 200, "");
    let t = metrics(a);
    assert!(t.contains("m1{instance=\"\",job=\"j1\"} 10\n"));
    assert!(t.contains("m2{instance=\"\",job=\"j1\"} 2\n"));
    assert!(t.contains("m3{instance=\"\",job=\"j1\"} 3\n"));

    assert_status(&put(a, "/metrics/job/j1", "m3 30\n"), 200, "");
    let t = metrics(a);
    assert!(!t.contains("m1{") && !t.contains("m2{"));
    assert!(t.contains("m3{instance=\"\",job=\"j1\"} 30\n"));

    let before = value_of(&t, "push_time_seconds{instance=\"\",job=\"j1\"}");
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_status(&post(a, "/metrics/job/j1", ""), 200, "");
    let t = metrics(a);
    assert!(t.contains("m3{instance=\"\",job=\"j1\"} 30\n"));
    assert!(value_of(&t, "push_time_seconds{instance=\"\",job=\"j1\"}") > before);

    assert_status(&put(a, "/metrics/job/j1", ""), 200, "");
    let t = metrics(a);
    assert!(!t.contains("m3{"));
    assert!(t.contains("push_time_seconds{instance=\"\",job=\"j1\"}"));

    assert_status(&delete(a, "/metrics/job/j1"), 202, "");
    assert!(!metrics(a).contains("job=\"j1\""));
    assert_status(&delete(a, "/metrics/job/nonexistent"), 202, "");

    assert_status(&post(a, "/metrics/job/newpost", ""), 200, "");
    let t = metrics(a);
    assert!(t.contains("push_time_seconds{instance=\"\",job=\"newpost\"}"));
    assert!(t.contains("push_failure_time_seconds{instance=\"\",job=\"newpost\"} 0\n"));
}

#[test]
fn grouping_labels() {
    // #9-#22
    let gw = start("labels", &[]);
    let a = gw.addr;
    put(a, "/metrics/job/j2/instance/i2", "m{job=\"other\",instance=\"x\",foo=\"bar\"} 1\n");
    put(a, "/metrics/job/j3", "m{instance=\"x\"} 1\n");
    put(a, "/metrics/job/ov/a/y", "ovm{a=\"x\",b=\"z\"} 1\n");
    put(a, "/metrics/job/ord/x/1/y/2", "om 1\n");
    assert_status(&put(a, "/metrics/job/ord/y/2/x/1", "om 2\n"), 200, "");
    put(a, "/metrics/job/jj/job/other", "jjm 1\n");
    put(a, "/metrics/job/tw/a/1/a/2", "twm 1\n");
    put(a, "/metrics/job/directory_cleaner/path@base64/L3Zhci90bXA", "sm 1\n");
    put(a, "/metrics/job/e1/first@base64/=/second/foo", "em 1\n");
    put(a, "/metrics/job/e2/first@base64/", "e2m 1\n");
    put(a, "/metrics/job/ts4/foo/", "ts4m 1\n");
    put(a, "/metrics/job@base64/dGVzdC9qb2I", "jm 1\n");
    put(a, "/metrics/job/b64/v@base64/YWI=", "bpad 1\n");
    put(a, "/metrics/job/b64/w@base64/YWI", "bnopad 1\n");
    put(a, "/metrics/job/titan/name/%CE%A0%CF%81%CE%BF", "tm 1\n");
    put(a, "/metrics/job/sp/v/a%20b+c", "spm 1\n");
    let t = metrics(a);
    for want in [
        "m{foo=\"bar\",instance=\"i2\",job=\"j2\"} 1\n",
        "m{instance=\"x\",job=\"j3\"} 1\n",
        "ovm{a=\"y\",b=\"z\",instance=\"\",job=\"ov\"} 1\n",
        "om{instance=\"\",job=\"ord\",x=\"1\",y=\"2\"} 2\n",
        "jjm{instance=\"\",job=\"jj\"} 1\n",
        "twm{a=\"2\",instance=\"\",job=\"tw\"} 1\n",
        "sm{instance=\"\",job=\"directory_cleaner\",path=\"/var/tmp\"} 1\n",
        "em{first=\"\",instance=\"\",job=\"e1\",second=\"foo\"} 1\n",
        "e2m{first=\"\",instance=\"\",job=\"e2\"} 1\n",
        "ts4m{foo=\"\",instance=\"\",job=\"ts4\"} 1\n",
        "jm{instance=\"\",job=\"test/job\"} 1\n",
        "bpad{instance=\"\",job=\"b64\",v=\"ab\"} 1\n",
        "bnopad{instance=\"\",job=\"b64\",w=\"ab\"} 1\n",
        "tm{instance=\"\",job=\"titan\",name=\"Προ\"} 1\n",
        "spm{instance=\"\",job=\"sp\",v=\"a b+c\"} 1\n",
    ] {
        assert!(t.contains(want), "{want} missing:\n{t}");
    }
    assert_eq!(lines(&t, "om{").len(), 1, "one group for both key orders");
}

#[test]
fn url_errors_and_redirects() {
    // #23-#32
    let gw = start("urls", &[]);
    let a = gw.addr;
    assert_status(
        &put(a, "/metrics/job/pslash/path/a%2Fb", "x 1\n"),
        400,
        "odd number of components in label string \"/path/a/b\"\n",
    );
    let r = put(a, "/metrics/job//x/y", "m 1\n");
    assert_eq!((r.status, r.header("location")), (301, Some("/metrics/job/x/y")));
    let r = put(a, "/metrics/job/", "m 1\n");
    assert_eq!((r.status, r.header("location")), (307, Some("/metrics/job")));
    assert_status(&put(a, "/metrics/job", "m 1\n"), 404, "404 page not found\n");
    assert_status(&put(a, "/metrics/job@base64/=", "m 1\n"), 400, "job name is required\n");
    assert_status(&delete(a, "/metrics/job@base64/="), 400, "job name is required\n");
    assert_status(
        &put(a, "/metrics/job@base64/!!", "m 1\n"),
        400,
        "invalid base64 encoding in job name \"\": illegal base64 data at input byte 0\n",
    );
    // Upstream 1.5.1 then hung on this route (B2); here it keeps answering.
    assert_status(&put(a, "/metrics/job@base64/am9i", "m 1\n"), 200, "");
    for (label, shown) in [("0abc", "0abc"), ("__x", "__x"), ("a-b", "a-b"), ("foo.bar", "foo.bar")]
    {
        assert_status(
            &put(a, &format!("/metrics/job/j8/{label}/v"), "m 1\n"),
            400,
            &format!("improper label name \"{shown}\"\n"),
        );
    }
    for path in ["/metrics/job/j8/a", "/metrics/job/j8/a/b/c"] {
        let r = put(a, path, "");
        assert_eq!(r.status, 400);
        assert!(r.text().starts_with("odd number of components in label string"));
    }
    assert_eq!(delete(a, "/metrics/job/x/y").status, 400);
    assert_status(&put(a, "/metrics/job/x/a@base64/%%%%", ""), 400, "400 Bad Request");
    // #32, fixed (B1): invalid UTF-8 is refused at the URL and breaks nothing after.
    for path in ["/metrics/job/p2/v@base64/-_8", "/metrics/job/p2/v/a%FFb"] {
        let r = put(a, path, "pm 1\n");
        assert_eq!(r.status, 400, "{path}");
        assert!(r.text().contains("not valid UTF-8"), "{}", r.text());
    }
    assert!(!metrics(a).contains("job=\"p2\""));
    assert_status(&put(a, "/metrics/job/after", "ok 1\n"), 200, "");
}

#[test]
fn consistency_checks() {
    // #33-#41, #45, #46
    let gw = start("check", &[]);
    let a = gw.addr;
    let r = put(a, "/metrics/job/j4", "m 1 1000\n");
    assert_status(&r, 400, &format!("{INVALID}pushed metrics must not have timestamps\n"));
    let t = metrics(a);
    assert_eq!(value_of(&t, "push_time_seconds{instance=\"\",job=\"j4\"}"), 0.0);
    assert!(
        (value_of(&t, "push_failure_time_seconds{instance=\"\",job=\"j4\"}") - now()).abs() < 60.0
    );

    put(a, "/metrics/job/other", "m 1\n");
    let r = put(a, "/metrics/job/j5", "# TYPE m counter\nm 1\n");
    assert_eq!(r.status, 400);
    assert!(r.text().starts_with(&format!("{INVALID}collected metric \"m\" {{ ")), "{}", r.text());
    assert!(r.text().ends_with("} is not a UNTYPED\n"), "{}", r.text());
    assert!(value_of(&metrics(a), "push_failure_time_seconds{instance=\"\",job=\"j5\"}") > 0.0);

    let r = put(a, "/metrics/job/j6", "d 1\nd 2\n");
    assert_eq!(r.status, 400);
    assert!(r.text().ends_with("was collected before with the same name and label values\n"));

    assert_eq!(put(a, "/metrics/job/j7", "dd{instance=\"x\"} 1\n").status, 200);
    let r = put(a, "/metrics/job/j7/instance/x", "dd 1\n");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("was collected before"));

    // #37-#39 with a family nodegate exposes itself (there are no go_* metrics in Rust).
    let r = put(a, "/metrics/job/own2", "# TYPE process_open_fds counter\nprocess_open_fds 5\n");
    assert_status(
        &r,
        400,
        &format!("{INVALID}gathered metric family process_open_fds has type COUNTER but should have GAUGE\n"),
    );
    let r = put(
        a,
        "/metrics/job/own",
        "# HELP process_open_fds my help\n# TYPE process_open_fds gauge\nprocess_open_fds 5\n",
    );
    assert_eq!(r.status, 200);
    let t = metrics(a);
    assert!(t.contains("# HELP process_open_fds Number of open file descriptors.\n"));
    let fds = lines(&t, "process_open_fds");
    assert_eq!(fds.len(), 2, "{t}");
    assert!(fds[1].starts_with("process_open_fds{instance=\"\",job=\"own\"} 5"), "{fds:?}");
    let r = put(a, "/metrics/job/own3", "pushgateway_build_info 5\n");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("has type UNTYPED but should have GAUGE"));

    // #40, fixed (B5): pushed push-time gauges are always the gateway's.
    assert_eq!(
        put(a, "/metrics/job/pt", "push_time_seconds 5\npush_failure_time_seconds 7\n").status,
        200
    );
    let t = metrics(a);
    assert!(value_of(&t, "push_time_seconds{instance=\"\",job=\"pt\"}") > 1e9);
    assert_eq!(value_of(&t, "push_failure_time_seconds{instance=\"\",job=\"pt\"}"), 0.0);

    // #41, fixed (B4): the most recent push's HELP wins, on every scrape.
    put(a, "/metrics/job/h1", "# HELP hm A\nhm 1\n");
    std::thread::sleep(std::time::Duration::from_millis(5));
    put(a, "/metrics/job/h2", "# HELP hm B\nhm 2\n");
    for _ in 0..10 {
        assert!(metrics(a).contains("# HELP hm B\n# TYPE hm untyped\n"));
    }
    let logged = gw.stderr().matches("inconsistent help strings").count();
    assert_eq!(logged, 1, "logged once per change:\n{}", gw.stderr());

    let r = put(a, "/metrics/job/rl", "rlm{__x=\"1\"} 1\n");
    assert_eq!(r.status, 400);
    assert!(r.text().ends_with("has a label with an invalid name: __x\n"), "{}", r.text());

    put(a, "/metrics/job/hi", "# TYPE hi histogram\nhi_bucket{le=\"1\"} 1\nhi_sum 1\nhi_count 1\n");
    let r = put(a, "/metrics/job/col", "hi_count 5\n");
    assert_eq!(r.status, 400);
    assert!(
        r.text().contains("collides with previously collected histogram named \"hi\""),
        "{}",
        r.text()
    );
}

#[test]
fn text_bodies() {
    // #42-#50
    let gw = start("text", &[]);
    let a = gw.addr;
    assert_status(
        &put(a, "/metrics/job/nl", "nlm 1"),
        400,
        "text format parsing error in line 1: unexpected end of input stream\n",
    );
    assert_status(
        &put(a, "/metrics/job/crlf", "crm 1\r\n"),
        400,
        "text format parsing error in line 1: expected float as value, got \"1\\r\"\n",
    );
    for body in ["# TYPE dt gauge\n# TYPE dt gauge\ndt 1\n", "dt2 1\n# TYPE dt2 gauge\n"] {
        let r = put(a, "/metrics/job/dt", body);
        assert_eq!(r.status, 400);
        assert!(r.text().contains("second TYPE line for metric name"), "{}", r.text());
    }
    assert_eq!(put(a, "/metrics/job/nan", "nanm NaN\ninfm +Inf\nninf -Inf\n").status, 200);
    assert_eq!(put(a, "/metrics/job/il", "ila 1\nilb 1\nila{x=\"1\"} 2\n").status, 200);
    let r = send(
        a,
        "PUT",
        "/metrics/job/om",
        &[("Content-Type", "application/openmetrics-text; version=1.0.0")],
        b"# TYPE omc counter\nomc_total 1\n# EOF\n",
    );
    assert_eq!(r.status, 200);
    let t = metrics(a);
    assert!(t.contains("nanm{instance=\"\",job=\"nan\"} NaN\n"));
    assert!(t.contains("infm{instance=\"\",job=\"nan\"} +Inf\n"));
    assert!(t.contains("ninf{instance=\"\",job=\"nan\"} -Inf\n"));
    assert_eq!(lines(&t, "ila{").len(), 2);
    assert!(t.contains("# TYPE omc_total untyped\nomc_total{instance=\"\",job=\"om\"} 1\n"), "{t}");
    let r = put(a, "/metrics/job/om4", "# TYPE om4 counter\nom4_total 1 # {trace_id=\"a\"} 1\n");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("expected integer as timestamp, got \"#\""), "{}", r.text());
    let r = put(a, "/metrics/job/om5", "# TYPE om5 info\nom5_info 1\n");
    assert_status(&r, 400, "text format parsing error in line 1: unknown metric type \"info\"\n");
}

fn family(name: &str, kind: u64, metrics: &[Vec<u8>], help: Option<&str>) -> Vec<u8> {
    let mut m = Vec::new();
    proto::put_bytes(&mut m, 1, name.as_bytes());
    if let Some(h) = help {
        proto::put_bytes(&mut m, 2, h.as_bytes());
    }
    proto::put_uvarint(&mut m, 3, kind);
    for metric in metrics {
        proto::put_bytes(&mut m, 4, metric);
    }
    let mut out = Vec::new();
    proto::put_varint(&mut out, m.len() as u64);
    out.extend_from_slice(&m);
    out
}

fn metric(labels: &[(&str, &str)], field: u32, value: f64, timestamp: Option<i64>) -> Vec<u8> {
    let mut m = Vec::new();
    for (n, v) in labels {
        let mut lp = Vec::new();
        proto::put_bytes(&mut lp, 1, n.as_bytes());
        proto::put_bytes(&mut lp, 2, v.as_bytes());
        proto::put_bytes(&mut m, 1, &lp);
    }
    let mut v = Vec::new();
    proto::put_f64(&mut v, 1, value);
    proto::put_bytes(&mut m, field, &v);
    if let Some(t) = timestamp {
        proto::put_uvarint(&mut m, 6, t as u64);
    }
    m
}

const PROTO_CT: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

fn put_proto(a: SocketAddr, path: &str, body: &[u8]) -> Response {
    send(a, "PUT", path, &[("Content-Type", PROTO_CT)], body)
}

/// A family read back: name, help, type, metric messages.
type Family = (String, Option<String>, u64, Vec<Vec<u8>>);

/// Splits a delimited protobuf exposition into families.
fn decode_families(mut src: &[u8]) -> Vec<Family> {
    let mut out = Vec::new();
    while let Some((m, rest)) = proto::next_delimited(src).unwrap() {
        src = rest;
        let mut r = proto::Reader::new(m);
        let (mut name, mut help, mut kind, mut metrics) = (String::new(), None, 0, Vec::new());
        while let Some(f) = r.next_field().unwrap() {
            match f.number {
                1 => name = String::from_utf8(f.value.bytes().unwrap().to_vec()).unwrap(),
                2 => help = Some(String::from_utf8(f.value.bytes().unwrap().to_vec()).unwrap()),
                3 => kind = f.value.varint().unwrap(),
                4 => metrics.push(f.value.bytes().unwrap().to_vec()),
                _ => {}
            }
        }
        out.push((name, help, kind, metrics));
    }
    out
}

#[test]
fn protobuf_bodies_and_scrapes() {
    // #51-#56, #65
    let gw = start("proto", &[]);
    let a = gw.addr;
    let mut body = family("pbg", 1, &[metric(&[("a", "x")], 2, 1.5, None)], Some("a gauge"));
    body.extend(family("pbc", 0, &[metric(&[], 3, 7.0, None)], None));
    // A native histogram's fields survive as they came.
    let mut hist = Vec::new();
    proto::put_uvarint(&mut hist, 1, 3);
    proto::put_f64(&mut hist, 2, 4.5);
    proto::put_uvarint(&mut hist, 5, 2 << 1);
    let mut span = Vec::new();
    proto::put_uvarint(&mut span, 2, 1);
    proto::put_bytes(&mut hist, 12, &span);
    proto::put_uvarint(&mut hist, 13, 6);
    let mut nm = Vec::new();
    proto::put_bytes(&mut nm, 7, &hist);
    body.extend(family("pbn", 4, &[nm.clone()], None));
    assert_status(&put_proto(a, "/metrics/job/pb", &body), 200, "");
    let t = metrics(a);
    assert!(
        t.contains(
            "# HELP pbg a gauge\n# TYPE pbg gauge\npbg{a=\"x\",instance=\"\",job=\"pb\"} 1.5\n"
        ),
        "{t}"
    );
    assert!(t.contains("# TYPE pbc counter\npbc{instance=\"\",job=\"pb\"} 7\n"));
    assert!(t.contains("pbn_bucket{instance=\"\",job=\"pb\",le=\"+Inf\"} 3\n"), "{t}");

    let r = send(a, "GET", "/metrics", &[("Accept", PROTO_CT)], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some(&*format!("{PROTO_CT}; escaping=underscores")));
    let fams = decode_families(&r.body);
    let pbn = fams.iter().find(|f| f.0 == "pbn").expect("pbn");
    assert_eq!(pbn.2, 4);
    let stored = &pbn.3[0];
    assert!(stored.windows(hist.len()).any(|w| w == &hist[..]), "native fields kept");
    let pbg = fams.iter().find(|f| f.0 == "pbg").unwrap();
    assert_eq!(pbg.1.as_deref(), Some("a gauge"));
    assert!(fams.iter().any(|f| f.0 == "pushgateway_build_info"));
    let names: Vec<&str> = fams.iter().map(|f| f.0.as_str()).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");

    let ts = family("pbt", 1, &[metric(&[], 2, 1.0, Some(1000))], None);
    assert_status(
        &put_proto(a, "/metrics/job/pbt", &ts),
        400,
        &format!("{INVALID}pushed metrics must not have timestamps\n"),
    );

    let mut dup = family("pbd", 1, &[metric(&[], 2, 1.0, None)], None);
    dup.extend(family("pbd", 1, &[metric(&[], 2, 2.0, None)], None));
    assert_eq!(put_proto(a, "/metrics/job/pbd", &dup).status, 200);
    assert!(metrics(a).contains("pbd{instance=\"\",job=\"pbd\"} 2\n"));

    let whole = family("pbx", 1, &[metric(&[], 2, 1.0, None)], None);
    assert_status(
        &put_proto(a, "/metrics/job/pbx", &whole[..whole.len() - 3]),
        400,
        "unexpected EOF\n",
    );

    // #55, fixed (B3): invalid metric names are refused.
    let bad = family("bad-name", 1, &[metric(&[], 2, 1.0, None)], None);
    let r = put_proto(a, "/metrics/job/pbbad", &bad);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("metric name \"bad-name\" is invalid"), "{}", r.text());
    assert!(!metrics(a).contains("bad-name"));

    for ct in [None, Some("application/vnd.google.protobuf; encoding=delimited")] {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("Content-Type", c)).into_iter().collect();
        let r = send(a, "PUT", "/metrics/job/noct", &headers, &whole);
        assert_eq!(r.status, 400);
        assert!(r.text().starts_with("text format parsing error in line 1:"), "{}", r.text());
    }
    // Huge lengths and bad varints are errors, never crashes.
    for junk in [&b"\xff\xff\xff\xff\x0f"[..], b"\x05\x0a\xff\xff\xff\xff", b"\x03\x0a\x09a"] {
        let r = put_proto(a, "/metrics/job/junk", junk);
        assert!(r.status == 400 || r.status == 200, "{}", r.status);
    }
    assert_eq!(get(a, "/-/healthy").status, 200);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn compressed_bodies() {
    // #57-#61, #67
    let gw = start("compress", &[]);
    let a = gw.addr;
    let gz = gzip(b"gzm 1\n");
    assert_eq!(send(a, "PUT", "/metrics/job/gz", &[("Content-Encoding", "gzip")], &gz).status, 200);
    assert_eq!(
        send(a, "PUT", "/metrics/job/gz2", &[("Content-Encoding", "GZIP")], &gz).status,
        200
    );
    let r = send(a, "PUT", "/metrics/job/gz3", &[("Content-Encoding", "gzip")], b"gzm 1\n");
    assert_status(&r, 400, "unexpected EOF\n");
    let r =
        send(a, "PUT", "/metrics/job/gz3", &[("Content-Encoding", "gzip")], &gz[..gz.len() - 4]);
    assert_status(&r, 400, "unexpected EOF\n");
    let r = send(a, "DELETE", "/metrics/job/gz", &[("Content-Encoding", "gzip")], b"");
    assert_status(&r, 400, "EOF\n");
    let mut sn = Vec::new();
    snap::write::FrameEncoder::new(&mut sn).write_all(b"snm 1\n").unwrap();
    assert_eq!(
        send(a, "PUT", "/metrics/job/sn", &[("Content-Encoding", "snappy")], &sn).status,
        200
    );
    let t = metrics(a);
    for want in [
        "gzm{instance=\"\",job=\"gz\"} 1",
        "gzm{instance=\"\",job=\"gz2\"} 1",
        "snm{instance=\"\",job=\"sn\"} 1",
    ] {
        assert!(t.contains(want), "{want}");
    }
    let r = send(a, "GET", "/metrics", &[("Accept-Encoding", "gzip")], b"");
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&r.body[..]), &mut text)
        .unwrap();
    assert!(text.contains("snm{"));
}

#[test]
fn unchecked_pushes_never_break_scrapes() {
    // #62, #63 — fixed: upstream answers every later scrape with a 500.
    let gw = start("unchecked", &["--push.disable-consistency-check"]);
    let a = gw.addr;
    assert_status(&put(a, "/metrics/job/x", "# TYPE a counter\na 1\n"), 202, "");
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_status(&put(a, "/metrics/job/y", "# TYPE a gauge\na 1\n"), 202, "");
    assert_status(&put(a, "/metrics/job/d", "d 1\nd 2\n"), 202, "");
    let t = metrics(a);
    assert_eq!(lines(&t, "# TYPE a ").len(), 1);
    assert_eq!(lines(&t, "d{").len(), 1);
    assert_status(&put(a, "/metrics/job/z", "b 1 1000\n"), 202, "");
    let t = metrics(a);
    assert!(!t.contains("b{"));
    assert!(value_of(&t, "push_failure_time_seconds{instance=\"\",job=\"z\"}") > 0.0);
    assert_eq!(put(a, "/metrics/job/z", "b{").status, 400, "parse errors stay 400s");
}

#[test]
fn methods_negotiation_and_misc_routes() {
    // #64, #66, #68-#78
    let gw = start("routes", &["--web.enable-admin-api"]);
    let a = gw.addr;
    let r = get(a, "/metrics");
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8; escaping=underscores")
    );
    let r = send(
        a,
        "GET",
        "/metrics",
        &[("Accept", "application/openmetrics-text;version=1.0.0")],
        b"",
    );
    assert!(r.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    for m in ["HEAD", "POST"] {
        let r = send(a, m, "/metrics", &[], b"");
        assert_eq!((r.status, r.header("allow")), (405, Some("GET, OPTIONS")), "{m}");
    }
    for m in ["GET", "PATCH"] {
        let r = send(a, m, "/metrics/job/foo", &[], b"");
        assert_eq!((r.status, r.header("allow")), (405, Some("DELETE, OPTIONS, POST, PUT")), "{m}");
    }
    let r = send(a, "OPTIONS", "/metrics/job/foo", &[], b"");
    assert_eq!(
        (r.status, r.header("allow"), r.body.len()),
        (200, Some("DELETE, OPTIONS, POST, PUT"), 0)
    );
    assert_status(&get(a, "/-/healthy"), 200, "OK");
    assert_status(&get(a, "/-/ready"), 200, "OK");
    assert_status(&send(a, "PUT", "/-/quit", &[], b""), 403, "Lifecycle API is not enabled.");
    assert_status(&send(a, "POST", "/-/quit", &[], b""), 403, "Lifecycle API is not enabled.");
    assert_status(&get(a, "/-/quit"), 405, "Only POST or PUT requests allowed.");

    let r = get(a, "/api/v1/status");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let s = r.text();
    assert!(
        s.starts_with("{\"status\":\"success\",\"data\":{\"build_information\":{\"branch\":"),
        "{s}"
    );
    assert!(s.contains("\"flags\":{") && s.contains("\"web.enable-admin-api\":\"true\""), "{s}");
    assert!(s.contains("\"start_time\":\""));
    assert_eq!(send(a, "POST", "/api/v1/status", &[], b"").status, 405);

    let r = get(a, "/api/v1/metrics");
    assert_status(&r, 200, "{\"status\":\"success\",\"data\":[]}");
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-allow-methods"), Some("GET, POST, DELETE, OPTIONS"));
    let r = send(a, "OPTIONS", "/api/v1/anything", &[], b"");
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("Accept, Authorization, Content-Type, Origin")
    );

    put(a, "/metrics/job/w1", "w 1\n");
    put(a, "/metrics/job/w2", "labels 1\n");
    let j = get(a, "/api/v1/metrics").text();
    assert!(j.contains("{\"labels\":{\"job\":\"w1\"},\"last_push_successful\":true,\"push_failure_time_seconds\":{"), "{j}");
    assert!(j.contains("\"w\":{\"time_stamp\":\""), "{j}");
    // B7, kept: a family named `labels` replaces the member.
    assert!(j.contains("{\"labels\":{\"time_stamp\""), "{j}");
    assert_eq!(send(a, "PUT", "/api/v1/admin/wipe", &[], b"").status, 202);
    assert!(!metrics(a).contains("job=\"w1\""));
    assert_status(&get(a, "/api/v1/metrics"), 200, "{\"status\":\"success\",\"data\":[]}");
    assert_status(&get(a, "/nope"), 404, "404 page not found\n");
    // httprouter's case-insensitive redirects, parameters kept as sent.
    let r = get(a, "/METRICS");
    assert_eq!((r.status, r.header("location")), (301, Some("/metrics")));
    let r = put(a, "/Metrics/Job/MyJob/A/b", "");
    assert_eq!((r.status, r.header("location")), (307, Some("/metrics/job/MyJob/A/b")));
    let r = get(a, "/api/v1/Status");
    assert_eq!((r.status, r.header("location")), (301, Some("/api/v1/status")));
    let r = get(a, "/-/healthy/");
    assert_eq!((r.status, r.header("location")), (301, Some("/-/healthy")));
    // The UI (tests/tests/gateway_ui.rs has the rest).
    assert_eq!(get(a, "/").status, 200);

    let plain = start("noadmin", &[]);
    assert_status(
        &send(plain.addr, "PUT", "/api/v1/admin/wipe", &[], b""),
        404,
        "404 page not found\n",
    );
}

#[test]
fn lifecycle_quit_stops_the_server() {
    // #74
    let gw = start("quit", &["--web.enable-lifecycle"]);
    assert_status(
        &send(gw.addr, "PUT", "/-/quit", &[], b""),
        200,
        "Requesting termination... Goodbye!",
    );
    let mut gw = gw;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(status) = gw.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still running");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn route_prefix() {
    // #79
    let gw = start("prefix", &["--web.route-prefix=/pgw"]);
    let a = gw.addr;
    assert_eq!(put(a, "/pgw/metrics/job/x", "m 1\n").status, 200);
    assert_eq!(put(a, "/metrics/job/x", "m 1\n").status, 404);
    let r = get(a, "/pgw");
    assert_eq!((r.status, r.header("location")), (301, Some("/pgw/")));
    assert!(get(a, "/pgw/metrics").text().contains("m{instance=\"\",job=\"x\"} 1\n"));
    assert_eq!(get(a, "/pgw/api/v1/status").status, 200);
    assert_eq!(get(a, "/-/quit").status, 405);
    assert_eq!(get(a, "/pgw/-/healthy").status, 200);
}

#[test]
fn own_metrics_count_requests() {
    let gw = start("own", &[]);
    let a = gw.addr;
    put(a, "/metrics/job/c", "c 1\n");
    post(a, "/metrics/job/c", "c 1\n");
    delete(a, "/metrics/job/c");
    put(a, "/metrics/job/c", "c{");
    get(a, "/-/healthy");
    let t = metrics(a);
    for want in [
        "pushgateway_http_requests_total{code=\"200\",handler=\"push\",method=\"put\"} 1\n",
        "pushgateway_http_requests_total{code=\"200\",handler=\"push\",method=\"post\"} 1\n",
        "pushgateway_http_requests_total{code=\"202\",handler=\"delete\",method=\"delete\"} 1\n",
        "pushgateway_http_requests_total{code=\"400\",handler=\"push\",method=\"put\"} 1\n",
        "pushgateway_http_requests_total{code=\"200\",handler=\"healthy\",method=\"get\"} 1\n",
        "pushgateway_http_push_duration_seconds_count{method=\"put\"} 2\n",
        "pushgateway_http_push_size_bytes_count{method=\"post\"} 1\n",
        "# TYPE pushgateway_build_info gauge\n",
        "# TYPE process_cpu_seconds_total counter\n",
    ] {
        assert!(t.contains(want), "{want} missing:\n{t}");
    }
}
