//! Generic netlink (`NETLINK_GENERIC`, genetlink): every message starts with a 4-byte
//! `genlmsghdr` (command, version, reserved), and a family such as nl80211 is addressed by the
//! id the controller family (`nlctrl`) gives for its name.

use super::{ne_u16, ne_u32, Error, Socket, F_REQUEST};

/// `sizeof(struct genlmsghdr)`.
pub const GENLMSGHDR_LEN: usize = 4;
/// `GENL_ID_CTRL`: the controller family's fixed id.
const GENL_ID_CTRL: u16 = 0x10;
/// `CTRL_CMD_GETFAMILY`.
const CTRL_CMD_GETFAMILY: u8 = 3;
/// `CTRL_ATTR_FAMILY_ID` (`u16`).
const CTRL_ATTR_FAMILY_ID: u16 = 1;
/// `CTRL_ATTR_FAMILY_NAME` (string).
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// `CTRL_ATTR_VERSION` (`u32`).
const CTRL_ATTR_VERSION: u16 = 3;

/// A generic netlink family: the message type its requests use, and its version.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Family {
    /// The id to put in `nlmsg_type`.
    pub id: u16,
    /// The version to put in `genlmsghdr.version`.
    pub version: u8,
}

/// Asks the controller for the family called `name`, reading the reply into `buf`.
///
/// # Errors
/// `Kernel(ENOENT)` when no such family is registered (its module is not loaded), the
/// request's other errors, or `Malformed` when the reply lacks the family id.
pub fn family(sock: &mut Socket, name: &str, buf: &mut Vec<u8>) -> Result<Family, Error> {
    let msgs = sock.request(
        GENL_ID_CTRL,
        F_REQUEST,
        |r| {
            r.bytes(&[CTRL_CMD_GETFAMILY, 1, 0, 0]).attr_str(CTRL_ATTR_FAMILY_NAME, name);
        },
        buf,
    )?;
    let msg = msgs.into_iter().next().ok_or(Error::Malformed("no reply from nlctrl"))?;
    let (_, attrs) = msg.split(GENLMSGHDR_LEN)?;
    let id = attrs
        .find(CTRL_ATTR_FAMILY_ID)?
        .and_then(|d| ne_u16(d, 0))
        .ok_or(Error::Malformed("no family id in nlctrl's reply"))?;
    let version = attrs.find(CTRL_ATTR_VERSION)?.and_then(|d| ne_u32(d, 0)).unwrap_or(0);
    Ok(Family { id, version: version as u8 })
}

#[cfg(test)]
mod tests {
    use super::super::Protocol;
    use super::*;

    #[test]
    fn live_controller() {
        let mut sock = Socket::new(Protocol::Generic);
        let mut buf = Vec::new();
        // nlctrl answers for itself on every kernel with generic netlink.
        let ctrl = family(&mut sock, "nlctrl", &mut buf).unwrap();
        assert_eq!(ctrl.id, GENL_ID_CTRL);
        assert_eq!(
            family(&mut sock, "no-such-family", &mut buf),
            Err(Error::Kernel(rustix::io::Errno::NOENT))
        );
        assert!(sock.is_open(), "a kernel error keeps the socket");
        assert_eq!(family(&mut sock, "nlctrl", &mut buf), Ok(ctrl));
    }
}
