//! The web UI: the groups page at `P/`, the status page at `P/status`, and their stylesheet
//! and script at `P/static/...`; what the Pushgateway serves from `resources/template.html`.
//!
//! Pages are HTML written on the server straight into the response buffer, in one pass over
//! the groups: a page costs O(groups + families + grouping labels), and 10,000 groups of three
//! families come to about 10 MB before gzip. Series are not written into the page, which would
//! make it as large as the exposition: a family's name links to
//! `P/?group=<key>&family=<name>` (both base64url), answered by [`series`] with that family's
//! lines in the text format, which the script shows under the family's row.
//!
//! Every string that came with a push (label values, names, HELP) is escaped for HTML, and
//! bytes that are not UTF-8 are written as U+FFFD. Every link starts with the UI's prefix: the
//! external URL's path, or else the route prefix.
//!
//! The script replaces upstream's jQuery and Bootstrap code with a few lines: "Delete group"
//! sends `DELETE P/metrics/job@base64/<job>{/<name>@base64/<value>}` (every value base64url,
//! an empty one `=`), as upstream's UI does, and "Delete all groups" (shown only with
//! `--web.enable-admin-api`) sends `PUT P/api/v1/admin/wipe`; both ask for confirmation first
//! and reload the page when the gateway accepted. Without the script the pages still show
//! everything, and a family's link opens its series as plain text.

use crate::group::{Group, Type};
use crate::json;
use crate::path::encode_base64;
use std::sync::Arc;

/// The stylesheet, at `P/static/ui.css`.
const CSS: &str = include_str!("ui.css");
/// The script, at `P/static/ui.js`.
const JS: &str = include_str!("ui.js");

/// `Content-Type` of the pages.
pub const HTML: &str = "text/html; charset=utf-8";

/// The asset served at `P/static/<name>`: its `Content-Type` and bytes.
pub fn asset(name: &[u8]) -> Option<(&'static str, &'static [u8])> {
    match name {
        b"ui.css" => Some(("text/css; charset=utf-8", CSS.as_bytes())),
        b"ui.js" => Some(("text/javascript; charset=utf-8", JS.as_bytes())),
        _ => None,
    }
}

/// Which page the navigation marks as current.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Page {
    Groups,
    Status,
}

/// The UI's settings, and the status page, which does not change while the gateway runs.
#[derive(Clone, Debug, Default)]
pub struct Ui {
    /// What every link starts with: empty, or `/x` with no trailing slash.
    links: String,
    /// Where the exposition is, below `links`.
    telemetry: String,
    /// Whether to offer "Delete all groups".
    admin: bool,
    /// Appended to asset URLs (`?v=`) so that a new build is not served from a cache.
    tag: String,
    status: Vec<u8>,
}

impl Ui {
    /// The UI with links under `links` (normalised as a route prefix is), the exposition at
    /// `telemetry` below it, the admin button when `admin`, and a status page listing `build`
    /// and `flags` (each sorted by name here) and the start time `start_ms` (Unix ms).
    pub fn new(
        links: &str,
        telemetry: &str,
        admin: bool,
        build: &[(String, String)],
        flags: &[(String, String)],
        start_ms: i64,
    ) -> Ui {
        let find = |k: &str| build.iter().find(|(n, _)| n == k).map_or("", |(_, v)| v.as_str());
        let tag = if find("revision").is_empty() { find("version") } else { find("revision") };
        let mut ui = Ui {
            links: links.to_owned(),
            telemetry: telemetry.to_owned(),
            admin,
            tag: tag.to_owned(),
            status: Vec::new(),
        };
        let mut out = Vec::new();
        ui.head(&mut out, Page::Status);
        out.extend_from_slice(
            b"<h1>Status</h1>\n<h2>Runtime information</h2>\n<table class=\"kv\">",
        );
        out.extend_from_slice(b"<tr><th>Started</th><td>");
        json::rfc3339_ms(&mut out, start_ms);
        out.extend_from_slice(b"</td></tr></table>\n");
        for (title, rows) in [("Build information", build), ("Startup flags", flags)] {
            out.extend_from_slice(b"<h2>");
            out.extend_from_slice(title.as_bytes());
            out.extend_from_slice(b"</h2>\n<table class=\"kv\">");
            let mut sorted: Vec<&(String, String)> = rows.iter().collect();
            sorted.sort();
            for (k, v) in sorted {
                out.extend_from_slice(b"<tr><th>");
                esc(&mut out, k.as_bytes());
                out.extend_from_slice(b"</th><td>");
                esc(&mut out, v.as_bytes());
                out.extend_from_slice(b"</td></tr>");
            }
            out.extend_from_slice(b"</table>\n");
        }
        out.extend_from_slice(FOOT);
        ui.status = out;
        ui
    }

    /// The status page (`P/status`).
    pub fn status(&self) -> &[u8] {
        &self.status
    }

