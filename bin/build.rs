//! Records the compiler and the source revision for `--version` and
//! `node_exporter_build_info`.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    // "rustc 1.95.0 (59807616e 2026-04-14)" -> "rustc1.95.0", in the spirit of Go's "go1.22.5".
    let version = output(&rustc, &["--version"]);
    let toolchain = version.split_whitespace().take(2).collect::<Vec<_>>().join("");
    println!("cargo:rustc-env=NODEGATE_TOOLCHAIN={toolchain}");
    println!("cargo:rustc-env=NODEGATE_REVISION={}", output("git", &["rev-parse", "HEAD"]));
    println!(
        "cargo:rustc-env=NODEGATE_BRANCH={}",
        output("git", &["rev-parse", "--abbrev-ref", "HEAD"])
    );
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/refs/heads");
}
