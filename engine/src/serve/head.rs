//! Request heads: finding where one ends, parsing it with httparse into a [`Request`], and
//! reading the header fields the loop itself acts on (RFC 9112 §6 message framing, §9.3
//! persistence, RFC 9110 §10.1.1 `Expect`, §7.2 `Host`).
//!
//! Parsing borrows the connection's buffer and a header array on the caller's stack; nothing
//! here allocates. The loop parses each head once to route it, and a worker parses the same
//! bytes again from the buffer it was handed, which is cheaper than moving borrowed headers
//! across threads.

use super::{Header, Method, Request};
use crate::lex;

/// Header fields parsed per request, in an array on the stack. A head with more is a 431.
pub const MAX_HEADERS: usize = 64;

/// How the request's body is delimited.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes follow the head.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed head: the request (with an empty body and no peer yet) and what the loop needs to
/// frame the exchange.
#[derive(Debug)]
pub struct Head<'a> {
    /// The request as handlers see it.
    pub req: Request<'a>,
    /// Bytes of the head, the blank line included.
    pub len: usize,
    /// How the body is delimited.
    pub framing: Framing,
    /// Whether the connection stays open after the response.
    pub keep_alive: bool,
    /// `HTTP/1.0`: a kept-alive connection must be confirmed with `Connection: keep-alive`.
    pub http10: bool,
    /// `Expect: 100-continue` on an `HTTP/1.1` request.
    pub expect_continue: bool,
}

/// Why a head was refused; each maps to the status the loop answers with before closing.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum HeadError {
    /// The request line or a header field breaks the grammar.
    Syntax,
    /// More than [`MAX_HEADERS`] header fields.
    TooManyHeaders,
    /// An `HTTP/` version other than 1.0 and 1.1.
    Version,
    /// A `Content-Length` that is not a number, or two that differ.
    ContentLength,
    /// Both `Content-Length` and `Transfer-Encoding`: refused rather than guessed, since
    /// picking one is how request smuggling starts.
    BothLengths,
    /// A transfer coding other than a single `chunked`.
    TransferCoding,
    /// An `HTTP/1.1` request without exactly one `Host`.
    Host,
    /// An `Expect` other than `100-continue`.
    Expectation,
}

impl HeadError {
    /// The status answered for this error.
    pub fn status(self) -> u16 {
        match self {
            HeadError::TooManyHeaders => 431,
            HeadError::Version => 505,
            HeadError::TransferCoding => 501,
            HeadError::Expectation => 417,
            HeadError::Syntax
            | HeadError::ContentLength
            | HeadError::BothLengths
            | HeadError::Host => 400,
        }
    }

    /// What went wrong, for the response body.
    pub fn as_str(self) -> &'static str {
        match self {
            HeadError::Syntax => "malformed request head",
            HeadError::TooManyHeaders => "too many header fields",
            HeadError::Version => "unsupported HTTP version",
            HeadError::ContentLength => "invalid Content-Length",
            HeadError::BothLengths => "both Content-Length and Transfer-Encoding",
            HeadError::TransferCoding => "unsupported Transfer-Encoding",
            HeadError::Host => "missing or repeated Host header",
            HeadError::Expectation => "unsupported Expect",
        }
    }
}

/// Finds the end of a head in `buf`: the index just past its blank line (`\n\n` or
/// `\n\r\n`). `scanned` carries over between calls, so bytes arriving one at a time are
/// looked at once rather than re-parsed from the start each time (which would cost quadratic
/// time on a slow client). httparse runs only once a blank line is in.
pub fn find_end(buf: &[u8], scanned: &mut usize) -> Option<usize> {
    while let Some(i) = memchr::memchr(b'\n', &buf[*scanned..]) {
        let at = *scanned + i;
        match (buf.get(at + 1), buf.get(at + 2)) {
            (None, _) | (Some(b'\r'), None) => {
                // Undecided until more bytes arrive: look at this line feed again then.
                *scanned = at;
                return None;
            }
            (Some(b'\n'), _) => {
                *scanned = at + 1;
                return Some(at + 2);
            }
            (Some(b'\r'), Some(b'\n')) => {
                *scanned = at + 1;
                return Some(at + 3);
            }
            _ => *scanned = at + 1,
        }
    }
    *scanned = buf.len();
    None
}