    fn link(&self, out: &mut Vec<u8>, path: &[u8]) {
        esc(out, self.links.as_bytes());
        esc(out, path);
    }

    fn head(&self, out: &mut Vec<u8>, page: Page) {
        out.extend_from_slice(
            b"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
              <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
              <meta name=\"robots\" content=\"noindex,nofollow\">\n<title>",
        );
        out.extend_from_slice(match page {
            Page::Groups => b"Pushgateway",
            Page::Status => b"Pushgateway status",
        });
        out.extend_from_slice(b"</title>\n<link rel=\"stylesheet\" href=\"");
        self.link(out, b"/static/ui.css?v=");
        esc(out, self.tag.as_bytes());
        out.extend_from_slice(b"\">\n<script defer src=\"");
        self.link(out, b"/static/ui.js?v=");
        esc(out, self.tag.as_bytes());
        out.extend_from_slice(b"\"></script>\n</head>\n<body>\n<header><a class=\"brand\" href=\"");
        self.link(out, b"/");
        out.extend_from_slice(b"\">Pushgateway</a><nav>");
        for (p, path, text) in [
            (Some(Page::Groups), &b"/"[..], "Metrics"),
            (Some(Page::Status), b"/status", "Status"),
            (None, self.telemetry.as_bytes(), "Exposition"),
        ] {
            out.extend_from_slice(b"<a href=\"");
            self.link(out, path);
            out.push(b'"');
            if p == Some(page) {
                out.extend_from_slice(b" aria-current=\"page\"");
            }
            out.push(b'>');
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(b"</a>");
        }
        out.extend_from_slice(b"</nav></header>\n<main>\n");
    }

    /// Writes the groups page (`P/`) for `groups`, which are in grouping-key order.
    pub fn page(&self, groups: &[Arc<Group>], out: &mut Vec<u8>) {
        self.head(out, Page::Groups);
        let mut num = itoa::Buffer::new();
        out.extend_from_slice(b"<div class=\"bar\"><h1>");
        out.extend_from_slice(num.format(groups.len()).as_bytes());
        out.extend_from_slice(if groups.len() == 1 { b" group" } else { b" groups" });
        out.extend_from_slice(b"</h1>");
        if self.admin {
            out.extend_from_slice(
                b"<button type=\"button\" class=\"del\" id=\"wipe\" data-method=\"PUT\" data-url=\"",
            );
            self.link(out, b"/api/v1/admin/wipe");
            out.extend_from_slice(b"\" data-confirm=\"Delete all groups?\"");
            if groups.is_empty() {
                out.extend_from_slice(b" disabled");
            }
            out.extend_from_slice(b">Delete all groups</button>");
        }
        out.extend_from_slice(b"</div>\n");
        if groups.is_empty() {
            out.extend_from_slice(b"<p class=\"empty\">Nothing has been pushed.</p>\n");
        }
        let mut key64 = Vec::new();
        for g in groups {
            key64.clear();
            encode_base64(g.key(), &mut key64);
            self.group(out, g, &key64);
        }
        out.extend_from_slice(FOOT);
    }

