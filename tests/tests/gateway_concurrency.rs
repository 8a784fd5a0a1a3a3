//! Many clients at once against `nodegate gateway`: pushers PUT, POST and DELETE their groups
//! (and race each other with families of one name but different types), while scrapers
//! read text and protobuf expositions. Every scrape must be well-formed (200, no series
//! twice, one type per name); at the end the store must hold exactly what the answers the
//! pushers got imply.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use xtests::{get, send, Rng, Running};

const PUSHERS: usize = 6;
const OPS: usize = 120;
const GROUPS: usize = 4;

/// family name → (type, value) of one group.
type Model = BTreeMap<String, (&'static str, u64)>;

fn pusher(addr: std::net::SocketAddr, t: usize) -> BTreeMap<String, Option<Model>> {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15 ^ ((t as u64 + 1) * 0x1234_5678));
    let mut model: BTreeMap<String, Option<Model>> = BTreeMap::new();
    for op in 0..OPS {
        let job = format!("t{t}g{}", rng.below(GROUPS));
        let path = format!("/metrics/job/{job}");
        let choice = rng.below(10);
        if choice == 0 {
            let r = send(addr, "DELETE", &path, &[], b"");
            assert_eq!(r.status, 202);
            model.insert(job, None);
            continue;
        }
        let put = choice < 5;
        // Some families of its own, a shared name of one type, and a racing name whose type
        // depends on the thread.
        let mut fams: Model = BTreeMap::new();
        for f in 0..rng.below(3) + 1 {
            fams.insert(format!("f_{}", rng.below(5) + f), ("untyped", op as u64));
        }
        fams.insert("shared_total".into(), ("counter", op as u64));
        if rng.below(3) == 0 {
            let kind = if t % 2 == 0 { "counter" } else { "gauge" };
            fams.insert("clash".into(), (kind, op as u64));
        }
        let mut body = String::new();
        for (name, (kind, v)) in &fams {
            body.push_str(&format!("# TYPE {name} {kind}\n{name} {v}\n"));
        }
        let method = if put { "PUT" } else { "POST" };
        let r = send(addr, method, &path, &[], body.as_bytes());
        match r.status {
            200 => {
                let entry = model.entry(job).or_insert(None);
                let group = entry.get_or_insert_with(BTreeMap::new);
                if put {
                    group.clear();
                }
                group.extend(fams);
            }
            400 => {
                let text = r.text();
                assert!(text.contains("collected metric \"clash\""), "{text}");
                // A failed push creates its group (with no family) if it was new.
                model.entry(job).or_insert(None).get_or_insert_with(BTreeMap::new);
            }
            s => panic!("{method} {path}: {s} {}", r.text()),
        }
    }
    model
}

/// Checks one text exposition: one TYPE per name, no series twice.
fn well_formed(text: &str) {
    let mut types = std::collections::HashSet::new();
    let mut series = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split(' ').next().unwrap();
            assert!(types.insert(name.to_owned()), "two TYPE lines for {name}");
        } else if !line.starts_with('#') {
            let (s, _) = line.rsplit_once(' ').unwrap();
            assert!(series.insert(s.to_owned()), "{s} twice");
        }
    }
}

#[test]
fn concurrent_pushes_deletes_and_scrapes() {
    let dir = std::env::temp_dir().join(format!("nodegate-gw-conc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let gw = Running::start(&dir, &["gateway"]);
    let addr = gw.addr;
    let done = Arc::new(AtomicBool::new(false));
    let scrapers: Vec<_> = (0..2)
        .map(|i| {
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut n = 0;
                while !done.load(Ordering::Relaxed) {
                    if i == 0 {
                        let r = get(addr, "/metrics");
                        assert_eq!(r.status, 200);
                        well_formed(&r.text());
                    } else {
                        let accept = "application/vnd.google.protobuf; \
                                      proto=io.prometheus.client.MetricFamily; encoding=delimited";
                        let r = send(addr, "GET", "/metrics", &[("Accept", accept)], b"");
                        assert_eq!(r.status, 200);
                        let mut rest = &r.body[..];
                        while let Some((_, tail)) = gateway::proto::next_delimited(rest).unwrap() {
                            rest = tail;
                        }
                    }
                    n += 1;
                }
                n
            })
        })
        .collect();
    let pushers: Vec<_> =
        (0..PUSHERS).map(|t| std::thread::spawn(move || pusher(addr, t))).collect();
    let mut model = BTreeMap::new();
    for p in pushers {
        model.extend(p.join().unwrap());
    }
    done.store(true, Ordering::Relaxed);
    let scrapes: usize = scrapers.into_iter().map(|s| s.join().unwrap()).sum();
    assert!(scrapes > 0);

    let text = get(addr, "/metrics").text();
    well_formed(&text);
    let mut want: Vec<String> = Vec::new();
    for (job, group) in &model {
        let Some(group) = group else { continue };
        want.push(format!("push_time_seconds{{instance=\"\",job=\"{job}\"}}"));
        for (name, (_, v)) in group {
            want.push(format!("{name}{{instance=\"\",job=\"{job}\"}} {v}"));
        }
    }
    want.sort();
    let mut got: Vec<String> = text
        .lines()
        .filter(|l| {
            ["f_", "shared_total", "clash"].iter().any(|p| l.starts_with(p))
                || l.starts_with("push_time_seconds{")
        })
        .map(|l| match l.starts_with("push_time_seconds") {
            true => l.rsplit_once(' ').unwrap().0.to_owned(),
            false => l.to_owned(),
        })
        .collect();
    got.sort();
    assert_eq!(got, want);
    let clash_types: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE clash ")).collect();
    assert!(clash_types.len() <= 1);
}
