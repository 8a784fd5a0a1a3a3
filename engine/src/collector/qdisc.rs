//! Queueing disciplines → `node_qdisc_{bytes,packets,drops,requeues,overlimits}_total`,
//! `node_qdisc_current_queue_length` and `node_qdisc_backlog`, labelled `{device,kind}`;
//! node_exporter's qdisc collector (off by default).
//!
//! A rtnetlink `RTM_GETQDISC` dump (tc(8), rtnetlink(7); `struct tcmsg` and the `TCA_*`
//! attributes of include/uapi/linux/rtnetlink.h and gen_stats.h), as the ema/qdisc library
//! upstream uses reads it: the kind from `TCA_KIND`; the counters from `TCA_STATS2`'s
//! `TCA_STATS_BASIC` and `TCA_STATS_QUEUE`, then from the legacy `struct tc_stats` in
//! `TCA_STATS` (the later attribute wins, and only `TCA_STATS2` carries requeues). Only root
//! qdiscs are reported (parent `TC_H_ROOT`), their devices named from a `RTM_GETLINK` dump.
//!
//! With `--collector.qdisc.fixtures=<dir>` it reads `<dir>/results.json` instead, upstream's
//! end-to-end fixture: a JSON array of the library's `QdiscInfo` structs
//! (`{"IfaceName": "wlan0", "Kind": "fq", "Bytes": 42, ...}`).

use super::device_filter::DeviceFilter;
use super::gojson::{self, GoStruct, JsonError, Str};
use super::{nl, Build, Collector, Error, Flag, FlagKind, Spec};
use crate::encode::{Encoder, FamilyId, Kind};
use crate::netlink::route::{
    LinkNames, RTM_GETQDISC, TCA_KIND, TCA_STATS, TCA_STATS2, TCA_STATS_BASIC, TCA_STATS_QUEUE,
    TCMSG_LEN,
};
use crate::netlink::{self, ne_u32, ne_u64, trim_nul, Attrs, Protocol, Socket};
use crate::source::{self, Entries};
use serde::de::MapAccess;
use std::convert::Infallible;
use std::ffi::CString;
use std::path::Path;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "qdisc", default_enabled: false, flags: FLAGS, blocking: false, build };

const FIXTURES: &str = "collector.qdisc.fixtures";
const INCLUDE: &str = "collector.qdisc.device-include";
const INCLUDE_OLD: &str = "collector.qdisk.device-include";
const EXCLUDE: &str = "collector.qdisc.device-exclude";
const EXCLUDE_OLD: &str = "collector.qdisk.device-exclude";

const FLAGS: &[Flag] = &[
    Flag {
        name: FIXTURES,
        help: "test fixtures to use for qdisc collector end-to-end testing",
        kind: FlagKind::String,
        default: "",
        aliases: &[],
    },
    Flag {
        name: INCLUDE,
        help: "Regexp of qdisc devices to include (mutually exclusive to device-exclude).",
        kind: FlagKind::Regex,
        default: "",
        aliases: &[INCLUDE_OLD],
    },
    Flag {
        name: EXCLUDE,
        help: "Regexp of qdisc devices to exclude (mutually exclusive to device-include).",
        kind: FlagKind::Regex,
        default: "",
        aliases: &[EXCLUDE_OLD],
    },
];

const GETQDISC: &str = "rtnetlink RTM_GETQDISC";
const GETLINK: &str = "rtnetlink RTM_GETLINK";
const FIXTURE: &str = "qdisc fixtures results.json";

/// `TC_H_ROOT`: the parent of a device's root qdisc, which the library reports as 0.
const TC_H_ROOT: u32 = u32::MAX;

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let filter =
        DeviceFilter::from_flags(b.settings, (INCLUDE, INCLUDE_OLD), (EXCLUDE, EXCLUDE_OLD))?;
    let source = match b.settings.str(FIXTURES) {
        "" => Source::Netlink {
            sock: Socket::new(Protocol::Route),
            reply: Vec::new(),
            links: LinkNames::new(),
        },
        dir => Source::Fixture {
            path: source::c_path(&Path::new(dir).join("results.json")),
            buf: Vec::new(),
        },
    };
    Ok(Box::new(Qdisc { source, filter, ignored: Entries::new() }))
}

#[derive(Debug)]
enum Source {
    Netlink {
        sock: Socket,
        reply: Vec<u8>,
        links: LinkNames,
    },
    /// Upstream's JSON fixture, read afresh each scrape as upstream reads it.
    Fixture {
        path: CString,
        buf: Vec<u8>,
    },
}

