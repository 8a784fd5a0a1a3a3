use super::*;
use crate::op::{Format, Kind, Op, Volatile};
use crate::path::{decode_base64, Key};
use crate::store::{Pushed, Scratch, Store};
use proptest::prelude::*;
use std::time::{Duration, Instant};

fn push(store: &Store, labels: &[(&str, &str)], body: &str, time_ms: i64) -> Pushed {
    let op = Op {
        kind: Kind::Put,
        format: Format::Text,
        time_ms,
        labels: labels.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect(),
        body: body.as_bytes(),
    };
    store.push(&mut Scratch::new(), &Volatile, &op, true)
}

fn ui(links: &str, admin: bool) -> Ui {
    let build = [("version".to_owned(), "1.2.3".to_owned()), ("revision".to_owned(), "".into())];
    let flags = [("web.route-prefix".to_owned(), "/pgw".to_owned())];
    Ui::new(links, "/metrics", admin, &build, &flags, 1_715_342_400_120)
}

fn page(store: &Store, ui: &Ui) -> String {
    let mut out = Vec::new();
    store.with_groups(&mut Scratch::new(), |groups| ui.page(groups, &mut out));
    String::from_utf8(out).unwrap()
}

/// The values of every `attr="..."` in `html`, unescaped for the few references `esc` writes.
fn attrs(html: &str, attr: &str) -> Vec<String> {
    let pat = format!(" {attr}=\"");
    html.match_indices(&pat)
        .map(|(at, _)| {
            let rest = &html[at + pat.len()..];
            let v = &rest[..rest.find('"').unwrap()];
            v.replace("&#34;", "\"")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

#[test]
fn groups_page_lists_labels_families_and_failures() {
    let st = Store::new();
    let body =
        "# HELP m1 a <b>help</b> & \"q\"\n# TYPE m1 gauge\nm1{x=\"1\"} 1\nm1{x=\"2\"} 2\nm2 3\n";
    push(&st, &[("instance", "i<script>'"), ("job", "j1")], body, 1_000);
    push(&st, &[("job", "test/job"), ("n", "Προ"), ("v", "")], "m3 1\n", 2_000);
    assert!(matches!(
        push(&st, &[("job", "failing")], "m4 1 1000\n", 3_000),
        Pushed::Refused { recorded: true, .. }
    ));
    let html = page(&st, &ui("", false));
    assert!(html.contains("<h1>3 groups</h1>"), "{html}");
    // Job first, values escaped as the exposition and then for HTML; nothing raw.
    assert!(html.contains(
        "<span class=\"l job\">job=&#34;j1&#34;</span>\
         <span class=\"l instance\">instance=&#34;i&lt;script&gt;&#39;&#34;</span>"
    ));
    assert!(!html.contains("<script>'"));
    assert!(html.contains("n=&#34;Προ&#34;"));
    assert!(html.contains("<td class=\"help\">a &lt;b&gt;help&lt;/b&gt; &amp; &#34;q&#34;</td>"));
    assert!(html.contains(">m1</a></td><td>gauge</td><td class=\"num\">2</td>"));
    assert!(html.contains(">m2</a></td><td>untyped</td><td class=\"num\">1</td>"));
    assert!(html.contains("last push 1970-01-01T00:00:01Z"));
    // The refused push made a group with no successful push and a failure mark; the others
    // have none.
    assert_eq!(html.matches("class=\"fail\"").count(), 1);
    assert!(html.contains(
        "last push failed 1970-01-01T00:00:03Z</span><span class=\"when\">last push never"
    ));
    // No admin API: no wipe button.
    assert!(!html.contains("id=\"wipe\""));
    // Groups in grouping-key order (`instance` sorts before `job`).
    let ids = attrs(&html, "id");
    assert_eq!(ids.len(), 3);
    let keys: Vec<Vec<u8>> = ids
        .iter()
        .map(|id| {
            let mut k = Vec::new();
            decode_base64(id.strip_prefix("g-").unwrap().as_bytes(), &mut k).unwrap();
            k
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    assert!(html.ends_with("</main>\n</body>\n</html>\n"));
}

/// Each delete button's URL, read back through the push path parser, names its own group.
#[test]
fn delete_urls_name_their_group() {
    let st = Store::new();
    let groups: [&[(&str, &str)]; 4] = [
        &[("job", "plain")],
        &[("job", "a/b"), ("path", "/var/tmp"), ("empty", "")],
        &[("job", "Προ\"<&>"), ("instance", "host:1"), ("zz", "x y+z")],
        &[("job", "=")],
    ];
    for (i, labels) in groups.iter().enumerate() {
        let mut sorted = labels.to_vec();
        sorted.sort();
        assert!(matches!(push(&st, &sorted, "m 1\n", i as i64), Pushed::Stored));
    }
    let html = page(&st, &ui("/pgw", true));
    let urls = attrs(&html, "data-url");
    assert_eq!(urls[0], "/pgw/api/v1/admin/wipe");
    let mut found: Vec<Vec<(String, String)>> = urls[1..]
        .iter()
        .map(|u| {
            let rest = u.strip_prefix("/pgw/metrics/job@base64/").unwrap();
            let (job, labels) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let mut k = Key::new();
            k.parse(job.as_bytes(), true, labels.as_bytes()).unwrap();
            k.labels()
                .map(|(n, v)| {
                    (String::from_utf8(n.to_vec()).unwrap(), String::from_utf8(v.to_vec()).unwrap())
                })
                .collect()
        })
        .collect();
    found.sort();
    let mut want: Vec<Vec<(String, String)>> = groups
        .iter()
        .map(|g| {
            let mut v: Vec<_> = g.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            v.sort();
            v
        })
        .collect();
    want.sort();
    assert_eq!(found, want);
    let confirms = attrs(&html, "data-confirm");
    assert!(confirms.contains(&"Delete group {job=\"a/b\", empty=\"\", path=\"/var/tmp\"}?".into()));
    assert!(confirms
        .contains(&"Delete group {job=\"Προ\\\"<&>\", instance=\"host:1\", zz=\"x y+z\"}?".into()));
}

#[test]
fn links_start_with_the_prefix() {
    let st = Store::new();
    push(&st, &[("job", "j")], "m 1\n", 1);
    for (prefix, ui) in [("", ui("", true)), ("/pgw", ui("/pgw", true))] {
        for html in [page(&st, &ui), String::from_utf8(ui.status().to_vec()).unwrap()] {
            let links: Vec<String> =
                attrs(&html, "href").into_iter().chain(attrs(&html, "src")).collect();
            assert!(links.len() >= 5, "{html}");
            for l in links {
                assert!(l.starts_with(&format!("{prefix}/")), "{l} in {html}");
            }
            assert!(html.contains(&format!("href=\"{prefix}/static/ui.css?v=1.2.3\"")));
            assert!(html.contains(&format!("href=\"{prefix}/metrics\">Exposition")));
        }
    }
}

#[test]
fn empty_store_and_admin() {
    let st = Store::new();
    let html = page(&st, &ui("", true));
    assert!(html.contains("<h1>0 groups</h1>"));
    assert!(html.contains("Nothing has been pushed."));
    assert!(html.contains("data-confirm=\"Delete all groups?\" disabled>"));
}

#[test]
fn status_page_lists_build_flags_and_start() {
    let ui = ui("", false);
    let html = String::from_utf8(ui.status().to_vec()).unwrap();
    assert!(html.contains("<tr><th>Started</th><td>2024-05-10T12:00:00.12Z</td></tr>"));
    assert!(html.contains("<tr><th>revision</th><td></td></tr><tr><th>version</th><td>1.2.3</td>"));
    assert!(html.contains("<tr><th>web.route-prefix</th><td>/pgw</td></tr>"));
    assert!(html.contains("aria-current=\"page\">Status"));
}

#[test]
fn series_of_one_family() {
    let st = Store::new();
    let body = "# HELP m h\\n\n# TYPE m counter\nm{a=\"<\"} 1\nm{a=\"b\"} 2\nn 1\n";
    push(&st, &[("job", "j")], body, 1);
    let mut key = Vec::new();
    st.with_groups(&mut Scratch::new(), |g| key.extend_from_slice(g[0].key()));
    let g = st.group(&key).unwrap();
    let mut out = Vec::new();
    assert!(series(&g, b"m", &mut out));
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "# HELP m h\\n\n# TYPE m counter\nm{a=\"<\",instance=\"\",job=\"j\"} 1\n\
         m{a=\"b\",instance=\"\",job=\"j\"} 2\n"
    );
    assert!(!series(&g, b"nope", &mut Vec::new()));
    assert!(st.group(b"job\xffnope").is_none());
}

#[test]
fn assets() {
    let (ct, css) = asset(b"ui.css").unwrap();
    assert_eq!(ct, "text/css; charset=utf-8");
    assert!(!css.is_empty());
    let (ct, js) = asset(b"ui.js").unwrap();
    assert_eq!(ct, "text/javascript; charset=utf-8");
    assert!(std::str::from_utf8(js).unwrap().contains("data-url"));
    assert!(asset(b"../mod.rs").is_none());
    assert!(asset(b"").is_none());
}

/// 10,000 groups render, one `<details>` each, and the time grows with the groups, not faster
/// (best of three at 2,500 and at 10,000 groups; quadratic work would take 16 times longer).
#[test]
fn ten_thousand_groups() {
    let st = Store::new();
    let body = "# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 2\n# HELP b help\nb 1\n";
    let render = |st: &Store| {
        let ui = ui("", true);
        let mut best = Duration::MAX;
        let mut out = Vec::new();
        let mut s = Scratch::new();
        for _ in 0..3 {
            out.clear();
            let t = Instant::now();
            st.with_groups(&mut s, |groups| ui.page(groups, &mut out));
            best = best.min(t.elapsed());
        }
        (best, String::from_utf8(out).unwrap())
    };
    let mut small = (Duration::ZERO, String::new());
    for i in 0..10_000 {
        if i == 2_500 {
            small = render(&st);
        }
        let inst = i.to_string();
        push(&st, &[("instance", &inst), ("job", "load")], body, i);
    }
    let (t, html) = render(&st);
    assert_eq!(html.matches("<details class=\"group\"").count(), 10_000);
    assert_eq!(small.1.matches("<details class=\"group\"").count(), 2_500);
    assert!(t < small.0 * 10, "10,000 groups took {t:?}, 2,500 took {:?}", small.0);
    // The README's figure for such a page.
    eprintln!("10,000 groups: {} bytes of HTML in {t:?}", html.len());
}

fn esc_oracle(s: &[u8]) -> String {
    let mut o = String::new();
    for c in String::from_utf8_lossy(s).chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&#34;"),
            '\'' => o.push_str("&#39;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if c.is_ascii_control() => o.push('\u{fffd}'),
            c => o.push(c),
        }
    }
    o
}

proptest! {
    /// Escaping agrees with a char-by-char oracle, and never lets markup through.
    #[test]
    fn escaping_matches_the_oracle(s: Vec<u8>) {
        let mut out = Vec::new();
        esc(&mut out, &s);
        let out = String::from_utf8(out).unwrap();
        prop_assert_eq!(&out, &esc_oracle(&s));
        prop_assert!(!out.contains(['<', '>', '"', '\'']));
    }

    /// Any grouping label value ends up escaped in the page, and its delete URL names it.
    #[test]
    fn any_label_value_is_escaped(v in "\\PC{0,12}") {
        let st = Store::new();
        prop_assume!(matches!(push(&st, &[("job", "j"), ("v", &v)], "m 1\n", 1), Pushed::Stored));
        let html = page(&st, &ui("", false));
        let body = &html[html.find("<main>").unwrap()..];
        prop_assert!(!body.contains("<script"));
        let url = &attrs(&html, "data-url")[0];
        let rest = url.strip_prefix("/metrics/job@base64/").unwrap();
        let (job, labels) = rest.split_at(rest.find('/').unwrap());
        let mut k = Key::new();
        k.parse(job.as_bytes(), true, labels.as_bytes()).unwrap();
        let got: Vec<_> = k.labels().map(|(n, v)| (n.to_vec(), v.to_vec())).collect();
        prop_assert_eq!(got, vec![(b"job".to_vec(), b"j".to_vec()), (b"v".to_vec(), v.into_bytes())]);
    }
}
