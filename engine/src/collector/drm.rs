//! `/sys/class/drm/card<N>/device/*` → `node_drm_card_info`, `node_drm_gpu_busy_percent` and
//! `node_drm_memory_*_bytes`{card}; node_exporter's drm collector (amdgpu only, off by
//! default).
//!
//! The amdgpu driver exposes the GPU's load and memory use as device attributes
//! (`gpu_busy_percent` holds `4`, `mem_info_vram_used` a byte count), see the kernel's
//! Documentation/gpu/amdgpu/driver-misc.rst. A card is one of `card0` to `card9` (upstream's
//! glob `card[0-9]`); its `device/uevent` names the driver.
//!
//! As upstream, including its quirks: a card whose driver is not amdgpu is still reported,
//! with `vendor="amd"`, empty labels and zeros; a missing or unreadable attribute is 0 or
//! empty; a `uevent` failing with `ENODATA` skips the card, any other failure to read it fails
//! the collector; a number that does not parse (upstream dereferences nil and panics) fails it
//! too; no `class/drm` means no cards and no samples. Every card is read before anything is
//! reported. Each card's files are kept open ([`Entries`]); `class/drm` is listed afresh,
//! since the drm module may be reloaded.

use super::sysattr;
use super::{Build, Collector, Error, ParseError, Spec};
use crate::encode::{Encoder, Kind};
use crate::source::{c_path, Entries, File, Lister};
use rustix::io::Errno;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Registration. Blocking: reading the attributes of a runtime-suspended GPU wakes it, and
/// the load and memory figures come from the GPU's firmware.
pub const SPEC: Spec =
    Spec { name: "drm", default_enabled: false, flags: &[], blocking: true, build };

const PATH: &str = "sys/class/drm";

/// The numeric attributes, with the metric and HELP each is reported as.
const NUMBERS: [(&str, &str, &str); 7] = [
    ("gpu_busy_percent", "node_drm_gpu_busy_percent", "How busy the GPU is as a percentage."),
    (
        "mem_info_gtt_total",
        "node_drm_memory_gtt_size_bytes",
        "The size of the graphics translation table (GTT) block in bytes.",
    ),
    (
        "mem_info_gtt_used",
        "node_drm_memory_gtt_used_bytes",
        "The used amount of the graphics translation table (GTT) block in bytes.",
    ),
    (
        "mem_info_vis_vram_total",
        "node_drm_memory_vis_vram_size_bytes",
        "The size of visible VRAM in bytes.",
    ),
    (
        "mem_info_vis_vram_used",
        "node_drm_memory_vis_vram_used_bytes",
        "The used amount of visible VRAM in bytes.",
    ),
    ("mem_info_vram_total", "node_drm_memory_vram_size_bytes", "The size of VRAM in bytes."),
    ("mem_info_vram_used", "node_drm_memory_vram_used_bytes", "The used amount of VRAM in bytes."),
];

/// The text attributes, with the `node_drm_card_info` label each is reported as.
const TEXTS: [(&str, &str); 3] = [
    ("mem_info_vram_vendor", "memory_vendor"),
    ("power_dpm_force_performance_level", "power_performance_level"),
    ("unique_id", "unique_id"),
];

fn build(b: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    let root = b.paths.sys("class/drm");
    Ok(Box::new(Drm {
        root_c: c_path(&root),
        root,
        lister: Lister::new(),
        cards: Entries::new(),
        buf: Vec::new(),
    }))
}

#[derive(Debug)]
struct Drm {
    root: PathBuf,
    root_c: CString,
    lister: Lister,
    cards: Entries<Card>,
    buf: Vec<u8>,
}

#[derive(Debug)]
struct Card {
    uevent: File,
    numbers: [File; 7],
    texts: [File; 3],
    /// This scrape's values; `None` for a card skipped for `ENODATA`.
    values: Option<([u64; 7], [Vec<u8>; 3])>,
}

impl Card {
    fn new(dir: &Path) -> Card {
        let device = dir.join("device");
        Card {
            uevent: File::new(device.join("uevent")),
            numbers: NUMBERS.map(|(f, ..)| File::new(device.join(f))),
            texts: TEXTS.map(|(f, _)| File::new(device.join(f))),
            values: Some(Default::default()),
        }
    }

