//! A small netlink client for the collectors that ask the kernel over netlink(7): rtnetlink
//! dumps (rtnetlink(7): links, addresses, neighbours, routes, qdiscs), `NETLINK_SOCK_DIAG`
//! socket dumps (sock_diag(7)) and generic netlink (genetlink, for nl80211 and ethtool).
//!
//! A [`Socket`] is opened on first use and kept across scrapes. A request is built into a reused
//! buffer; the replies of a dump, which may span many datagrams, are read into a buffer the
//! caller keeps, one after another, and handed back as a [`Messages`] iterator over zero-copy
//! [`Message`] slices. Payloads are parsed with [`Attrs`] (`struct nlattr` / `struct rtattr`,
//! which share a layout) and the `ne_*` readers, bounds-checked, without `unsafe`.
//!
//! # Implementation notes
//!
//! - Framing is checked as datagrams arrive: every `nlmsghdr` must fit the datagram and carry
//!   the request's sequence number; `NLMSG_ERROR` with a non-zero code (and an error code after
//!   `NLMSG_DONE`) ends the request with [`Error::Kernel`]. A reply is complete at
//!   `NLMSG_DONE`, at an acknowledgement, or after a datagram with no `NLM_F_MULTI` message.
//! - Each datagram's size is learnt first with `recv(MSG_PEEK | MSG_TRUNC)`, so none is ever
//!   cut short, then it is read into the reply buffer's spare capacity. The kernel sizes dump
//!   datagrams by the reader's buffer (up to 32 KiB), so at least that much is offered.
//! - The reply buffer holds a whole dump and keeps its capacity: it grows to the largest dump
//!   seen and is refused past [`MAX_REPLY`]. [`Socket::dump_each`] instead hands messages over
//!   datagram by datagram, for dumps that grow with load (a socket dump), so that its buffer
//!   stays the size of one datagram.
//! - After an I/O or framing error the socket is closed, so that no half-read reply can be
//!   mistaken for the next request's; the next request opens a new one. A kernel error ends
//!   its reply cleanly and keeps the socket.
//! - Receives time out after [`TIMEOUT`]; the kernel answers at once, so this only bounds a
//!   scrape should it ever not.

pub mod ethtool;
pub mod genl;
pub mod route;

use rustix::fd::OwnedFd;
use rustix::io::Errno;
use rustix::net::netlink::SocketAddrNetlink;
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::fmt;
use std::time::Duration;

/// Size of `struct nlmsghdr`.
pub const HDRLEN: usize = 16;
/// `NLM_F_REQUEST`.
pub const F_REQUEST: u16 = 0x1;
/// `NLM_F_MULTI`: part of a multi-part reply.
pub const F_MULTI: u16 = 0x2;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
pub const F_DUMP: u16 = 0x300;

const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
/// Types below this are control messages; replies carrying data use higher ones.
const NLMSG_MIN_TYPE: u16 = 0x10;

/// Attribute type bits that are flags (`NLA_F_NESTED`, `NLA_F_NET_BYTEORDER`), not the type.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// The most a reply buffer may hold: a dump larger than this fails rather than grow without
/// bound (a host with a million routes dumps about 100 MiB).
pub const MAX_REPLY: usize = 256 << 20;

/// The least spare room offered to each `recv`: the kernel's largest dump datagram unless a
/// dump asks for more.
const MIN_RECV: usize = 32 << 10;

/// How long a receive may wait for the kernel.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a netlink request failed. `Copy`, no heap data.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A socket call (`socket`, `bind`, `sendto`, `recv`) failed.
    Io(Errno),
    /// The kernel answered the request with this error.
    Kernel(Errno),
    /// A reply was not laid out as netlink says; what was wrong.
    Malformed(&'static str),
}

