//! What the netlink-based collectors share: their netlink errors as collector errors.

use super::{Error, ParseError};
use crate::netlink;

/// Maps a netlink failure of the request `what` (`"rtnetlink RTM_GETLINK"`) to a collector
/// error: socket and kernel errors become read errors, a malformed reply a parse error.
pub fn error(what: &'static str) -> impl FnOnce(netlink::Error) -> Error {
    move |e| match e {
        netlink::Error::Io(errno) | netlink::Error::Kernel(errno) => {
            Error::Read { path: what, errno }
        }
        netlink::Error::Malformed(m) => Error::Parse { path: what, err: ParseError::at(0, m) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::io::Errno;

    #[test]
    fn messages() {
        let e = error("rtnetlink RTM_GETLINK")(netlink::Error::Kernel(Errno::PERM));
        assert!(e.to_string().starts_with("reading rtnetlink RTM_GETLINK: "), "{e}");
        let e = error("rtnetlink RTM_GETLINK")(netlink::Error::Malformed("bad"));
        assert_eq!(e.to_string(), "parsing rtnetlink RTM_GETLINK: bad");
    }
}
