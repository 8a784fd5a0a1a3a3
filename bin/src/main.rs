//! `nodegate`: drop-in replacements for Prometheus node_exporter (`nodegate exporter`) and
//! the Pushgateway (`nodegate gateway`), sharing one engine.

mod exporter;
mod flags;
mod gateway;
mod logger;
mod persistence;

use clap::Command;
use std::process::ExitCode;

/// The version alone, as `node_exporter_build_info{version}` carries it.
pub const VERSION_SHORT: &str = env!("CARGO_PKG_VERSION");

/// `--version` text.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (branch: ",
    env!("NODEGATE_BRANCH"),
    ", revision: ",
    env!("NODEGATE_REVISION"),
    ")\n  toolchain: ",
    env!("NODEGATE_TOOLCHAIN")
);

fn main() -> ExitCode {
    // Large buffers back to the kernel when freed; see the function.
    engine::sys::fix_mmap_threshold();
    let cmd = Command::new("nodegate")
        .version(VERSION)
        .about("Prometheus node_exporter and Pushgateway, drop-in and lean")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(exporter::command())
        .subcommand(gateway::command());
    let matches = cmd.get_matches();
    match matches.subcommand() {
        Some(("exporter", m)) => exporter::run(m),
        Some(("gateway", m)) => gateway::run(m),
        _ => ExitCode::FAILURE,
    }
}