impl Error {
    /// The errno of an I/O or kernel error.
    pub fn errno(self) -> Option<Errno> {
        match self {
            Error::Io(e) | Error::Kernel(e) => Some(e),
            Error::Malformed(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |e: Errno| std::io::Error::from_raw_os_error(e.raw_os_error());
        match self {
            Error::Io(e) => write!(f, "netlink socket: {}", text(*e)),
            Error::Kernel(e) => write!(f, "netlink reply: {}", text(*e)),
            Error::Malformed(what) => write!(f, "malformed netlink reply: {what}"),
        }
    }
}

impl std::error::Error for Error {}

/// The netlink protocol a socket speaks.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Protocol {
    /// `NETLINK_ROUTE`: rtnetlink.
    Route,
    /// `NETLINK_GENERIC`: generic netlink families such as nl80211.
    Generic,
    /// `NETLINK_SOCK_DIAG` (once `NETLINK_INET_DIAG`): socket dumps.
    SockDiag,
}

/// A netlink socket kept open across requests, with its sequence numbers and request buffer.
#[derive(Debug)]
pub struct Socket {
    protocol: Protocol,
    fd: Option<OwnedFd>,
    seq: u32,
    req: Vec<u8>,
}

impl Socket {
    /// A socket for `protocol`; nothing is opened until the first request.
    pub fn new(protocol: Protocol) -> Socket {
        Socket { protocol, fd: None, seq: 0, req: Vec::new() }
    }

    /// Whether a socket is open (false before the first request and after an I/O error).
    pub fn is_open(&self) -> bool {
        self.fd.is_some()
    }

    /// Closes the socket; the next request opens a new one.
    pub fn close(&mut self) {
        self.fd = None;
    }

    /// Sends a dump request of type `ty` whose payload `build` writes, and reads all of its
    /// replies into `out` (cleared first). See [`Socket::request`].
    ///
    /// # Errors
    /// As [`Socket::request`].
    pub fn dump<'o>(
        &mut self,
        ty: u16,
        build: impl FnOnce(&mut Request<'_>),
        out: &'o mut Vec<u8>,
    ) -> Result<Messages<'o>, Error> {
        self.request(ty, F_REQUEST | F_DUMP, build, out)
    }

