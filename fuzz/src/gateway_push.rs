//! Two arbitrary pushes (text or protobuf) into one `gateway::store::Store`: never panic, and
//! whatever is accepted scrapes well-formed: one TYPE line per name, in name order, every
//! other line a comment or a sample with a value; the protobuf scrape splits into whole
//! messages.

use gateway::group::Group;
use gateway::op::{Format, Kind, Op, Volatile};
use gateway::store::{Scratch, Store};

type Input = (bool, bool, Vec<u8>, Vec<u8>);

/// Checks one input: protobuf or text, whether the consistency check is on, two bodies.
pub fn check(data: &[u8]) {
    crate::typed(data, |(proto, checked, first, second): Input| {
        let store = Store::new();
        let mut s = Scratch::new();
        let format = if proto { Format::Protobuf } else { Format::Text };
        for (job, body) in [(&b"a"[..], &first), (b"b", &second)] {
            let op = Op {
                kind: Kind::Put,
                format,
                time_ms: 1,
                labels: [(&b"job"[..], job)].into_iter().collect(),
                body,
            };
            let _ = store.push(&mut s, &Volatile, &op, checked);
        }
        let mut out = Vec::new();
        store.scrape(&mut s, &Group::default(), false, &mut out);
        let mut names: Vec<&[u8]> = Vec::new();
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix(b"# TYPE ") {
                names.push(rest.split(|&b| b == b' ').next().expect("name"));
            } else if !line.starts_with(b"#") {
                assert!(line.contains(&b' '), "sample without a value");
            }
        }
        assert!(names.windows(2).all(|w| w[0] < w[1]), "families unsorted or repeated");
        out.clear();
        store.scrape(&mut s, &Group::default(), true, &mut out);
        let mut rest = &out[..];
        while let Some((_, tail)) = gateway::proto::next_delimited(rest).expect("whole messages") {
            rest = tail;
        }
        assert!(rest.is_empty());
    });
}
