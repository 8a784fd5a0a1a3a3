//! Each scanner in bytes per second, on the text a dense host's kernel writes: 192 CPUs,
//! 256 disks, 1,024 interfaces. Inputs are generated here in the kernel's formats (or read
//! from this host's /proc where size does not depend on the host: meminfo, vmstat); each
//! iteration scans one file into a cleared encoder and writes the exposition, as a scrape does.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engine::collector::diskstats::{self, Lookup, Row, UdevInfo};
use engine::collector::{cpu, filefd, loadavg, meminfo, netdev, schedstat, stat, vmstat};
use engine::encode::Encoder;
use engine::textparse::Store;
use regex::Regex;
use std::fmt::Write as _;
use std::hint::black_box;

const CPUS: usize = 192;
const DISKS: usize = 256;
const INTERFACES: usize = 1024;

/// `/proc/stat` with per-CPU lines, the interrupt line and softirqs.
fn proc_stat() -> String {
    let mut s = String::from("cpu  9827364 1287 2871623 918273645 98273 0 28736 0 0 0\n");
    for c in 0..CPUS {
        let k = c as u64 * 7919;
        let _ = writeln!(
            s,
            "cpu{c} {} 12 {} {} 512 0 {} 0 0 0",
            51_000 + k,
            14_000 + k,
            4_700_000 + k,
            150 + k
        );
    }
    s.push_str("intr 1928374656");
    for i in 0..1024 {
        let _ = write!(s, " {}", i * 31 % 997);
    }
    s.push_str("\nctxt 9182736455\nbtime 1700000000\nprocesses 2873645\nprocs_running 3\n");
    s.push_str("procs_blocked 0\nsoftirq 2837465 12 928374 45 9283 123 0 98237 283746 0 283\n");
    s
}

fn proc_diskstats() -> String {
    let mut s = String::new();
    for d in 0..DISKS {
        let name =
            format!("sd{}{}", (b'a' + (d / 26) as u8) as char, (b'a' + (d % 26) as u8) as char);
        let k = d as u64 * 104_729;
        let _ = writeln!(
            s,
            "   8 {:>7} {name} {} 1234 {} 5678 {} 4321 {} 8765 0 {} {} {} 0 {} 12 {} 34",
            d * 16,
            9_283_746 + k,
            98_237_465 + k,
            2_837_465 + k,
            28_374_655 + k,
            1_928_374 + k,
            2_837_465 + k,
            87 + k,
            9_283 + k,
            283 + k
        );
    }
    s
}

fn proc_net_dev() -> String {
    let mut s = String::from(
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets \
         errs drop fifo colls carrier compressed\n",
    );
    for i in 0..INTERFACES {
        let k = i as u64 * 7919;
        let _ = writeln!(
            s,
            "veth{i:04x}: {} {} 0 {} 0 0 0 {} {} {} 0 0 0 0 0 0",
            1_928_374_655 + k,
            2_837_465 + k,
            12 + k % 7,
            283 + k,
            987_263_544 + k,
            1_827_364 + k
        );
    }
    s
}

fn proc_schedstat() -> String {
    let mut s = String::from("version 15\ntimestamp 4294967295\n");
    for c in 0..CPUS {
        let _ = writeln!(
            s,
            "cpu{c} 0 0 0 0 0 0 {} {} {}",
            2_498_611_175_426 + c,
            6_720_405_442 + c,
            2_718_923 + c
        );
        let _ = writeln!(s, "domain0 00000000,00000003 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16");
    }
    s
}

fn proc_cpuinfo() -> String {
    let mut s = String::new();
    for c in 0..CPUS {
        let _ = write!(
            s,
            "processor\t: {c}\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 85\n\
             model name\t: Intel(R) Xeon(R) Platinum 8280 CPU @ 2.70GHz\nstepping\t: 7\n\
             microcode\t: 0x5003302\ncpu MHz\t\t: 2700.000\ncache size\t: 39424 KB\n\
             physical id\t: {}\nsiblings\t: 96\ncore id\t\t: {}\ncpu cores\t: 48\n\
             flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 \
             clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm \
             constant_tsc art arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid \
             aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 sdbg fma cx16 \
             xtpr pdcm pcid dca sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand \
             avx2 avx512f avx512dq\nbugs\t\t: spectre_v1 spectre_v2 spec_store_bypass swapgs \
             taa itlb_multihit mmio_stale_data retbleed\nbogomips\t: 5400.00\n\n",
            c / 96,
            c % 48
        );
    }
    s
}

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

fn benches(c: &mut Criterion) {
    let stat_src = proc_stat();
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
    bench_one(c, "cpuinfo", proc_cpuinfo().as_bytes(), |s, enc| {
        cpu::scan_info(s, enc, &filters).unwrap()
    });
    let mut disks = AllDisks(UdevInfo::default());
    bench_one(c, "diskstats", proc_diskstats().as_bytes(), |s, enc| {
        diskstats::scan(s, enc, &mut disks).unwrap()
    });
    bench_one(c, "netdev", proc_net_dev().as_bytes(), |s, enc| {
        netdev::scan(s, enc, &netdev::LEGACY, |_| false).unwrap()
    });
    bench_one(c, "schedstat", proc_schedstat().as_bytes(), schedstat::scan);
    let meminfo_src = live_or("/proc/meminfo", "MemTotal:       16318664 kB\nMemFree:  1 kB\n");
    bench_one(c, "meminfo", meminfo_src.as_bytes(), |s, enc| meminfo::scan(s, enc).unwrap());
    let vmstat_src = live_or("/proc/vmstat", "nr_free_pages 2237429\npgfault 98237465\n");
    let re = Regex::new("^(oom_kill|pgpg|pswp|pg.*fault).*").unwrap();
    let mut fields = vmstat::Fields::new(Some(re));
    bench_one(c, "vmstat", vmstat_src.as_bytes(), |s, enc| {
        vmstat::scan(s, enc, &mut fields).unwrap()
    });
    bench_one(c, "loadavg", b"0.21 0.37 0.39 1/719 19737\n", |s, enc| {
        loadavg::scan(s, enc).unwrap()
    });
    bench_one(c, "filefd", b"1024\t0\t1631329\n", |s, enc| filefd::scan(s, enc).unwrap());

    let text = exposition();
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(text.len() as u64));
    let mut store = Store::new();
    g.bench_function("textparse", |b| {
        b.iter(|| black_box(store.parse(black_box(text.as_bytes())).map(|f| f.iter().count())))
    });
    g.finish();
}

criterion_group!(scanners, benches);
criterion_main!(scanners);