    /// [`Socket::dump`] of a request made of a fixed header only (a zeroed `ifinfomsg` asks
    /// for every link of every family).
    ///
    /// # Errors
    /// As [`Socket::request`].
    pub fn dump_all<'o>(
        &mut self,
        ty: u16,
        header: &[u8],
        out: &'o mut Vec<u8>,
    ) -> Result<Messages<'o>, Error> {
        self.dump(
            ty,
            |r| {
                r.bytes(header);
            },
            out,
        )
    }

    /// Sends one request (`ty`, `flags`, payload written by `build`) and reads every reply to
    /// it into `out` (cleared first). Returns the data messages of the reply.
    ///
    /// Allocates only to grow the request buffer and `out` past their largest size so far.
    ///
    /// # Errors
    /// [`Error::Io`] when a socket call fails, [`Error::Kernel`] when the kernel refuses the
    /// request, [`Error::Malformed`] when a reply's framing is broken or it outgrows
    /// [`MAX_REPLY`].
    pub fn request<'o>(
        &mut self,
        ty: u16,
        flags: u16,
        build: impl FnOnce(&mut Request<'_>),
        out: &'o mut Vec<u8>,
    ) -> Result<Messages<'o>, Error> {
        out.clear();
        let r = self.exchange(ty, flags, build, out, true, |_| Ok(()));
        self.close_after(r)?;
        Ok(Messages { buf: out })
    }

    /// Sends a dump request like [`Socket::dump`], but hands each data message of the reply
    /// to `each` as its datagram arrives, so that `buf` holds one datagram at a time, not the
    /// whole dump: for dumps that grow with the host's load (sockets), where a buffer sized
    /// for the whole reply would keep growing.
    ///
    /// # Errors
    /// As [`Socket::request`], and the first error `each` returns (the rest of the reply is
    /// then dropped with the socket).
    pub fn dump_each(
        &mut self,
        ty: u16,
        build: impl FnOnce(&mut Request<'_>),
        buf: &mut Vec<u8>,
        mut each: impl FnMut(Message<'_>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut stopped = false;
        let r = self.exchange(ty, F_REQUEST | F_DUMP, build, buf, false, |dgram| {
            let r = Messages::new(dgram).try_for_each(&mut each);
            stopped = r.is_err();
            r
        });
        if stopped {
            self.fd = None;
        }
        self.close_after(r)
    }

    /// Closes the socket after an error that may leave replies unread or out of step.
    fn close_after(&mut self, r: Result<(), Error>) -> Result<(), Error> {
        if matches!(r, Err(Error::Io(_) | Error::Malformed(_))) {
            self.fd = None;
        }
        r
    }

    /// Sends the request and reads its replies into `out`, datagram after datagram, calling
    /// `each` with every datagram once its framing is checked. With `keep`, datagrams are
    /// appended to `out`; without, each replaces the one before.
    fn exchange(
        &mut self,
        ty: u16,
        flags: u16,
        build: impl FnOnce(&mut Request<'_>),
        out: &mut Vec<u8>,
        keep: bool,
        mut each: impl FnMut(&[u8]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if self.fd.is_none() {
            self.fd = Some(open(self.protocol).map_err(Error::Io)?);
        }
        let Some(fd) = &self.fd else { return Err(Error::Io(Errno::BADF)) };
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        self.req.clear();
        self.req.extend_from_slice(&[0; HDRLEN]);
        build(&mut Request { buf: &mut self.req });
        let len =
            u32::try_from(self.req.len()).map_err(|_| Error::Malformed("request too long"))?;
        self.req[0..4].copy_from_slice(&len.to_ne_bytes());
        self.req[4..6].copy_from_slice(&ty.to_ne_bytes());
        self.req[6..8].copy_from_slice(&flags.to_ne_bytes());
        self.req[8..12].copy_from_slice(&seq.to_ne_bytes());
        // Port id 0 in the header: the kernel fills in the sender's.
        let kernel = SocketAddrNetlink::new(0, 0);
        let sent = retry(|| rustix::net::sendto(fd, &self.req, SendFlags::empty(), &kernel))
            .map_err(Error::Io)?;
        if sent != self.req.len() {
            return Err(Error::Io(Errno::MSGSIZE));
        }
        loop {
            if !keep {
                out.clear();
            }
            let start = out.len();
            let (_, size) = retry(|| {
                rustix::net::recv(fd, &mut [0u8; 0][..], RecvFlags::PEEK | RecvFlags::TRUNC)
            })
            .map_err(Error::Io)?;
            if start + size > MAX_REPLY {
                return Err(Error::Malformed("reply larger than the reply buffer's limit"));
            }
            out.reserve(size.max(MIN_RECV));
            let (_, got) = retry(|| {
                rustix::net::recv(fd, rustix::buffer::spare_capacity(out), RecvFlags::TRUNC)
            })
            .map_err(Error::Io)?;
            if out.len() - start != got {
                return Err(Error::Malformed("datagram larger than its peeked size"));
            }
            let complete = check_datagram(&out[start..], seq)?;
            each(&out[start..])?;
            if complete {
                return Ok(());
            }
        }
    }
}

/// Retries a socket call interrupted by a signal.
fn retry<T>(mut call: impl FnMut() -> Result<T, Errno>) -> Result<T, Errno> {
    loop {
        match call() {
            Err(Errno::INTR) => continue,
            r => return r,
        }
    }
}

fn open(protocol: Protocol) -> Result<OwnedFd, Errno> {
    // `NETLINK_ROUTE` is protocol 0, which rustix spells as no protocol.
    let proto = match protocol {
        Protocol::Route => None,
        Protocol::Generic => Some(rustix::net::netlink::GENERIC),
        Protocol::SockDiag => Some(rustix::net::netlink::SOCK_DIAG),
    };
    let fd = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::RAW,
        SocketFlags::CLOEXEC,
        proto,
    )?;
    rustix::net::bind(&fd, &SocketAddrNetlink::new(0, 0))?;
    rustix::net::sockopt::set_socket_timeout(
        &fd,
        rustix::net::sockopt::Timeout::Recv,
        Some(TIMEOUT),
    )?;
    Ok(fd)
}

/// Checks the framing of one datagram of replies to request `seq`. Returns whether the reply
/// is complete.
///
/// # Errors
/// The kernel's error for the request, or what is wrong with the framing.
pub fn check_datagram(mut dgram: &[u8], seq: u32) -> Result<bool, Error> {
    let mut complete = true;
    while !dgram.is_empty() {
        let (hdr, payload, rest) = split_message(dgram)?;
        dgram = rest;
        if hdr.seq != seq {
            return Err(Error::Malformed("reply to another request"));
        }
        match hdr.ty {
            NLMSG_NOOP => {}
            NLMSG_ERROR => {
                let code = ne_i32(payload, 0).ok_or(Error::Malformed("short error message"))?;
                return match code {
                    // An acknowledgement: the reply is over.
                    0 => Ok(true),
                    c => Err(Error::Kernel(Errno::from_raw_os_error(c.saturating_neg()))),
                };
            }
            NLMSG_DONE => {
                // A dump that failed part-way reports the error after NLMSG_DONE.
                if let Some(code @ 1..) = ne_i32(payload, 0).map(i32::saturating_neg) {
                    return Err(Error::Kernel(Errno::from_raw_os_error(code)));
                }
                return Ok(true);
            }
            NLMSG_OVERRUN => return Err(Error::Malformed("overrun")),
            _ => {
                if hdr.flags & F_MULTI != 0 {
                    complete = false;
                }
            }
        }
    }
    Ok(complete)
}

struct Header {
    ty: u16,
    flags: u16,
    seq: u32,
}

/// Splits the first message off `buf`: its header, its payload and what follows it (from the
/// next 4-byte boundary).
fn split_message(buf: &[u8]) -> Result<(Header, &[u8], &[u8]), Error> {
    let len = ne_u32(buf, 0).ok_or(Error::Malformed("truncated message header"))? as usize;
    if len < HDRLEN || buf.len() < HDRLEN {
        return Err(Error::Malformed("message shorter than its header"));
    }
    if len > buf.len() {
        return Err(Error::Malformed("message longer than its datagram"));
    }
    let hdr = Header {
        ty: ne_u16(buf, 4).unwrap_or(0),
        flags: ne_u16(buf, 6).unwrap_or(0),
        seq: ne_u32(buf, 8).unwrap_or(0),
    };
    let next = align4(len).min(buf.len());
    Ok((hdr, &buf[HDRLEN..len], &buf[next..]))
}

/// `NLMSG_ALIGN` / `NLA_ALIGN`: rounds up to a multiple of 4.
pub fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// A request under construction: the payload after the `nlmsghdr`.
#[derive(Debug)]
pub struct Request<'a> {
    buf: &'a mut Vec<u8>,
}

impl Request<'_> {
    /// Appends a fixed header (`ifinfomsg`, `genlmsghdr`, ...), padded to 4 bytes.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self.pad();
        self
    }

    /// Appends an attribute of type `ty` holding `data`.
    pub fn attr(&mut self, ty: u16, data: &[u8]) -> &mut Self {
        // An attribute's length field is 16 bits; netlink requests here are tiny.
        let len = (4 + data.len()).min(usize::from(u16::MAX)) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&data[..usize::from(len) - 4]);
        self.pad();
        self
    }

    /// Appends a `u32` attribute.
    pub fn attr_u32(&mut self, ty: u16, v: u32) -> &mut Self {
        self.attr(ty, &v.to_ne_bytes())
    }

    /// Appends a NUL-terminated string attribute.
    pub fn attr_str(&mut self, ty: u16, s: &str) -> &mut Self {
        let len = (4 + s.len() + 1).min(usize::from(u16::MAX)) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&s.as_bytes()[..usize::from(len) - 5]);
        self.buf.push(0);
        self.pad();
        self
    }

    fn pad(&mut self) {
        let n = align4(self.buf.len());
        self.buf.resize(n, 0);
    }
}