    fn read(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        let Card { uevent, numbers, texts, values } = self;
        let uevent = match uevent.read_attr(buf) {
            Ok(raw) => sysattr::value(raw),
            Err(Errno::NODATA) => {
                *values = None;
                return Ok(());
            }
            Err(errno) => return Err(Error::Read { path: PATH, errno }),
        };
        let (nums, strs) = values.get_or_insert_with(Default::default);
        *nums = [0; 7];
        strs.iter_mut().for_each(Vec::clear);
        if !contains(uevent, b"DRIVER=amdgpu") {
            return Ok(());
        }
        for (file, n) in numbers.iter_mut().zip(nums.iter_mut()) {
            // An attribute this card lacks, or cannot give now, stays 0.
            let Ok(raw) = file.read_attr(buf) else { continue };
            // Upstream dereferences the failed parse's nil and panics; fail instead.
            *n = sysattr::parse_u64(sysattr::value(raw)).ok_or(Error::Parse {
                path: PATH,
                err: ParseError::at(0, "attribute is not an unsigned integer"),
            })?;
        }
        for (file, s) in texts.iter_mut().zip(strs.iter_mut()) {
            if let Ok(raw) = file.read_attr(buf) {
                s.extend_from_slice(sysattr::value(raw));
            }
        }
        Ok(())
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether a `class/drm` entry is matched by upstream's glob `card[0-9]`.
fn is_card(name: &[u8]) -> bool {
    name.len() == 5 && name.starts_with(b"card") && name[4].is_ascii_digit()
}

impl Collector for Drm {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let Drm { root, root_c, lister, cards, buf } = self;
        cards.begin();
        // A glob ignores a directory it cannot read (no class/drm means no cards) and keeps
        // the names it read before a failure.
        let _ = lister.list(root_c, |name, _| {
            if is_card(name) {
                cards.get_or_insert_with(name, || Card::new(&root.join(OsStr::from_bytes(name))));
            }
        });
        cards.end();
        for (_, card) in cards.iter_mut() {
            card.read(buf)?;
        }
        let is_utf8 = |c: &Card| {
            c.values.as_ref().is_none_or(|(_, s)| s.iter().all(|s| std::str::from_utf8(s).is_ok()))
        };
        if !cards.iter().all(|(_, c)| is_utf8(c)) {
            // Upstream panics; fail instead, before adding anything.
            return Err(Error::Parse {
                path: PATH,
                err: ParseError::at(0, "label value is not valid UTF-8"),
            });
        }
        let info = enc.family("node_drm_card_info", "Card information", Kind::Gauge);
        let fams = NUMBERS.map(|(_, name, help)| enc.family(name, help, Kind::Gauge));
        for (name, card) in cards.iter() {
            let Some((nums, strs)) = &card.values else { continue };
            let labels = [
                ("card", name),
                (TEXTS[0].1, &strs[0][..]),
                (TEXTS[1].1, &strs[1][..]),
                (TEXTS[2].1, &strs[2][..]),
                ("vendor", b"amd"),
            ];
            enc.sample(info, &labels, 1.0);
            for (&fam, &n) in fams.iter().zip(nums) {
                enc.sample_u64(fam, &[("card", name)], n);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{
        build as build_spec, fds_under, put, scrape, tmpdir, try_scrape,
    };
    use crate::collector::Settings;
    use crate::source::Paths;

    /// procfs' amdgpu test card.
    fn amdgpu(root: &Path, card: &str) {
        let dir = format!("sys/class/drm/{card}/device");
        put(
            root,
            &format!("{dir}/uevent"),
            "DRIVER=amdgpu\nPCI_CLASS=30000\nPCI_ID=1002:687F\nPCI_SUBSYS_ID=1043:04C4\n\
             PCI_SLOT_NAME=0000:09:00.0\n\
             MODALIAS=pci:v00001002d0000687Fsv00001043sd000004C4bc03sc00i00\n",
        );
        for (file, value) in [
            ("gpu_busy_percent", "4\n"),
            ("mem_info_gtt_total", "8573157376\n"),
            ("mem_info_gtt_used", "144560128\n"),
            ("mem_info_vis_vram_total", "8573157376\n"),
            ("mem_info_vis_vram_used", "1490378752\n"),
            ("mem_info_vram_total", "8573157376\n"),
            ("mem_info_vram_used", "1490378752\n"),
            ("mem_info_vram_vendor", "samsung\n"),
            ("power_dpm_force_performance_level", "manual\n"),
            ("unique_id", "0123456789abcdef\n"),
        ] {
            put(root, &format!("{dir}/{file}"), value);
        }
    }

    #[test]
    fn amdgpu_card() {
        let root = tmpdir("drm-amdgpu");
        amdgpu(&root, "card0");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        let samples: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            samples,
            [
                "node_drm_card_info{card=\"card0\",memory_vendor=\"samsung\",\
                 power_performance_level=\"manual\",unique_id=\"0123456789abcdef\",\
                 vendor=\"amd\"} 1",
                "node_drm_gpu_busy_percent{card=\"card0\"} 4",
                "node_drm_memory_gtt_size_bytes{card=\"card0\"} 8.573157376e+09",
                "node_drm_memory_gtt_used_bytes{card=\"card0\"} 1.44560128e+08",
                "node_drm_memory_vis_vram_size_bytes{card=\"card0\"} 8.573157376e+09",
                "node_drm_memory_vis_vram_used_bytes{card=\"card0\"} 1.490378752e+09",
                "node_drm_memory_vram_size_bytes{card=\"card0\"} 8.573157376e+09",
                "node_drm_memory_vram_used_bytes{card=\"card0\"} 1.490378752e+09",
            ]
        );
        assert!(text.contains("# HELP node_drm_card_info Card information\n"));
        assert!(text.contains("# TYPE node_drm_gpu_busy_percent gauge\n"));
        assert_eq!(scrape(c.as_mut()), text);
        drop(c);
        assert_eq!(fds_under(&root), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn other_cards_and_names() {
        let root = tmpdir("drm-others");
        amdgpu(&root, "card1");
        // Another driver: reported with zeros, as upstream does.
        put(&root, "sys/class/drm/card0/device/uevent", "DRIVER=i915\n");
        put(&root, "sys/class/drm/card0/device/gpu_busy_percent", "99\n");
        // Not cards to upstream's glob.
        amdgpu(&root, "card10");
        amdgpu(&root, "card1-DP-1");
        amdgpu(&root, "renderD128");
        // A missing attribute is 0.
        std::fs::remove_file(root.join("sys/class/drm/card1/device/gpu_busy_percent")).unwrap();
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        let text = scrape(c.as_mut());
        assert!(text.contains(
            "node_drm_card_info{card=\"card0\",memory_vendor=\"\",power_performance_level=\"\",\
             unique_id=\"\",vendor=\"amd\"} 1\n"
        ));
        assert!(text.contains("node_drm_gpu_busy_percent{card=\"card0\"} 0\n"));
        assert!(text.contains("node_drm_gpu_busy_percent{card=\"card1\"} 0\n"));
        assert!(text.contains("node_drm_memory_vram_used_bytes{card=\"card1\"} 1.490378752e+09\n"));
        assert!(!text.contains("card10") && !text.contains("DP-1") && !text.contains("render"));
        // A card going away takes its fds along.
        std::fs::remove_dir_all(root.join("sys/class/drm/card1")).unwrap();
        assert!(!scrape(c.as_mut()).contains("card1\""));
        assert_eq!(fds_under(&root.join("sys/class/drm/card1")), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn failures() {
        let root = tmpdir("drm-errors");
        let mut c = build_spec(&SPEC, &Paths::under(&root), &Settings::new()).unwrap();
        // No class/drm: nothing, and no failure.
        assert_eq!(try_scrape(c.as_mut()), Ok(String::new()));
        // A card without uevent fails the collector.
        std::fs::create_dir_all(root.join("sys/class/drm/card0/device")).unwrap();
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Read { errno: Errno::NOENT, .. })), "{r:?}");
        amdgpu(&root, "card0");
        for bad in ["-1\n", "four\n", ""] {
            put(&root, "sys/class/drm/card0/device/mem_info_vram_used", bad);
            let r = try_scrape(c.as_mut());
            assert!(matches!(r, Err(Error::Parse { .. })), "{bad:?}: {r:?}");
        }
        put(&root, "sys/class/drm/card0/device/mem_info_vram_used", "0x10\n");
        assert!(scrape(c.as_mut()).contains("memory_vram_used_bytes{card=\"card0\"} 16\n"));
        std::fs::write(root.join("sys/class/drm/card0/device/unique_id"), b"\xff\n").unwrap();
        let r = try_scrape(c.as_mut());
        assert!(matches!(r, Err(Error::Parse { .. })), "{r:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn live_host() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            if let Err(e) = try_scrape(c.as_mut()) {
                assert!(matches!(e, Error::Read { .. }), "{e}");
            }
        }
    }
}