#[derive(Debug)]
struct Qdisc {
    source: Source,
    filter: DeviceFilter,
    /// The filter's verdict per device, kept while the device has qdiscs.
    ignored: Entries<bool>,
}

/// One qdisc as the library reports it: the fields upstream exports.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Info<'a> {
    /// The device's name (empty when its index has no link).
    pub device: &'a [u8],
    /// `TCA_KIND`.
    pub kind: &'a [u8],
    /// `tcm_parent`, with `TC_H_ROOT` read as 0.
    pub parent: u32,
    /// Bytes sent.
    pub bytes: u64,
    /// Packets sent.
    pub packets: u32,
    /// Packets dropped.
    pub drops: u32,
    /// Packets requeued.
    pub requeues: u32,
    /// Overlimit events.
    pub overlimits: u32,
    /// Packets queued now.
    pub qlen: u32,
    /// Bytes queued now.
    pub backlog: u32,
}

/// The seven families, declared once per scrape.
struct Families([FamilyId; 7]);

impl Families {
    fn declare(enc: &mut Encoder) -> Families {
        let c = Kind::Counter;
        Families([
            enc.family("node_qdisc_bytes_total", "Number of bytes sent.", c),
            enc.family("node_qdisc_packets_total", "Number of packets sent.", c),
            enc.family("node_qdisc_drops_total", "Number of packets dropped.", c),
            enc.family(
                "node_qdisc_requeues_total",
                "Number of packets dequeued, not transmitted, and requeued.",
                c,
            ),
            enc.family("node_qdisc_overlimits_total", "Number of overlimit packets.", c),
            enc.family(
                "node_qdisc_current_queue_length",
                "Number of packets currently in queue to be sent.",
                Kind::Gauge,
            ),
            enc.family(
                "node_qdisc_backlog",
                "Number of bytes currently in queue to be sent.",
                Kind::Gauge,
            ),
        ])
    }

    fn emit(&self, enc: &mut Encoder, q: &Info<'_>) {
        let labels = [("device", q.device), ("kind", q.kind)];
        let values = [
            q.bytes,
            q.packets.into(),
            q.drops.into(),
            q.requeues.into(),
            q.overlimits.into(),
            q.qlen.into(),
            q.backlog.into(),
        ];
        for (&f, v) in self.0.iter().zip(values) {
            enc.sample_u64(f, &labels, v);
        }
    }
}

impl Collector for Qdisc {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Qdisc { source, filter, ignored } = self;
        let fams = Families::declare(enc);
        ignored.begin();
        let mut report = |enc: &mut Encoder, q: &Info<'_>| {
            // Only root qdiscs, as upstream.
            if q.parent == 0
                && !*ignored.get_or_insert_with(q.device, || filter.is_ignored(q.device))
            {
                fams.emit(enc, q);
            }
        };
        let cp = enc.checkpoint();
        let r = match source {
            Source::Netlink { sock, reply, links } => {
                let msgs = sock
                    .dump_all(RTM_GETQDISC, &[0; TCMSG_LEN], reply)
                    .map_err(nl::error(GETQDISC))?;
                links.load(sock).map_err(nl::error(GETLINK))?;
                msgs.into_iter().try_for_each(|msg| {
                    let q = parse(msg.payload, links).map_err(nl::error(GETQDISC))?;
                    report(enc, &q);
                    Ok(())
                })
            }
            Source::Fixture { path, buf } => {
                source::read_once(path, buf).map_err(Error::read(FIXTURE))?;
                gojson::for_each(buf, |j: Json<'_>| {
                    report(enc, &j.info());
                    Ok::<(), Infallible>(())
                })
                .map_err(|e| match e {
                    JsonError::Json(err) => Error::Parse { path: FIXTURE, err },
                    JsonError::Stop(never) => match never {},
                })
            }
        };
        if r.is_err() {
            enc.rollback(cp);
        } else {
            ignored.end();
        }
        r
    }
}