/// The data messages of a complete reply, in order; control messages (`NLMSG_DONE`, ...) are
/// left out. The framing was checked as the reply was read.
#[derive(Clone, Copy, Debug)]
pub struct Messages<'a> {
    buf: &'a [u8],
}

impl<'a> Messages<'a> {
    /// Messages laid out in `buf` (a reply buffer whose framing is already known good, or test
    /// input). A message whose framing is broken ends the iteration.
    pub fn new(buf: &'a [u8]) -> Messages<'a> {
        Messages { buf }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Message<'a>;

    fn next(&mut self) -> Option<Message<'a>> {
        while !self.buf.is_empty() {
            let Ok((hdr, payload, rest)) = split_message(self.buf) else {
                self.buf = &[];
                return None;
            };
            self.buf = rest;
            if hdr.ty >= NLMSG_MIN_TYPE {
                return Some(Message { ty: hdr.ty, flags: hdr.flags, payload });
            }
        }
        None
    }
}

/// One reply message.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    /// `nlmsg_type` (`RTM_NEWLINK`, a genetlink family id, `SOCK_DIAG_BY_FAMILY`).
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// Everything after the `nlmsghdr`.
    pub payload: &'a [u8],
}

impl<'a> Message<'a> {
    /// Splits the payload into its fixed header of `len` bytes and the attributes after it
    /// (from the next 4-byte boundary).
    ///
    /// # Errors
    /// `Malformed` when the payload is shorter than the fixed header.
    pub fn split(&self, len: usize) -> Result<(&'a [u8], Attrs<'a>), Error> {
        if self.payload.len() < len {
            return Err(Error::Malformed("message shorter than its fixed header"));
        }
        let at = align4(len).min(self.payload.len());
        Ok((&self.payload[..len], Attrs::new(&self.payload[at..])))
    }
}

