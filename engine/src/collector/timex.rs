//! `adjtimex(2)` → `node_timex_*`; node_exporter's timex collector.
//!
//! One read-only `adjtimex` call (modes 0) per scrape gives the kernel clock discipline's
//! state: `node_timex_offset_seconds 0.000123`, `node_timex_sync_status 1`, … The scaled
//! fields are converted as the man page's NOTES describe: offsets and PPS jitter in micro- or
//! nanoseconds by `STA_NANO`, frequencies in ppm with a 16-bit fraction. A refused call
//! (`EPERM` from a seccomp filter) is "no data", as upstream.

use super::{Build, Collector, Error, Spec};
use crate::encode::{Encoder, Kind};
use crate::sys::{self, Timex};
use rustix::io::Errno;

/// Registration.
pub const SPEC: Spec =
    Spec { name: "timex", default_enabled: true, flags: &[], blocking: false, build };

/// adjtimex's return value for an unsynchronized clock.
const TIME_ERROR: i32 = 5;
/// The status bit saying `offset` and `jitter` are in nanoseconds, not microseconds.
const STA_NANO: i32 = 0x2000;
/// ppm with a 16-bit binary fraction, as a ratio.
const PPM16FRAC: f64 = 1_000_000.0 * 65536.0;
const MICRO: f64 = 1_000_000.0;
const NANO: f64 = 1_000_000_000.0;

fn build(_: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Timexes))
}

#[derive(Debug)]
struct Timexes;

impl Collector for Timexes {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        match sys::adjtimex() {
            Ok(tx) => {
                emit(&tx, enc);
                Ok(())
            }
            Err(Errno::PERM) => Err(Error::NoData),
            Err(errno) => Err(Error::Read { path: "adjtimex", errno }),
        }
    }
}

/// The families, in upstream's order: name, HELP, kind and the value from the clock state.
type Row = (&'static str, &'static str, Kind, fn(&Timex, f64) -> f64);

const ROWS: [Row; 17] = [
    (
        "node_timex_sync_status",
        "Is clock synchronized to a reliable server (1 = yes, 0 = no).",
        Kind::Gauge,
        |t, _| if t.state == TIME_ERROR { 0.0 } else { 1.0 },
    ),
    (
        "node_timex_offset_seconds",
        "Time offset in between local system and reference clock.",
        Kind::Gauge,
        |t, div| t.offset as f64 / div,
    ),
    (
        "node_timex_frequency_adjustment_ratio",
        "Local clock frequency adjustment.",
        Kind::Gauge,
        |t, _| 1.0 + t.freq as f64 / PPM16FRAC,
    ),
    ("node_timex_maxerror_seconds", "Maximum error in seconds.", Kind::Gauge, |t, _| {
        t.maxerror as f64 / MICRO
    }),
    ("node_timex_estimated_error_seconds", "Estimated error in seconds.", Kind::Gauge, |t, _| {
        t.esterror as f64 / MICRO
    }),
    ("node_timex_status", "Value of the status array bits.", Kind::Gauge, |t, _| {
        f64::from(t.status)
    }),
    ("node_timex_loop_time_constant", "Phase-locked loop time constant.", Kind::Gauge, |t, _| {
        t.constant as f64
    }),
    ("node_timex_tick_seconds", "Seconds between clock ticks.", Kind::Gauge, |t, _| {
        t.tick as f64 / MICRO
    }),
    ("node_timex_pps_frequency_hertz", "Pulse per second frequency.", Kind::Gauge, |t, _| {
        t.ppsfreq as f64 / PPM16FRAC
    }),
    ("node_timex_pps_jitter_seconds", "Pulse per second jitter.", Kind::Gauge, |t, div| {
        t.jitter as f64 / div
    }),
    ("node_timex_pps_shift_seconds", "Pulse per second interval duration.", Kind::Gauge, |t, _| {
        f64::from(t.shift)
    }),
    (
        "node_timex_pps_stability_hertz",
        "Pulse per second stability, average of recent frequency changes.",
        Kind::Gauge,
        |t, _| t.stabil as f64 / PPM16FRAC,
    ),
    (
        "node_timex_pps_jitter_total",
        "Pulse per second count of jitter limit exceeded events.",
        Kind::Counter,
        |t, _| t.jitcnt as f64,
    ),
    (
        "node_timex_pps_calibration_total",
        "Pulse per second count of calibration intervals.",
        Kind::Counter,
        |t, _| t.calcnt as f64,
    ),
    (
        "node_timex_pps_error_total",
        "Pulse per second count of calibration errors.",
        Kind::Counter,
        |t, _| t.errcnt as f64,
    ),
    (
        "node_timex_pps_stability_exceeded_total",
        "Pulse per second count of stability limit exceeded events.",
        Kind::Counter,
        |t, _| t.stbcnt as f64,
    ),
    (
        "node_timex_tai_offset_seconds",
        "International Atomic Time (TAI) offset.",
        Kind::Gauge,
        |t, _| f64::from(t.tai),
    ),
];

