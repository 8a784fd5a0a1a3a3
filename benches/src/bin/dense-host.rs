//! Writes a dense host's `/proc`, `/sys` and udev tree for the exporter to be pointed at.
//!
//! ```text
//! dense-host <dir> [--scale F] [--cpus N] [--disks N] [--interfaces N] [--mounts N]
//!                  [--hwmon-chips N] [--thermal-zones N]
//! ```
//!
//! Without sizes it writes the project's target host (192 CPUs, 256 disks, 1,024
//! interfaces, 64 mounts, 8 hwmon chips, 16 thermal zones); `--scale F` starts from 8 CPUs,
//! 4 disks, 16 interfaces and 4 mounts times F, and later flags override single sizes. It
//! prints the `--path.*` flags to use on standard output, and the host's shape on standard
//! error (`cpus=192 disks=256 ...`).

use benches::DenseHost;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().filter(|a| !a.starts_with('-')) else {
        eprintln!(
            "usage: dense-host <dir> [--scale F] [--cpus N] [--disks N] [--interfaces N] \
             [--mounts N] [--hwmon-chips N] [--thermal-zones N]"
        );
        return ExitCode::from(2);
    };
    let mut host = DenseHost::TARGET;
    while let Some(flag) = args.next() {
        let Some(n) = args.next().and_then(|v| v.parse::<usize>().ok()) else {
            eprintln!("{flag} needs a number");
            return ExitCode::from(2);
        };
        match flag.as_str() {
            "--cpus" => host.cpus = n,
            "--disks" => host.disks = n,
            "--interfaces" => host.interfaces = n,
            "--mounts" => host.mounts = n,
            "--hwmon-chips" => host.hwmon_chips = n,
            "--thermal-zones" => host.thermal_zones = n,
            "--scale" => host = DenseHost::scaled(n),
            _ => {
                eprintln!("unknown flag {flag}");
                return ExitCode::from(2);
            }
        }
    }
    let root = std::path::Path::new(&dir);
    if let Err(e) = host.write(root) {
        eprintln!("writing {dir}: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "cpus={} disks={} interfaces={} mounts={} hwmon_chips={} thermal_zones={}",
        host.cpus, host.disks, host.interfaces, host.mounts, host.hwmon_chips, host.thermal_zones
    );
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let r = root.display();
    println!(
        "--path.procfs={r}/proc --path.sysfs={r}/sys --path.rootfs={r} --path.udev.data={r}/udev/data"
    );
    ExitCode::SUCCESS
}
