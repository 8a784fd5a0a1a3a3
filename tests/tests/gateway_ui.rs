//! `nodegate gateway`'s web UI over HTTP (routes, content types, links under the prefix,
//! series on demand, delete URLs that work), then in a real browser: Debian's headless
//! Chromium driven by `tests/browser/ui.mjs` through playwright-core, which deletes a group
//! and wipes the rest with the page's own buttons while this test checks the gateway's state
//! over HTTP. The browser test is skipped, with a message, when `/usr/bin/chromium`, `node` or
//! `tests/browser/node_modules` is missing (`scripts/test.sh` installs them).

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xtests::{get, root, send, Response, Running};

fn start(name: &str, args: &[&str]) -> Running {
    let dir = std::env::temp_dir().join(format!("nodegate-gw-ui-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut all = vec!["gateway", "--persistence.file="];
    all.extend_from_slice(args);
    Running::start(&dir, &all)
}

fn put(addr: SocketAddr, path: &str, body: &str) -> Response {
    let r = send(addr, "PUT", path, &[], body.as_bytes());
    assert_eq!(r.status, 200, "PUT {path}: {}", r.text());
    r
}

/// Every group's labels, as its `push_time_seconds` series in the exposition writes them
/// (grouping labels plus `instance=""` when it has none), sorted.
fn groups(addr: SocketAddr, prefix: &str) -> Vec<String> {
    let text = get(addr, &format!("{prefix}/metrics")).text();
    let mut out: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("push_time_seconds{"))
        .map(|l| l[..l.rfind('}').unwrap()].to_owned())
        .collect();
    out.sort();
    out
}

/// Attribute values `attr="..."` in `html`, `&amp;` unescaped.
fn attrs(html: &str, attr: &str) -> Vec<String> {
    let pat = format!(" {attr}=\"");
    html.match_indices(&pat)
        .map(|(at, _)| {
            let rest = &html[at + pat.len()..];
            rest[..rest.find('"').unwrap()].replace("&amp;", "&")
        })
        .collect()
}

#[test]
fn ui_routes() {
    let gw = start("routes", &["--web.enable-admin-api"]);
    let a = gw.addr;
    put(a, "/metrics/job/j/instance/i%3Cb%3E", "# HELP m my help\nm{x=\"1\"} 1\nm{x=\"2\"} 2\n");
    let r = get(a, "/");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let html = r.text();
    assert!(html.contains("instance=&#34;i&lt;b&gt;&#34;"), "{html}");
    assert!(html.contains("<h1>1 group</h1>"));
    assert!(html.contains("id=\"wipe\""));
    // /status: build information, flags, start time.
    let r = get(a, "/status");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    let status = r.text();
    for want in
        ["<th>Started</th>", "<th>version</th>", "<th>web.enable-admin-api</th><td>true</td>"]
    {
        assert!(status.contains(want), "{want} missing: {status}");
    }
    // Assets, with their types; nothing else under /static/.
    for (path, ct) in [
        ("/static/ui.css", "text/css; charset=utf-8"),
        ("/static/ui.js", "text/javascript; charset=utf-8"),
    ] {
        let r = get(a, &format!("{path}?v=x"));
        assert_eq!((r.status, r.header("content-type")), (200, Some(ct)), "{path}");
        assert!(!r.body.is_empty());
    }
    assert_eq!(get(a, "/static/nope.js").status, 404);
    assert_eq!(get(a, "/static/").status, 404);
    // GET only, as upstream's router.
    assert_eq!(send(a, "POST", "/", &[], b"").status, 405);
    assert_eq!(send(a, "HEAD", "/status", &[], b"").status, 405);
    let r = get(a, "/status/");
    assert_eq!((r.status, r.header("location")), (301, Some("/status")));
    // A family's series, linked from its name.
    let series = attrs(&html, "href").into_iter().find(|h| h.contains("&family=bQ")).unwrap();
    let r = get(a, &series);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(
        r.text(),
        "# HELP m my help\n# TYPE m untyped\nm{instance=\"i<b>\",job=\"j\",x=\"1\"} 1\n\
         m{instance=\"i<b>\",job=\"j\",x=\"2\"} 2\n"
    );
    assert_eq!(get(a, "/?group=am9i_2dvbmU&family=bQ").status, 404);
    assert_eq!(get(a, "/?group=!&family=bQ").status, 400);
    // The page's delete URL deletes that group.
    put(a, "/metrics/job/other", "m 1\n");
    let del = attrs(&get(a, "/").text(), "data-url")
        .into_iter()
        .find(|u| u.contains("/instance@base64/"))
        .unwrap();
    assert_eq!(send(a, "DELETE", &del, &[], b"").status, 202);
    assert_eq!(groups(a, ""), ["instance=\"\",job=\"other\""]);
    // Counted as upstream counts them.
    let m = get(a, "/metrics").text();
    assert!(m.contains(
        "pushgateway_http_requests_total{code=\"200\",handler=\"status\",method=\"get\"}"
    ));
    assert!(m.contains(
        "pushgateway_http_requests_total{code=\"404\",handler=\"static\",method=\"get\"} 2\n"
    ));
}

#[test]
fn ui_links_follow_prefix_and_external_url() {
    // Routes under --web.route-prefix; links under it too.
    let gw = start("prefix", &["--web.route-prefix=/pgw"]);
    let html = get(gw.addr, "/pgw/").text();
    for l in attrs(&html, "href").into_iter().chain(attrs(&html, "src")) {
        assert!(l.starts_with("/pgw/"), "{l}");
    }
    assert_eq!(get(gw.addr, "/pgw/static/ui.css").status, 200);
    assert_eq!(get(gw.addr, "/").status, 404);
    assert!(html.contains("href=\"/pgw/metrics\">Exposition"));
    // Behind a proxy that strips /outside: routes at the root, links under the external path.
    let gw = start(
        "external",
        &["--web.external-url=http://example.com/outside/", "--web.route-prefix=/"],
    );
    let html = get(gw.addr, "/").text();
    assert!(html.contains("href=\"/outside/static/ui.css?v="), "{html}");
    assert!(html.contains("href=\"/outside/status\""));
    // Only the external URL: routes and links under its path.
    let gw = start("external2", &["--web.external-url=http://example.com/ext"]);
    put(gw.addr, "/ext/metrics/job/j", "m 1\n");
    let html = get(gw.addr, "/ext/").text();
    assert!(html.contains("data-url=\"/ext/metrics/job@base64/ag\""), "{html}");
}

fn browser_ready() -> bool {
    let chromium = std::path::Path::new("/usr/bin/chromium").exists();
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    let modules = root().join("tests/browser/node_modules/playwright-core").is_dir();
    if !(chromium && node && modules) {
        eprintln!(
            "skipping: the browser test needs /usr/bin/chromium ({}), node ({}) and \
             tests/browser/node_modules ({}): run scripts/test.sh, or apt-get install chromium \
             nodejs npm and npm ci in tests/browser",
            if chromium { "found" } else { "missing" },
            if node { "found" } else { "missing" },
            if modules { "found" } else { "missing" },
        );
    }
    chromium && node && modules
}

/// Runs one step of `tests/browser/ui.mjs`; returns what it printed.
fn browser(url: &str, step: &str, spec: &str) -> String {
    let dir = root().join("tests/browser");
    let mut cmd = Command::new("node");
    cmd.current_dir(&dir).arg("ui.mjs").arg(url).arg(step).arg(spec);
    let out_path =
        std::env::temp_dir().join(format!("nodegate-ui-{}-{step}.out", std::process::id()));
    let err_path = out_path.with_extension("err");
    cmd.stdout(std::fs::File::create(&out_path).unwrap());
    cmd.stderr(std::fs::File::create(&err_path).unwrap());
    cmd.stdin(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    // A hung browser must not hang the suite.
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ui.mjs {step} did not finish in 240 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    let _ = std::fs::remove_file(&err_path);
    assert!(status.success(), "ui.mjs {step}: {status}\n{out}\n{err}");
    out
}

#[test]
fn browser_deletes_a_group_then_wipes() {
    if !browser_ready() {
        return;
    }
    // Under a route prefix, so that every request the page makes must carry it.
    let gw = start("browser", &["--web.route-prefix=/pgw", "--web.enable-admin-api"]);
    let a = gw.addr;
    put(
        a,
        "/pgw/metrics/job/alpha/instance/host%3Cone%3E",
        "# HELP up_a Whether a is up.\nup_a 1\n",
    );
    // Values the UI must send back in base64: a slash, an empty value, non-ASCII, a quote.
    put(a, "/pgw/metrics/job@base64/YmV0YS9qb2I/empty@base64/=/name/%CE%A0%22q", "up_b 1\n");
    let before = groups(a, "/pgw");
    assert_eq!(before.len(), 2, "{before:?}");

    let spec = r#"{
        "groups": [
            ["job=\"alpha\"", "instance=\"host<one>\""],
            ["job=\"beta/job\"", "empty=\"\"", "name=\"Π\\\"q\""]
        ],
        "family": { "group": "job=\"alpha\"", "name": "up_a", "series": "up_a{instance=\"host<one>\",job=\"alpha\"} 1" },
        "delete": "job=\"beta/job\""
    }"#;
    let url = format!("http://{a}/pgw/");
    let seen = browser(&url, "delete-group", spec);
    assert!(seen.contains("Delete group {job=\\\"beta/job\\\""), "{seen}");
    // Exactly that group is gone.
    let after = groups(a, "/pgw");
    assert_eq!(after, ["instance=\"host<one>\",job=\"alpha\""], "{seen}");

    let seen = browser(&url, "wipe", "{}");
    assert!(seen.contains("Delete all groups?"), "{seen}");
    assert!(groups(a, "/pgw").is_empty());
    let log = gw.stderr();
    assert!(!log.contains("level=error"), "{log}");
}