/// Reads one `RTM_NEWQDISC` message (`tcmsg` + attributes), naming its device from `links`.
///
/// # Errors
/// A message shorter than a `tcmsg`, attributes not framed right, or a statistics
/// attribute too short for its struct (where the library would panic).
pub fn parse<'a>(payload: &'a [u8], links: &'a LinkNames) -> Result<Info<'a>, netlink::Error> {
    let short = netlink::Error::Malformed;
    let msg = netlink::Message { ty: 0, flags: 0, payload };
    let (hdr, attrs) = msg.split(TCMSG_LEN)?;
    let parent = match ne_u32(hdr, 12).unwrap_or(0) {
        TC_H_ROOT => 0,
        p => p,
    };
    let device = links.name(ne_u32(hdr, 4).unwrap_or(0)).unwrap_or(b"");
    let mut q = Info { device, parent, ..Info::default() };
    for a in attrs {
        let a = a?;
        match a.ty {
            TCA_KIND => q.kind = trim_nul(a.data),
            TCA_STATS2 => {
                // The library walks the nest twice: strictly for fq's own statistics, then
                // for the basic and queue counters, which it zeroes when absent.
                a.nested().check()?;
                let (mut bytes, mut packets) = (0, 0);
                let mut queue = [0u32; 5];
                for s in Attrs::new(a.data) {
                    let s = s?;
                    match s.ty {
                        TCA_STATS_BASIC => {
                            bytes = ne_u64(s.data, 0).ok_or(short("short TCA_STATS_BASIC"))?;
                            packets = ne_u32(s.data, 8).ok_or(short("short TCA_STATS_BASIC"))?;
                        }
                        TCA_STATS_QUEUE => {
                            for (i, v) in queue.iter_mut().enumerate() {
                                *v = ne_u32(s.data, 4 * i).ok_or(short("short TCA_STATS_QUEUE"))?;
                            }
                        }
                        _ => {}
                    }
                }
                let [qlen, backlog, drops, requeues, overlimits] = queue;
                q = Info { bytes, packets, qlen, backlog, drops, requeues, overlimits, ..q };
            }
            TCA_STATS => {
                // struct tc_stats: bytes, packets, drops, overlimits, bps, pps, qlen, backlog.
                let v = |i: usize| ne_u32(a.data, 8 + 4 * i).ok_or(short("short TCA_STATS"));
                q.bytes = ne_u64(a.data, 0).ok_or(short("short TCA_STATS"))?;
                q.packets = v(0)?;
                q.drops = v(1)?;
                q.overlimits = v(2)?;
                q.qlen = v(5)?;
                q.backlog = v(6)?;
            }
            _ => {}
        }
    }
    Ok(q)
}

/// The library's `QdiscInfo` as upstream's fixture holds it.
#[derive(Debug, Default)]
struct Json<'a> {
    iface_name: Str<'a>,
    kind: Str<'a>,
    parent: u32,
    bytes: u64,
    packets: u32,
    drops: u32,
    requeues: u32,
    overlimits: u32,
    qlen: u32,
    backlog: u32,
}

impl Json<'_> {
    fn info(&self) -> Info<'_> {
        Info {
            device: self.iface_name.0.as_bytes(),
            kind: self.kind.0.as_bytes(),
            parent: self.parent,
            bytes: self.bytes,
            packets: self.packets,
            drops: self.drops,
            requeues: self.requeues,
            overlimits: self.overlimits,
            qlen: self.qlen,
            backlog: self.backlog,
        }
    }
}