    /// One group: a `<details>` whose summary holds the labels, the last push and the delete
    /// button, and whose body lists the families.
    fn group(&self, out: &mut Vec<u8>, g: &Group, key64: &[u8]) {
        let mut num = itoa::Buffer::new();
        out.extend_from_slice(b"<details class=\"group\" id=\"g-");
        out.extend_from_slice(key64);
        out.extend_from_slice(b"\"><summary><span class=\"labels\">");
        for (n, v) in job_first(g) {
            out.extend_from_slice(match n {
                b"job" => b"<span class=\"l job\">",
                b"instance" => b"<span class=\"l instance\">",
                _ => b"<span class=\"l\">",
            });
            label(out, n, v);
            out.extend_from_slice(b"</span>");
        }
        out.extend_from_slice(b"</span>");
        if g.fail_ms > g.push_ms {
            out.extend_from_slice(
                b"<span class=\"fail\" title=\"push_failure_time_seconds is later than \
                  push_time_seconds\">last push failed ",
            );
            json::rfc3339_ms(out, g.fail_ms);
            out.extend_from_slice(b"</span>");
        }
        out.extend_from_slice(b"<span class=\"when\">last push ");
        if g.push_ms == 0 {
            out.extend_from_slice(b"never");
        } else {
            json::rfc3339_ms(out, g.push_ms);
        }
        out.extend_from_slice(b"</span>");
        if let Some((_, job)) = g.labels().find(|(n, _)| *n == b"job") {
            out.extend_from_slice(
                b"<button type=\"button\" class=\"del\" data-method=\"DELETE\" data-url=\"",
            );
            self.link(out, b"/metrics/job@base64/");
            encode_base64(job, out);
            for (n, v) in g.labels().filter(|(n, _)| *n != b"job") {
                // Label names are `[a-zA-Z_][a-zA-Z0-9_]*` and base64url needs no escaping.
                out.push(b'/');
                out.extend_from_slice(n);
                out.extend_from_slice(b"@base64/");
                if v.is_empty() {
                    out.push(b'=');
                } else {
                    encode_base64(v, out);
                }
            }
            out.extend_from_slice(b"\" data-confirm=\"Delete group {");
            for (i, (n, v)) in job_first(g).enumerate() {
                if i > 0 {
                    out.extend_from_slice(b", ");
                }
                label(out, n, v);
            }
            out.extend_from_slice(b"}?\">Delete group</button>");
        }
        out.extend_from_slice(
            b"</summary>\n<table class=\"families\"><thead><tr><th>Metric</th><th>Type</th>\
              <th>Series</th><th>Pushed</th><th>Help</th></tr></thead><tbody>\n",
        );
        for f in &g.families {
            let name = g.name(f);
            out.extend_from_slice(b"<tr><td><a class=\"fam\" href=\"");
            self.link(out, b"/?group=");
            out.extend_from_slice(key64);
            out.extend_from_slice(b"&amp;family=");
            encode_base64(name, out);
            out.extend_from_slice(b"\">");
            esc(out, name);
            out.extend_from_slice(b"</a></td><td>");
            out.extend_from_slice(type_name(f.kind).as_bytes());
            out.extend_from_slice(b"</td><td class=\"num\">");
            out.extend_from_slice(num.format(f.series.1 - f.series.0).as_bytes());
            out.extend_from_slice(b"</td><td>");
            json::rfc3339_ms(out, f.time_ms);
            out.extend_from_slice(b"</td><td class=\"help\">");
            if let Some(h) = f.help {
                esc(out, g.get(h));
            }
            out.extend_from_slice(b"</td></tr>\n");
        }
        out.extend_from_slice(b"</tbody></table>\n</details>\n");
    }
}

/// The grouping labels as upstream's UI orders them: `job`, then the others by name.
fn job_first(g: &Group) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
    let job = g.labels().filter(|(n, _)| *n == b"job");
    job.chain(g.labels().filter(|(n, _)| *n != b"job"))
}

const FOOT: &[u8] = b"</main>\n</body>\n</html>\n";

fn type_name(kind: Type) -> &'static str {
    kind.text().unwrap_or("gauge histogram")
}

/// Writes the series of family `family` of `g` as the text format writes them, after the
/// family's `# HELP` and `# TYPE` lines: the answer to `P/?group=...&family=...`. `false`
/// when the group has no such family.
pub fn series(g: &Group, family: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(f) = g.find(family) else { return false };
    let help = f.help.map(|h| g.get(h));
    match f.kind.text() {
        Some(kind) => {
            crate::group::text_head(out, family, help, kind);
            for s in g.family_series(f) {
                out.extend_from_slice(g.get(s.text()));
            }
        }
        None => {
            out.extend_from_slice(b"# A gauge histogram: the text format cannot express it; ");
            out.extend_from_slice(b"scrape it in protobuf.\n");
        }
    }
    true
}

/// Writes `name="value"` with the value escaped as the text format escapes it (`\\`, `\"`,
/// `\n`), then for HTML.
fn label(out: &mut Vec<u8>, name: &[u8], mut value: &[u8]) {
    esc(out, name);
    out.extend_from_slice(b"=&#34;");
    while let Some(i) = memchr::memchr3(b'\\', b'"', b'\n', value) {
        esc(out, &value[..i]);
        out.extend_from_slice(match value[i] {
            b'\\' => b"\\\\",
            b'"' => b"\\&#34;",
            _ => b"\\n",
        });
        value = &value[i + 1..];
    }
    esc(out, value);
    out.extend_from_slice(b"&#34;");
}

/// Appends `s` escaped for HTML text and for quoted attribute values: `&`, `<`, `>`, `"` and
/// `'` as character references; bytes that are not UTF-8, and control characters other than
/// tab and line breaks (which HTML does not allow), as U+FFFD.
fn esc(out: &mut Vec<u8>, s: &[u8]) {
    for chunk in s.utf8_chunks() {
        for &b in chunk.valid().as_bytes() {
            match b {
                b'&' => out.extend_from_slice(b"&amp;"),
                b'<' => out.extend_from_slice(b"&lt;"),
                b'>' => out.extend_from_slice(b"&gt;"),
                b'"' => out.extend_from_slice(b"&#34;"),
                b'\'' => out.extend_from_slice(b"&#39;"),
                b'\t' | b'\n' | b'\r' => out.push(b),
                0..=0x1f | 0x7f => out.extend_from_slice("\u{fffd}".as_bytes()),
                _ => out.push(b),
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
}

#[cfg(test)]
mod tests;