/// Iterates over netlink attributes laid out back to back: `u16` length (header included),
/// `u16` type, data, padding to 4 bytes.
#[derive(Clone, Copy, Debug)]
pub struct Attrs<'a> {
    buf: &'a [u8],
}

impl<'a> Attrs<'a> {
    /// The attributes in `buf`.
    pub fn new(buf: &'a [u8]) -> Attrs<'a> {
        Attrs { buf }
    }

    /// Walks every attribute once, so that broken framing is found before any is used.
    ///
    /// # Errors
    /// As the iterator's items.
    pub fn check(self) -> Result<(), Error> {
        self.into_iter().try_for_each(|a| a.map(drop))
    }

    /// The data of the first attribute of type `ty`, if any.
    ///
    /// # Errors
    /// A framing error met before it.
    pub fn find(self, ty: u16) -> Result<Option<&'a [u8]>, Error> {
        for a in self {
            let a = a?;
            if a.ty == ty {
                return Ok(Some(a.data));
            }
        }
        Ok(None)
    }
}

impl<'a> IntoIterator for Attrs<'a> {
    type Item = Result<Attr<'a>, Error>;
    type IntoIter = AttrIter<'a>;

    fn into_iter(self) -> AttrIter<'a> {
        AttrIter { buf: self.buf }
    }
}

/// The iterator of [`Attrs`]: yields each attribute, or the framing error that ends it.
#[derive(Clone, Debug)]
pub struct AttrIter<'a> {
    buf: &'a [u8],
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Result<Attr<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let buf = std::mem::take(&mut self.buf);
        let (Some(len), Some(ty)) = (ne_u16(buf, 0), ne_u16(buf, 2)) else {
            return Some(Err(Error::Malformed("truncated attribute header")));
        };
        let len = usize::from(len);
        if len < 4 {
            return Some(Err(Error::Malformed("attribute shorter than its header")));
        }
        if len > buf.len() {
            return Some(Err(Error::Malformed("attribute longer than its message")));
        }
        self.buf = &buf[align4(len).min(buf.len())..];
        Some(Ok(Attr { ty: ty & NLA_TYPE_MASK, data: &buf[4..len] }))
    }
}

/// One attribute: its type (flag bits masked off) and its data.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Attr<'a> {
    /// The attribute type, without `NLA_F_NESTED` / `NLA_F_NET_BYTEORDER`.
    pub ty: u16,
    /// The data, without padding.
    pub data: &'a [u8],
}

impl<'a> Attr<'a> {
    /// The data as nested attributes.
    pub fn nested(&self) -> Attrs<'a> {
        Attrs::new(self.data)
    }
}

/// The native-endian `u16` at `off`, if `b` holds it.
pub fn ne_u16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(off..off.checked_add(2)?)?.try_into().ok()?))
}

/// The native-endian `u32` at `off`, if `b` holds it.
pub fn ne_u32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off.checked_add(4)?)?.try_into().ok()?))
}

