//! Each scanner in bytes per second, on the text a dense host's kernel writes (192 CPUs,
//! 256 disks, 1,024 interfaces: [`DenseHost::TARGET`]). Files whose size grows with the host
//! are generated in the kernel's formats; files whose size does not (meminfo, vmstat, netstat,
//! zoneinfo, ...) are read from this host's /proc, with a short sample in the same format where
//! the file is missing. Each iteration scans one file into a cleared encoder and writes the
//! exposition, as a scrape does; the pure parsers (pressure, conntrack, arp) run alone.

use benches::DenseHost;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engine::collector::diskstats::{self, Lookup, Row, UdevInfo};
use engine::collector::{
    arp, buddyinfo, cgroups, conntrack, cpu, filefd, interrupts, lnstat, loadavg, meminfo, netdev,
    netstat, pressure, schedstat, slabinfo, sockstat, softirqs, softnet, stat, vmstat, zoneinfo,
};
use engine::encode::Encoder;
use engine::textparse::Store;
use regex::Regex;
use std::fmt::Write as _;
use std::hint::black_box;

const HOST: DenseHost = DenseHost::TARGET;

/// A textfile-sized exposition: 2,000 series in 100 families.
fn exposition() -> String {
    let mut s = String::new();
    for f in 0..100 {
        let _ = writeln!(s, "# HELP batch_job_metric_{f} A metric a batch job wrote.\n# TYPE batch_job_metric_{f} gauge");
        for i in 0..20 {
            let _ =
                writeln!(s, "batch_job_metric_{f}{{job=\"etl\",shard=\"{i}\"}} {}.5", f * 1000 + i);
        }
    }
    s
}

/// A `/proc/net/stat/*` file: the header, then a line of hex counters per CPU.
fn per_cpu_stat(header: &str) -> String {
    let fields = header.split_whitespace().count();
    let mut s = format!("{header}\n");
    for c in 0..HOST.cpus {
        let row: Vec<String> = (0..fields).map(|f| format!("{:08x}", c * 131 + f * 7)).collect();
        let _ = writeln!(s, "{}", row.join(" "));
    }
    s
}

/// `/proc/net/arp` with 4,096 neighbours over the first 64 interfaces.
fn proc_net_arp() -> String {
    let mut s = String::from(
        "IP address       HW type     Flags       HW address            Mask     Device\n",
    );
    for n in 0..4096 {
        let _ = writeln!(
            s,
            "10.{}.{}.{:<10} 0x1         0x2         02:42:ac:11:{:02x}:{:02x}     *        veth{:07x}",
            n >> 16,
            (n >> 8) & 255,
            n & 255,
            (n >> 8) & 255,
            n & 255,
            n % 64
        );
    }
    s
}

fn live_or(path: &str, fallback: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|_| fallback.to_owned())
}

/// Every disk is reported, without udev properties.
struct AllDisks(UdevInfo);

impl Lookup for AllDisks {
    fn lookup(&mut self, _: &Row<'_>) -> Option<&UdevInfo> {
        Some(&self.0)
    }
}

