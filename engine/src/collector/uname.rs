//! uname(2) → `node_uname_info{sysname,release,version,machine,nodename,domainname} 1`;
//! node_exporter's uname collector. What `uname -srvmn` prints, plus the NIS domain name
//! (`(none)` when unset, as the kernel reports it):
//! `node_uname_info{domainname="(none)",machine="x86_64",nodename="vm",release="6.18.44",...} 1`.
//!
//! The system call is made on every scrape, as upstream does: the host name can change.

use super::{Build, Collector, Error, Spec};
use crate::encode::{Encoder, Kind};

/// Registration.
pub const SPEC: Spec =
    Spec { name: "uname", default_enabled: true, flags: &[], blocking: false, build };

fn build(_: &Build<'_>) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Uname))
}

#[derive(Debug)]
struct Uname;

impl Collector for Uname {
    fn update(&mut self, enc: &mut Encoder) -> Result<(), Error> {
        let u = rustix::system::uname();
        let info = enc.family(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
            Kind::Gauge,
        );
        let labels = [
            ("sysname", u.sysname().to_bytes()),
            ("release", u.release().to_bytes()),
            ("version", u.version().to_bytes()),
            ("machine", u.machine().to_bytes()),
            ("nodename", u.nodename().to_bytes()),
            ("domainname", u.domainname().to_bytes()),
        ];
        enc.sample(info, &labels, 1.0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::testing::{build as build_spec, e2e_lines, scrape};
    use crate::collector::Settings;
    use crate::source::Paths;
    use std::process::Command;

    fn uname(flag: &str) -> String {
        let out = Command::new("uname").arg(flag).output().expect("uname(1)");
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim_end_matches('\n').to_owned()
    }

    #[test]
    fn live_host_matches_uname_command() {
        let mut c = build_spec(&SPEC, &Paths::default(), &Settings::new()).unwrap();
        let first = scrape(c.as_mut());
        assert_eq!(scrape(c.as_mut()), first);
        let domain = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
        // Labels in name order, as the registry writes them.
        let want = format!(
            "# HELP node_uname_info Labeled system information as provided by the uname system \
             call.\n\
             # TYPE node_uname_info gauge\n\
             node_uname_info{{domainname=\"{}\",machine=\"{}\",nodename=\"{}\",release=\"{}\",\
             sysname=\"{}\",version=\"{}\"}} 1\n",
            domain.trim_end_matches('\n'),
            uname("-m"),
            uname("-n"),
            uname("-r"),
            uname("-s"),
            uname("-v"),
        );
        assert_eq!(first, want);
        // Upstream's e2e run disables uname, so its expected output has no such family.
        if let Some(lines) = e2e_lines(&["node_uname_info"]) {
            assert!(lines.is_empty());
        }
    }
}