impl<'de> GoStruct<'de> for Json<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<bool, A::Error> {
        let (mut handle, mut u64_unused) = (0u32, 0u64);
        let is = |name: &str| key.eq_ignore_ascii_case(name);
        match () {
            _ if is("IfaceName") => gojson::set(&mut self.iface_name, map)?,
            _ if is("Kind") => gojson::set(&mut self.kind, map)?,
            _ if is("Parent") => gojson::set(&mut self.parent, map)?,
            _ if is("Bytes") => gojson::set(&mut self.bytes, map)?,
            _ if is("Packets") => gojson::set(&mut self.packets, map)?,
            _ if is("Drops") => gojson::set(&mut self.drops, map)?,
            _ if is("Requeues") => gojson::set(&mut self.requeues, map)?,
            _ if is("Overlimits") => gojson::set(&mut self.overlimits, map)?,
            _ if is("Qlen") => gojson::set(&mut self.qlen, map)?,
            _ if is("Backlog") => gojson::set(&mut self.backlog, map)?,
            // Fields upstream does not export, read for their type checks.
            _ if is("Handle") => gojson::set(&mut handle, map)?,
            _ if ["GcFlows", "Throttled", "FlowsPlimit"].iter().any(|n| is(n)) => {
                gojson::set(&mut u64_unused, map)?
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        assert_matches_e2e, build as build_spec, fixtures, put, render, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::netlink::route::TCA_STATS_APP;
    use crate::netlink::testing::{attr, done, message};
    use crate::netlink::Messages;
    use crate::source::Paths;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let mut s = Settings::new();
        for (k, v) in pairs {
            s.set(k, *v);
        }
        s
    }

    #[test]
    fn fixture_matches_upstream() {
        let Some(root) = fixtures() else { return };
        let dir = root.join("qdisc").to_string_lossy().into_owned();
        let s = settings(&[(FIXTURES, &dir), (INCLUDE, "(wlan0|eth0)")]);
        let mut c = build_spec(&SPEC, &Paths::under(&root), &s).unwrap();
        for _ in 0..2 {
            assert_matches_e2e(&scrape(c.as_mut()));
        }
    }

    #[test]
    fn fixture_rules() {
        let root = tmpdir("qdisc-json");
        let dir = root.to_string_lossy().into_owned();
        let mut c = build_spec(&SPEC, &Paths::default(), &settings(&[(FIXTURES, &dir)])).unwrap();
        assert!(matches!(try_scrape(c.as_mut()), Err(Error::Read { .. })), "no results.json");
        put(
            &root,
            "results.json",
            r#"[{"ifacename":"eth0","kind":"fq","parent":1,"bytes":5},
            {"IfaceName":"eth1","Kind":"fq","Bytes":7,"Handle":65536,"GcFlows":3}, null]"#,
        );
        let text = scrape(c.as_mut());
        assert!(text.contains("node_qdisc_bytes_total{device=\"eth1\",kind=\"fq\"} 7\n"));
        assert!(!text.contains("eth0"), "not a root qdisc");
        // The zero struct of a null element: a root qdisc of no device and no kind.
        assert!(text.contains("node_qdisc_bytes_total{device=\"\",kind=\"\"} 0\n"), "{text}");
        for bad in ["", "{}", r#"[{"Bytes":-1}]"#, r#"[{"Packets":4294967296}]"#, "[{}] x"] {
            put(&root, "results.json", bad);
            assert!(matches!(try_scrape(c.as_mut()), Err(Error::Parse { .. })), "{bad:?}");
        }
        put(&root, "results.json", "null");
        assert_eq!(scrape(c.as_mut()), "");
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn links() -> LinkNames {
        let mut l = LinkNames::new();
        l.push(1, b"lo");
        l.push(2, b"eth0");
        l.finish();
        l
    }

    fn tcmsg(index: u32, parent: u32, attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut p = vec![0u8; TCMSG_LEN];
        p[4..8].copy_from_slice(&index.to_ne_bytes());
        p[8..12].copy_from_slice(&0x10000u32.to_ne_bytes());
        p[12..16].copy_from_slice(&parent.to_ne_bytes());
        for (ty, data) in attrs {
            attr(&mut p, *ty, data);
        }
        p
    }

    fn stats2(basic: Option<(u64, u32)>, queue: Option<[u32; 5]>) -> Vec<u8> {
        let mut n = Vec::new();
        if let Some((b, p)) = basic {
            let mut d = b.to_ne_bytes().to_vec();
            d.extend_from_slice(&p.to_ne_bytes());
            d.extend_from_slice(&[0; 4]);
            attr(&mut n, TCA_STATS_BASIC, &d);
        }
        if let Some(q) = queue {
            let d: Vec<u8> = q.iter().flat_map(|v| v.to_ne_bytes()).collect();
            attr(&mut n, TCA_STATS_QUEUE, &d);
        }
        attr(&mut n, TCA_STATS_APP, &[0; 8]);
        n
    }

    fn tc_stats(bytes: u64, v: [u32; 7]) -> Vec<u8> {
        let mut d = bytes.to_ne_bytes().to_vec();
        d.extend(v.iter().flat_map(|x| x.to_ne_bytes()));
        d.extend_from_slice(&[0; 4]);
        d
    }

    #[test]
    fn messages_as_the_library_reads_them() {
        let l = links();
        let p = tcmsg(
            2,
            TC_H_ROOT,
            &[
                (TCA_KIND, b"fq_codel\0".to_vec()),
                (TCA_STATS2, stats2(Some((1000, 10)), Some([1, 2, 3, 4, 5]))),
            ],
        );
        let q = parse(&p, &l).unwrap();
        let want = Info {
            device: b"eth0",
            kind: b"fq_codel",
            parent: 0,
            bytes: 1000,
            packets: 10,
            qlen: 1,
            backlog: 2,
            drops: 3,
            requeues: 4,
            overlimits: 5,
        };
        assert_eq!(q, want);
        // The legacy struct after TCA_STATS2 overrides all but requeues.
        let p = tcmsg(
            2,
            TC_H_ROOT,
            &[
                (TCA_STATS2, stats2(Some((1000, 10)), Some([1, 2, 3, 4, 5]))),
                (TCA_STATS, tc_stats(9, [90, 91, 92, 93, 94, 95, 96])),
            ],
        );
        let q = parse(&p, &l).unwrap();
        assert_eq!((q.bytes, q.packets, q.drops, q.overlimits), (9, 90, 91, 92));
        assert_eq!((q.qlen, q.backlog, q.requeues), (95, 96, 4));
        // TCA_STATS2 without its parts zeroes the counters; unknown index: no name.
        let p = tcmsg(
            9,
            7,
            &[
                (TCA_STATS, tc_stats(9, [90, 91, 92, 93, 94, 95, 96])),
                (TCA_STATS2, stats2(None, None)),
            ],
        );
        let q = parse(&p, &l).unwrap();
        assert_eq!(q, Info { parent: 7, ..Info::default() });

        for bad in [
            vec![0u8; TCMSG_LEN - 1],
            tcmsg(2, 0, &[(TCA_STATS, vec![0; 35])]),
            tcmsg(2, 0, &[(TCA_STATS2, vec![12, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])]),
            tcmsg(2, 0, &[(TCA_STATS2, vec![8, 0, 3, 0, 0, 0, 0, 0])]),
            tcmsg(2, 0, &[(TCA_STATS2, vec![40, 0, 3, 0])]),
            {
                let mut p = tcmsg(2, 0, &[]);
                p.extend_from_slice(&[9, 0, 1, 0, b'f']);
                p
            },
        ] {
            assert!(parse(&bad, &l).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn dump_scan_filters_roots() {
        let l = links();
        let mut d = Vec::new();
        let stats = stats2(Some((5, 1)), Some([0; 5]));
        message(&mut d, 36, 1, &tcmsg(1, TC_H_ROOT, &[(TCA_KIND, b"noqueue\0".to_vec())]));
        message(
            &mut d,
            36,
            1,
            &tcmsg(2, TC_H_ROOT, &[(TCA_KIND, b"mq\0".to_vec()), (TCA_STATS2, stats)]),
        );
        message(&mut d, 36, 1, &tcmsg(2, 0x10001, &[(TCA_KIND, b"fq\0".to_vec())]));
        done(&mut d, 1);
        let text = render(|enc| {
            let fams = Families::declare(enc);
            for msg in Messages::new(&d) {
                let q = parse(msg.payload, &l).unwrap();
                if q.parent == 0 {
                    fams.emit(enc, &q);
                }
            }
        });
        assert!(text.contains("node_qdisc_bytes_total{device=\"eth0\",kind=\"mq\"} 5\n"));
        assert!(text.contains("node_qdisc_bytes_total{device=\"lo\",kind=\"noqueue\"} 0\n"));
        assert!(!text.contains("kind=\"fq\""));
    }

    #[test]
    fn flags() {
        let err = |pairs: &[(&str, &str)]| {
            build_spec(&SPEC, &Paths::default(), &settings(pairs)).err().unwrap_or_default()
        };
        assert!(err(&[(INCLUDE, "a"), (EXCLUDE, "b")]).contains("mutually exclusive"));
        assert!(err(&[(INCLUDE_OLD, "a"), (INCLUDE, "b")]).contains(INCLUDE_OLD));
        assert!(err(&[(EXCLUDE, "(")]).contains(EXCLUDE));
        assert_eq!(err(&[(INCLUDE_OLD, "a")]), "");
    }

    #[test]
    fn live_host() {
        for s in [settings(&[]), settings(&[(INCLUDE, "^lo$")])] {
            let mut c = build_spec(&SPEC, &Paths::default(), &s).unwrap();
            for _ in 0..2 {
                let text = scrape(c.as_mut());
                assert!(text
                    .lines()
                    .filter(|l| !l.starts_with('#'))
                    .all(|l| l.contains("device=")));
            }
        }
    }
}