fn bench_one(c: &mut Criterion, name: &str, src: &[u8], mut scan: impl FnMut(&[u8], &mut Encoder)) {
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(src.len() as u64));
    let mut enc = Encoder::new();
    let mut out = Vec::new();
    g.bench_function(name, |b| {
        b.iter(|| {
            enc.clear();
            scan(black_box(src), &mut enc);
            out.clear();
            enc.finish(&mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

/// A parser that returns its result rather than encoding it.
fn bench_parse<T>(c: &mut Criterion, name: &str, src: &[u8], mut parse: impl FnMut(&[u8]) -> T) {
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(src.len() as u64));
    g.bench_function(name, |b| b.iter(|| black_box(parse(black_box(src)))));
    g.finish();
}

fn per_cpu(c: &mut Criterion) {
    let stat_src = HOST.proc_stat();
    bench_one(c, "stat", stat_src.as_bytes(), |s, enc| stat::scan(s, enc, true).unwrap());
    bench_one(c, "cpu_stat", stat_src.as_bytes(), |s, _| {
        let _ = stat::parse(s, |cpu, times| {
            black_box((cpu, times));
        })
        .unwrap();
    });
    let filters = cpu::InfoFilters {
        frequency: true,
        flags: Some(Regex::new("^(aes|avx.?|constant_tsc)$").unwrap()),
        bugs: Some(Regex::new("^(spectre_.*|mds)$").unwrap()),
    };
    bench_one(c, "cpuinfo", HOST.proc_cpuinfo().as_bytes(), |s, enc| {
        cpu::scan_info(s, enc, &filters).unwrap()
    });
    bench_one(c, "schedstat", HOST.proc_schedstat().as_bytes(), schedstat::scan);
    bench_one(c, "softirqs", HOST.proc_softirqs().as_bytes(), |s, enc| {
        softirqs::scan(s, enc).unwrap()
    });
    bench_one(c, "softnet", HOST.proc_softnet_stat().as_bytes(), |s, enc| {
        softnet::scan(s, enc).unwrap()
    });
    let mut scratch = interrupts::Scratch::default();
    bench_one(c, "interrupts", HOST.proc_interrupts().as_bytes(), |s, enc| {
        interrupts::scan(s, enc, &mut scratch).unwrap()
    });
    let arp_cache = per_cpu_stat(
        "entries  allocs destroys hash_grows  lookups hits  res_failed  rcv_probes_mcast \
         rcv_probes_ucast  periodic_gc_runs forced_gc_runs unresolved_discards table_fulls",
    );
    let mut header = lnstat::Header::default();
    bench_one(c, "lnstat", arp_cache.as_bytes(), |s, enc| {
        lnstat::scan(s, b"arp_cache", enc, &mut header).unwrap()
    });
    let nf = per_cpu_stat(
        "entries  searched found new invalid ignore delete delete_list insert insert_failed drop \
         early_drop icmp_error  expect_new expect_create expect_delete search_restart",
    );
    bench_parse(c, "conntrack_stat", nf.as_bytes(), |s| conntrack::scan(s).unwrap());
}

fn per_device(c: &mut Criterion) {
    let mut disks = AllDisks(UdevInfo::default());
    bench_one(c, "diskstats", HOST.proc_diskstats().as_bytes(), |s, enc| {
        diskstats::scan(s, enc, &mut disks).unwrap()
    });
    bench_one(c, "netdev", HOST.proc_net_dev().as_bytes(), |s, enc| {
        netdev::scan(s, enc, &netdev::LEGACY, |_| false).unwrap()
    });
    bench_parse(c, "arp", proc_net_arp().as_bytes(), |s| {
        let mut n = 0usize;
        arp::scan(s, |dev| n += dev.len()).unwrap();
        n
    });
}

fn fixed_size(c: &mut Criterion) {
    let src = live_or("/proc/meminfo", "MemTotal:       16318664 kB\nMemFree:  1 kB\n");
    bench_one(c, "meminfo", src.as_bytes(), |s, enc| meminfo::scan(s, enc).unwrap());
    let src = live_or("/proc/vmstat", "nr_free_pages 2237429\npgfault 98237465\n");
    let re = Regex::new("^(oom_kill|pgpg|pswp|pg.*fault).*").unwrap();
    let mut fields = vmstat::Fields::new(Some(re));
    bench_one(c, "vmstat", src.as_bytes(), |s, enc| vmstat::scan(s, enc, &mut fields).unwrap());
    bench_one(c, "loadavg", b"0.21 0.37 0.39 1/719 19737\n", |s, enc| {
        loadavg::scan(s, enc).unwrap()
    });
    bench_one(c, "filefd", b"1024\t0\t1631329\n", |s, enc| filefd::scan(s, enc).unwrap());
    let files = [
        live_or(
            "/proc/net/netstat",
            "TcpExt: SyncookiesSent SyncookiesRecv ListenOverflows ListenDrops\n\
             TcpExt: 0 0 3 3\nIpExt: InNoRoutes InOctets OutOctets\nIpExt: 0 928374 827364\n",
        ),
        live_or(
            "/proc/net/snmp",
            "Ip: Forwarding DefaultTTL InReceives\nIp: 1 64 928374\n\
             Tcp: RtoAlgorithm RtoMin ActiveOpens CurrEstab\nTcp: 1 200 2837 12\n",
        ),
        live_or("/proc/net/snmp6", "Ip6InReceives                   \t7\nUdp6InErrors \t0\n"),
    ];
    let mut plan = netstat::Plan::default();
    let fields =
        Regex::new("^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$").unwrap();
    let total = files.iter().map(String::len).sum::<usize>();
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(total as u64));
    let mut enc = Encoder::new();
    let mut out = Vec::new();
    g.bench_function("netstat", |b| {
        b.iter(|| {
            enc.clear();
            let srcs = [files[0].as_bytes(), files[1].as_bytes(), files[2].as_bytes()];
            netstat::scan(black_box(srcs), &mut enc, &mut plan, Some(&fields)).unwrap();
            out.clear();
            enc.finish(&mut out);
            black_box(out.len())
        })
    });
    g.finish();
    let src = live_or(
        "/proc/net/sockstat",
        "sockets: used 229\nTCP: inuse 4 orphan 0 tw 4 alloc 17 mem 1\nUDP: inuse 0 mem 0\n\
         UDPLITE: inuse 0\nRAW: inuse 0\nFRAG: inuse 0 memory 0\n",
    );
    bench_one(c, "sockstat", src.as_bytes(), |s, enc| sockstat::scan(s, enc, false, 4096).unwrap());
    let src = live_or(
        "/proc/buddyinfo",
        "Node 0, zone      DMA      1      0      1      0      2      1      1      0      1      1      3\n\
         Node 0, zone    DMA32    759    572    791    475    194     45     12      0      0      0      0\n\
         Node 0, zone   Normal   4381   1093    185   1530    567    102      4      0      0      0      0\n",
    );
    bench_one(c, "buddyinfo", src.as_bytes(), |s, enc| buddyinfo::scan(s, enc).unwrap());
    let src = live_or(
        "/proc/zoneinfo",
        "Node 0, zone      DMA\n  per-node stats\n      nr_inactive_anon 230981\n  \
         pages free     2949\n        min      8\n        low      11\n        high     14\n        \
         spanned  4095\n        present  3997\n        managed  3973\n        protection: (0, 2039, \
         31932, 31932, 31932)\n      nr_free_pages 2949\n  start_pfn:           1\n",
    );
    let mut scratch = zoneinfo::Scratch::default();
    bench_one(c, "zoneinfo", src.as_bytes(), |s, enc| zoneinfo::scan(s, enc, &mut scratch));
    let src = live_or(
        "/proc/slabinfo",
        "slabinfo - version: 2.1\n# name            <active_objs> <num_objs> <objsize> \
         <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata \
         <active_slabs> <num_slabs> <sharedavail>\next4_groupinfo_4k   4176   4176    168   24    1 \
         : tunables    0    0    0 : slabdata    174    174      0\n",
    );
    bench_one(c, "slabinfo", src.as_bytes(), |s, enc| slabinfo::scan(s, enc).unwrap());
    let src = live_or(
        "/proc/cgroups",
        "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t56\t1\ncpu\t0\t56\t1\n",
    );
    bench_one(c, "cgroups", src.as_bytes(), |s, enc| cgroups::scan(s, enc).unwrap());
    let src = live_or(
        "/proc/pressure/io",
        "some avg10=1.53 avg60=1.87 avg300=1.73 total=1041629581\n\
         full avg10=0.00 avg60=0.13 avg300=0.96 total=2383209\n",
    );
    bench_parse(c, "pressure", src.as_bytes(), |s| pressure::parse(s).unwrap());

    let text = exposition();
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(text.len() as u64));
    let mut store = Store::new();
    g.bench_function("textparse", |b| {
        b.iter(|| black_box(store.parse(black_box(text.as_bytes())).map(|f| f.iter().count())))
    });
    g.finish();
}

criterion_group!(scanners, per_cpu, per_device, fixed_size);
criterion_main!(scanners);