/// Parses the head at the start of `buf`: `Ok(None)` if it is not complete yet (a blank line
/// found by [`find_end`] can also be one of the empty lines allowed before a request line).
///
/// # Errors
/// The [`HeadError`] to answer with.
pub fn parse<'a>(
    buf: &'a [u8],
    headers: &'a mut [Header<'a>],
) -> Result<Option<Head<'a>>, HeadError> {
    let mut raw = httparse::Request::new(headers);
    let len = match raw.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooManyHeaders),
        Err(httparse::Error::Version) if names_http(buf) => return Err(HeadError::Version),
        Err(_) => return Err(HeadError::Syntax),
    };
    let (Some(method), Some(target), Some(minor)) = (raw.method, raw.path, raw.version) else {
        return Err(HeadError::Syntax);
    };
    let headers: &'a [Header<'a>] = raw.headers;
    let http10 = minor == 0;
    let mut length = None;
    let mut chunked = false;
    let mut hosts = 0u32;
    let mut close = false;
    let mut keep = false;
    let mut expect_continue = false;
    for h in headers {
        let v = lex::trim(h.value);
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = lex::parse_u64(v).ok_or(HeadError::ContentLength)?;
            if length.is_some_and(|l| l != n) {
                return Err(HeadError::ContentLength);
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Only `chunked`, once: a coding under it (gzip, chunked) is not decoded here.
            if chunked || !v.eq_ignore_ascii_case(b"chunked") {
                return Err(HeadError::TransferCoding);
            }
            chunked = true;
        } else if h.name.eq_ignore_ascii_case("connection") {
            for tok in v.split(|&b| b == b',').map(lex::trim) {
                close |= tok.eq_ignore_ascii_case(b"close");
                keep |= tok.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if h.name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if h.name.eq_ignore_ascii_case("expect") && !http10 {
            // HTTP/1.0 predates `Expect`; such a client sends the body regardless.
            if !v.eq_ignore_ascii_case(b"100-continue") {
                return Err(HeadError::Expectation);
            }
            expect_continue = true;
        }
    }
    if hosts > 1 || (hosts == 0 && !http10) {
        return Err(HeadError::Host);
    }
    let framing = match (length, chunked) {
        (Some(_), true) => return Err(HeadError::BothLengths),
        (_, true) => Framing::Chunked,
        (Some(0) | None, false) => Framing::Empty,
        (Some(n), false) => Framing::Length(n),
    };
    let (path, query) = match memchr::memchr(b'?', target.as_bytes()) {
        Some(i) => (&target[..i], &target[i + 1..]),
        None => (target, ""),
    };
    Ok(Some(Head {
        req: Request { method: Method::parse(method), path, query, headers, body: &[], peer: None },
        len,
        framing,
        keep_alive: !close && (!http10 || keep),
        http10,
        expect_continue: expect_continue && framing != Framing::Empty,
    }))
}

/// Whether the request line names an HTTP version at all: httparse reports the same error for
/// `HTTP/2.0` (a 505) and for a line that is not HTTP (a 400).
fn names_http(buf: &[u8]) -> bool {
    let line = memchr::memchr(b'\n', buf).map_or(buf, |i| &buf[..i]);
    memchr::memmem::find(line, b" HTTP/").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(src: &[u8]) -> (Method, String, String, usize, Framing, bool, bool) {
        let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let h = parse(src, &mut hs).unwrap().unwrap();
        let r = &h.req;
        (r.method, r.path.into(), r.query.into(), h.len, h.framing, h.keep_alive, h.expect_continue)
    }

    fn parse_err(src: &[u8]) -> HeadError {
        let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
        parse(src, &mut hs).unwrap_err()
    }

    #[test]
    fn request_line_and_target() {
        let src = b"GET /metrics?collect[]=cpu&x HTTP/1.1\r\nHost: a\r\n\r\nrest";
        let (m, path, query, len, framing, keep, _) = parse_ok(src);
        assert_eq!(m, Method::Get);
        assert_eq!(path, "/metrics");
        assert_eq!(query, "collect[]=cpu&x");
        assert_eq!(len, src.len() - 4);
        assert_eq!(framing, Framing::Empty);
        assert!(keep);
    }

    #[test]
    fn persistence_by_version_and_connection() {
        let keep = |src: &[u8]| parse_ok(src).5;
        assert!(keep(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
        assert!(!keep(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n"));
        assert!(!keep(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: x, close\r\n\r\n"));
        assert!(!keep(b"GET / HTTP/1.0\r\n\r\n"));
        assert!(keep(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
    }

    #[test]
    fn framing() {
        let f = |src: &[u8]| parse_ok(src).4;
        assert_eq!(
            f(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n"),
            Framing::Length(12)
        );
        assert_eq!(f(b"POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\n\r\n"), Framing::Empty);
        assert_eq!(
            f(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"),
            Framing::Length(3)
        );
        assert_eq!(
            f(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n"),
            Framing::Chunked
        );
    }

    #[test]
    fn expect_continue_only_with_a_body() {
        let e = |src: &[u8]| parse_ok(src).6;
        assert!(e(
            b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"
        ));
        assert!(!e(b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n"));
        assert!(!e(b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"));
    }

    #[test]
    fn refusals() {
        assert_eq!(parse_err(b"GET / HTTP/2.0\r\n\r\n"), HeadError::Version);
        assert_eq!(parse_err(b"hello there\r\n\r\n"), HeadError::Syntax);
        assert_eq!(parse_err(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), HeadError::Syntax);
        assert_eq!(parse_err(b"GET / HTTP/1.1\r\n\r\n"), HeadError::Host);
        assert_eq!(parse_err(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), HeadError::Host);
        assert_eq!(
            parse_err(
                b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
            ),
            HeadError::ContentLength
        );
        assert_eq!(
            parse_err(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"),
            HeadError::ContentLength
        );
        assert_eq!(
            parse_err(
                concat!(
                    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n",
                    "Transfer-Encoding: chunked\r\n\r\n"
                )
                .as_bytes()
            ),
            HeadError::BothLengths
        );
        assert_eq!(
            parse_err(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            HeadError::TransferCoding
        );
        assert_eq!(
            parse_err(b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"),
            HeadError::Expectation
        );
        let mut many = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for _ in 0..MAX_HEADERS {
            many.extend_from_slice(b"X: y\r\n");
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse_err(&many), HeadError::TooManyHeaders);
    }

    #[test]
    fn every_prefix_is_partial() {
        let src = b"\r\nPOST /p?q HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
        for n in 0..src.len() {
            let mut hs = [httparse::EMPTY_HEADER; MAX_HEADERS];
            assert!(parse(&src[..n], &mut hs).unwrap().is_none(), "prefix {n}");
        }
    }

    /// `find_end` against a naive search, fed in one go and one byte at a time, and resumed
    /// after each blank line it finds.
    #[test]
    fn find_end_matches_a_naive_search() {
        fn naive(buf: &[u8]) -> Vec<usize> {
            let ends = |i: usize, m: &[u8]| buf[..i].ends_with(m);
            (1..=buf.len()).filter(|&i| ends(i, b"\n\n") || ends(i, b"\n\r\n")).collect()
        }
        for src in [
            &b"GET / HTTP/1.1\r\nHost: a\r\n\r\nX"[..],
            b"GET / HTTP/1.1\nHost: a\n\n",
            b"\r\n\r\nGET / HTTP/1.1\r\n\r\n",
            b"\n\n\nGET",
            b"GET / HTTP/1.1\r\n\rX\r\n\r\n",
        ] {
            let mut scanned = 0;
            let all: Vec<usize> = std::iter::from_fn(|| find_end(src, &mut scanned)).collect();
            assert_eq!(all, naive(src), "{src:?}");
            let mut scanned = 0;
            let bytewise: Vec<usize> =
                (1..=src.len()).filter_map(|n| find_end(&src[..n], &mut scanned)).collect();
            assert_eq!(bytewise, naive(src), "{src:?} bytewise");
        }
    }
}