/// Adds the clock state's samples. Allocates nothing beyond the encoder's growth.
pub fn emit(tx: &Timex, enc: &mut Encoder) {
    let div = if tx.status & STA_NANO != 0 { NANO } else { MICRO };
    for (name, help, kind, value) in ROWS {
        let f = enc.family(name, help, kind);
        enc.sample(f, &[], value(tx, div));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{build, render, try_scrape};
    use crate::collector::Settings;
    use crate::source::Paths;

    #[test]
    fn conversions() {
        let tx = Timex {
            state: 0,
            offset: -1500,
            freq: 65536 * 3,
            maxerror: 16_000,
            esterror: 2,
            status: 0x2001,
            constant: 7,
            tick: 10_000,
            ppsfreq: -65536,
            jitter: 250,
            shift: 4,
            stabil: 32768,
            jitcnt: 1,
            calcnt: 2,
            errcnt: 3,
            stbcnt: 4,
            tai: 37,
        };
        let text = render(|enc| emit(&tx, enc));
        for line in [
            "node_timex_sync_status 1",
            // STA_NANO: nanoseconds.
            "node_timex_offset_seconds -1.5e-06",
            "node_timex_pps_jitter_seconds 2.5e-07",
            "node_timex_frequency_adjustment_ratio 1.000003",
            "node_timex_maxerror_seconds 0.016",
            "node_timex_estimated_error_seconds 2e-06",
            "node_timex_status 8193",
            "node_timex_loop_time_constant 7",
            "node_timex_tick_seconds 0.01",
            "node_timex_pps_frequency_hertz -1e-06",
            "node_timex_pps_shift_seconds 4",
            "node_timex_pps_stability_hertz 5e-07",
            "node_timex_pps_jitter_total 1",
            "node_timex_pps_calibration_total 2",
            "node_timex_pps_error_total 3",
            "node_timex_pps_stability_exceeded_total 4",
            "node_timex_tai_offset_seconds 37",
        ] {
            assert!(text.contains(&format!("\n{line}\n")), "{line} missing from\n{text}");
        }
        assert!(text.contains("# TYPE node_timex_pps_error_total counter\n"));
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 17);

        // Microseconds without STA_NANO; TIME_ERROR is unsynchronized.
        let tx = Timex { state: TIME_ERROR, offset: -1500, status: 0x40, ..tx };
        let text = render(|enc| emit(&tx, enc));
        assert!(text.contains("\nnode_timex_offset_seconds -0.0015\n"));
        assert!(text.contains("\nnode_timex_sync_status 0\n"));
    }

    #[test]
    fn help_text_as_upstream() {
        let text = render(|enc| emit(&Timex::default(), enc));
        assert!(text.contains(
            "# HELP node_timex_pps_stability_hertz Pulse per second stability, average of \
             recent frequency changes.\n# TYPE node_timex_pps_stability_hertz gauge\n"
        ));
        assert!(text.contains(
            "# HELP node_timex_offset_seconds Time offset in between local \
             system and reference clock.\n"
        ));
    }

    #[test]
    fn live_host() {
        let mut c = build(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        for _ in 0..2 {
            match try_scrape(c.as_mut()) {
                Ok(text) => assert!(text.contains("\nnode_timex_tick_seconds ")),
                Err(e) => assert_eq!(e, Error::NoData),
            }
        }
    }
}
