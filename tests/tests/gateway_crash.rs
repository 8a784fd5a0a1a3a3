//! Crash safety of `nodegate gateway`, black-box: client threads PUT, POST and DELETE over
//! keep-alive connections while the gateway is SIGKILLed at random moments and restarted on
//! the same `--persistence.file`. After each restart every group must be exactly as its last
//! acknowledged operation left it, or as the one operation in flight at the kill left it:
//! never a lost acknowledgement, never a push half applied, never a deleted group back.
//!
//! Each group belongs to one client thread, so its operations are sequential and at most one
//! is in flight when the process dies. Every series of a push carries the push's generation
//! number, and a push has 12 series per family, so a partly applied push shows as mixed
//! values. The seed is printed; `NODEGATE_CRASH_SEED` replays a run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use xtests::{get, Rng, Running};

const CLIENTS: usize = 4;
const GROUPS_PER_CLIENT: usize = 3;
const FAMILIES: [&str; 3] = ["crash_a", "crash_b", "crash_c"];
const SERIES: usize = 12;
const CYCLES: usize = 20;

/// A group's pushed state: family → generation; `None` for an absent group.
type State = Option<BTreeMap<&'static str, u64>>;

#[derive(Clone, Debug)]
enum Op {
    Put(u64, Vec<&'static str>),
    Post(u64, Vec<&'static str>),
    Delete,
}

impl Op {
    fn apply(&self, s: &State) -> State {
        match self {
            Op::Put(g, fams) => Some(fams.iter().map(|&f| (f, *g)).collect()),
            Op::Post(g, fams) => {
                let mut m = s.clone().unwrap_or_default();
                m.extend(fams.iter().map(|&f| (f, *g)));
                Some(m)
            }
            Op::Delete => None,
        }
    }
}

fn group_path(g: usize) -> String {
    format!("/metrics/job/crash/instance/g{g}")
}

fn request(op: &Op, g: usize) -> Vec<u8> {
    let (method, body) = match op {
        Op::Delete => ("DELETE", String::new()),
        Op::Put(gen, fams) | Op::Post(gen, fams) => {
            let mut body = String::new();
            for f in fams {
                body.push_str(&format!("# TYPE {f} gauge\n"));
                for s in 0..SERIES {
                    body.push_str(&format!("{f}{{s=\"{s}\"}} {gen}\n"));
                }
            }
            (if matches!(op, Op::Put(..)) { "PUT" } else { "POST" }, body)
        }
    };
    let mut req = format!(
        "{method} {} HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
        group_path(g),
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body.as_bytes());
    req
}

/// Reads one response's status from a keep-alive connection; `None` once the connection
/// breaks (the process died).
fn status(r: &mut BufReader<TcpStream>) -> Option<u16> {
    let mut line = String::new();
    r.read_line(&mut line).ok().filter(|&n| n > 0)?;
    let status = line.split(' ').nth(1)?.parse().ok()?;
    let mut len = 0;
    loop {
        line.clear();
        r.read_line(&mut line).ok().filter(|&n| n > 0)?;
        if line == "\r\n" {
            break;
        }
        if let Some((n, v)) = line.split_once(':') {
            if n.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(status)
}

/// What one client saw in one cycle: per group, the acknowledged ops in order and the op in
/// flight when the connection broke.
#[derive(Default)]
struct Seen {
    acked: Vec<(usize, Op)>,
    in_flight: Option<(usize, Op)>,
}

/// Runs ops on the client's groups until the connection breaks. `gens` is the client's
/// generation counter, carried across cycles so that every push is told apart.
fn client(addr: SocketAddr, t: usize, rng: &mut Rng, gen: &mut u64) -> Seen {
    let mut seen = Seen::default();
    let Ok(stream) = TcpStream::connect(addr) else { return seen };
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    loop {
        let g = t * GROUPS_PER_CLIENT + rng.below(GROUPS_PER_CLIENT);
        *gen += 1;
        let fams: Vec<&'static str> =
            FAMILIES.iter().copied().filter(|_| rng.below(3) != 0).collect();
        let fams = if fams.is_empty() { vec![FAMILIES[0]] } else { fams };
        let op = match rng.below(10) {
            0 => Op::Delete,
            1..=4 => Op::Put(*gen, fams),
            _ => Op::Post(*gen, fams),
        };
        let sent = w.write_all(&request(&op, g)).is_ok();
        match status(&mut r).filter(|_| sent) {
            Some(s) => {
                assert!((200..300).contains(&s), "client {t}: {op:?} on g{g} answered {s}");
                seen.acked.push((g, op));
            }
            None => {
                seen.in_flight = Some((g, op));
                return seen;
            }
        }
    }
}

/// Every group's state as the gateway exposes it; panics on a family whose series do not
/// all carry one generation (a half-applied push).
fn exposed(addr: SocketAddr, groups: usize) -> Vec<State> {
    let r = get(addr, "/metrics");
    assert_eq!(r.status, 200);
    let mut seen: Vec<BTreeMap<&'static str, Vec<u64>>> = vec![BTreeMap::new(); groups];
    for line in r.text().lines().filter(|l| l.starts_with("crash_")) {
        let fam = FAMILIES.iter().copied().find(|f| line.starts_with(&format!("{f}{{"))).unwrap();
        let g: usize =
            line.split("instance=\"g").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        let v = line.rsplit(' ').next().unwrap().parse::<f64>().unwrap() as u64;
        seen[g].entry(fam).or_default().push(v);
    }
    let mut present: Vec<bool> = vec![false; groups];
    for line in r.text().lines().filter(|l| l.starts_with("push_time_seconds{")) {
        let g: usize =
            line.split("instance=\"g").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
        present[g] = true;
    }
    seen.into_iter()
        .zip(present)
        .enumerate()
        .map(|(g, (fams, present))| {
            if !present {
                assert!(fams.is_empty(), "g{g}: series without a group");
                return None;
            }
            let state = fams
                .into_iter()
                .map(|(f, vs)| {
                    assert_eq!(vs.len(), SERIES, "g{g} {f}: a push half applied: {vs:?}");
                    assert!(vs.iter().all(|&v| v == vs[0]), "g{g} {f}: mixed generations {vs:?}");
                    (f, vs[0])
                })
                .collect();
            Some(state)
        })
        .collect()
}

#[test]
fn acknowledged_operations_survive_random_sigkills() {
    let seed = std::env::var("NODEGATE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
                as u64
                | 1
        });
    eprintln!("seed {seed} (NODEGATE_CRASH_SEED={seed} replays it)");
    let dir: PathBuf = std::env::temp_dir().join(format!("nodegate-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let args = ["gateway", "--persistence.file=state.db", "--persistence.interval=1s"];

    let groups = CLIENTS * GROUPS_PER_CLIENT;
    let mut model: Vec<State> = vec![None; groups];
    let mut rng = Rng::new(seed);
    let mut clients: Vec<(Rng, u64)> =
        (0..CLIENTS).map(|t| (Rng::new(rng.next_u64() | 1), (t as u64) << 40)).collect();
    let (mut acked, mut in_flight_applied, mut in_flight) = (0, 0, 0);
    let started = Instant::now();
    let mut gw = Running::start(&dir, &args);
    for cycle in 0..CYCLES {
        let addr = gw.addr;
        let run = Duration::from_millis(50 + rng.below(1400) as u64);
        let seen: Vec<Seen> = std::thread::scope(|s| {
            let handles: Vec<_> = clients
                .iter_mut()
                .enumerate()
                .map(|(t, (r, gen))| s.spawn(move || client(addr, t, r, gen)))
                .collect();
            std::thread::sleep(run);
            drop(gw); // SIGKILL
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // Fold what was acknowledged into the model; keep the in-flight ops as alternatives.
        let mut pending: Vec<Option<Op>> = vec![None; groups];
        for s in seen {
            acked += s.acked.len();
            for (g, op) in s.acked {
                model[g] = op.apply(&model[g]);
            }
            if let Some((g, op)) = s.in_flight {
                in_flight += 1;
                pending[g] = Some(op);
            }
        }
        gw = Running::start(&dir, &args);
        let got = exposed(gw.addr, groups);
        for g in 0..groups {
            if got[g] == model[g] {
                continue;
            }
            let alt = pending[g].as_ref().map(|op| op.apply(&model[g]));
            assert_eq!(
                Some(&got[g]),
                alt.as_ref(),
                "seed {seed} cycle {cycle} g{g}: neither the last acknowledged state {:?} nor \
                 the in-flight {:?}",
                model[g],
                pending[g]
            );
            in_flight_applied += 1;
            model[g] = got[g].clone();
        }
    }
    drop(gw);
    eprintln!(
        "{CYCLES} kills in {:.1} s: {acked} operations acknowledged, lost 0; {in_flight} in \
         flight at a kill, {in_flight_applied} of them applied whole, none half applied",
        started.elapsed().as_secs_f64()
    );
    assert!(acked > CYCLES * CLIENTS, "too few operations to mean anything: {acked}");
    let _ = std::fs::remove_dir_all(&dir);
}