/// The native-endian `i32` at `off`, if `b` holds it.
pub fn ne_i32(b: &[u8], off: usize) -> Option<i32> {
    ne_u32(b, off).map(|v| v as i32)
}

/// The native-endian `u64` at `off`, if `b` holds it.
pub fn ne_u64(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(off..off.checked_add(8)?)?.try_into().ok()?))
}

/// A string attribute's bytes without the trailing NULs the kernel adds (Go's `nlenc.String`).
pub fn trim_nul(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    &b[..end]
}

#[cfg(test)]
pub(crate) mod testing {
    //! Builders for hand-made replies.

    use super::*;

    /// Appends an attribute (padded) to `out`.
    pub fn attr(out: &mut Vec<u8>, ty: u16, data: &[u8]) {
        out.extend_from_slice(&((4 + data.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(data);
        out.resize(align4(out.len()), 0);
    }

    /// Appends a message (type `ty`, flags `NLM_F_MULTI`, sequence `seq`) holding `payload`.
    pub fn message(out: &mut Vec<u8>, ty: u16, seq: u32, payload: &[u8]) {
        out.extend_from_slice(&((HDRLEN + payload.len()) as u32).to_ne_bytes());
        out.extend_from_slice(&ty.to_ne_bytes());
        out.extend_from_slice(&F_MULTI.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(payload);
        out.resize(align4(out.len()), 0);
    }

    /// Appends `NLMSG_DONE`.
    pub fn done(out: &mut Vec<u8>, seq: u32) {
        message(out, NLMSG_DONE, seq, &0i32.to_ne_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn attributes_walk_and_nest() {
        let mut inner = Vec::new();
        attr(&mut inner, 1, &7u32.to_ne_bytes());
        let mut buf = Vec::new();
        attr(&mut buf, 3, b"eth0\0");
        attr(&mut buf, 0x8000 | 5, &inner);
        attr(&mut buf, 9, &[]);
        let got: Vec<Attr<'_>> = Attrs::new(&buf).into_iter().map(Result::unwrap).collect();
        assert_eq!(got.len(), 3);
        assert_eq!(trim_nul(got[0].data), b"eth0");
        assert_eq!(got[1].ty, 5, "NLA_F_NESTED is masked off");
        assert_eq!(got[1].nested().find(1).unwrap(), Some(&7u32.to_ne_bytes()[..]));
        assert_eq!(got[2].data, b"");
        assert_eq!(Attrs::new(&buf).find(42).unwrap(), None);
        assert!(Attrs::new(&[]).check().is_ok());
    }

    #[test]
    fn broken_attributes_are_errors() {
        let mut good = Vec::new();
        attr(&mut good, 1, &[1, 2, 3, 4, 5]);
        // Every truncation of a valid attribute is an error, never a panic.
        for cut in 1..good.len() - 3 {
            let r = Attrs::new(&good[..cut]).check();
            assert!(matches!(r, Err(Error::Malformed(_))), "cut at {cut}: {r:?}");
        }
        // The last attribute's padding may be missing.
        assert!(Attrs::new(&good[..9]).check().is_ok());
        for bad in [&[3u8, 0, 1, 0][..], &[0, 0, 1, 0], &[200, 0, 1, 0, 0, 0, 0, 0], &[8, 0]] {
            assert!(Attrs::new(bad).check().is_err(), "{bad:?}");
            assert!(Attrs::new(bad).find(7).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn datagram_framing() {
        let mut ok = Vec::new();
        message(&mut ok, 16, 5, &[0; 16]);
        message(&mut ok, 16, 5, &[1; 20]);
        assert_eq!(check_datagram(&ok, 5), Ok(false), "multi-part, not done yet");
        let msgs: Vec<Message<'_>> = Messages::new(&ok).collect();
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[1].payload, &[1; 20]);
        assert!(msgs[0].split(16).is_ok());
        assert!(msgs[0].split(17).is_err());

        let mut end = ok.clone();
        done(&mut end, 5);
        assert_eq!(check_datagram(&end, 5), Ok(true));
        assert_eq!(Messages::new(&end).count(), 2, "NLMSG_DONE is not a data message");

        assert_eq!(check_datagram(&ok, 6), Err(Error::Malformed("reply to another request")));

        let mut err = Vec::new();
        message(&mut err, NLMSG_ERROR, 5, &(-1i32).to_ne_bytes());
        assert_eq!(check_datagram(&err, 5), Err(Error::Kernel(Errno::PERM)));
        let mut ack = Vec::new();
        message(&mut ack, NLMSG_ERROR, 5, &[0; 20]);
        assert_eq!(check_datagram(&ack, 5), Ok(true));
        let mut short_err = Vec::new();
        message(&mut short_err, NLMSG_ERROR, 5, &[0; 2]);
        assert!(check_datagram(&short_err, 5).is_err());
        let mut failed_dump = Vec::new();
        message(&mut failed_dump, NLMSG_DONE, 5, &(-16i32).to_ne_bytes());
        assert_eq!(check_datagram(&failed_dump, 5), Err(Error::Kernel(Errno::BUSY)));

        // Every truncation of a datagram is an error, never a panic.
        for cut in 1..end.len() {
            if cut % 4 == 0 && [32, 68].contains(&cut) {
                continue; // a message boundary: a shorter but valid datagram
            }
            assert!(check_datagram(&end[..cut], 5).is_err(), "cut at {cut}");
            let _ = Messages::new(&end[..cut]).count();
        }
        // A length field past the datagram, or shorter than a header.
        let mut long = ok.clone();
        long[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(check_datagram(&long, 5).is_err());
        assert_eq!(Messages::new(&long).count(), 0);
        let mut tiny = ok.clone();
        tiny[0..4].copy_from_slice(&4u32.to_ne_bytes());
        assert!(check_datagram(&tiny, 5).is_err());
    }

    #[test]
    fn request_layout() {
        let mut buf = Vec::new();
        let mut r = Request { buf: &mut buf };
        r.bytes(&[1, 2, 3]).attr_u32(3, 9).attr_str(4, "nl80211").attr(6, &[]);
        assert_eq!(buf.len(), 4 + 8 + 12 + 4);
        let attrs: Vec<Attr<'_>> = Attrs::new(&buf[4..]).into_iter().map(Result::unwrap).collect();
        assert_eq!(attrs[0], Attr { ty: 3, data: &9u32.to_ne_bytes() });
        assert_eq!(attrs[1], Attr { ty: 4, data: b"nl80211\0" });
        assert_eq!(attrs[2], Attr { ty: 6, data: b"" });
    }

    #[test]
    fn live_dump_whole_and_streamed() {
        let mut sock = Socket::new(Protocol::Route);
        let mut buf = Vec::new();
        let ifinfomsg = [0u8; 16];
        let whole = sock.dump_all(route::RTM_GETLINK, &ifinfomsg, &mut buf).unwrap().count();
        assert!(whole >= 1, "every namespace has lo");
        let mut streamed = 0;
        let build = |r: &mut Request<'_>| {
            r.bytes(&ifinfomsg);
        };
        let count = |_: Message<'_>| {
            streamed += 1;
            Ok(())
        };
        sock.dump_each(route::RTM_GETLINK, build, &mut buf, count).unwrap();
        assert_eq!(streamed, whole);
        assert!(sock.is_open());
        // A callback that stops part-way leaves replies unread: the socket is dropped, and the
        // next request opens a fresh one and works.
        let r = sock.dump_each(route::RTM_GETLINK, build, &mut buf, |_| Err(Error::Malformed("x")));
        assert_eq!(r, Err(Error::Malformed("x")));
        assert!(!sock.is_open());
        assert_eq!(sock.dump_all(route::RTM_GETLINK, &ifinfomsg, &mut buf).unwrap().count(), whole);
    }

    #[test]
    fn readers_are_bounds_checked() {
        let b = [1u8, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(ne_u32(&b, 0), Some(u32::from_ne_bytes([1, 0, 0, 0])));
        assert_eq!(ne_u32(&b, 5), None);
        assert!(ne_u64(&b, 0).is_some());
        assert_eq!(ne_u64(&b, 1), None);
        assert_eq!(ne_u16(&b, usize::MAX), None);
        assert_eq!(trim_nul(b"lo\0\0"), b"lo");
        assert_eq!(trim_nul(b"\0"), b"");
    }
}
