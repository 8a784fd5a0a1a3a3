//! Response heads (status line, `Date`, `Content-Type`, `Content-Length`, the handler's
//! header lines, `Connection`) and the few responses the loop writes by itself.
//!
//! Everything is written into buffers the connection owns and reuses; numbers go through
//! itoa's stack buffer.

use super::Response;

/// The interim response that asks a client waiting on `Expect: 100-continue` for its body.
pub(super) const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// What the response says about the connection.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(super) enum Connection {
    /// Nothing: HTTP/1.1 connections persist by default.
    Default,
    /// `Connection: keep-alive`, which an HTTP/1.0 client needs to keep the connection.
    KeepAlive,
    /// `Connection: close`: the server closes after this response.
    Close,
}

/// Writes the head for `resp` into `out` (cleared first).
pub(super) fn head(out: &mut Vec<u8>, resp: &Response, date: &[u8], connection: Connection) {
    let mut num = itoa::Buffer::new();
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(num.format(resp.status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(resp.status).as_bytes());
    out.extend_from_slice(b"\r\nDate: ");
    out.extend_from_slice(date);
    out.extend_from_slice(b"\r\n");
    if has_body(resp.status) {
        if !resp.content_type.is_empty() {
            out.extend_from_slice(b"Content-Type: ");
            out.extend_from_slice(resp.content_type.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Content-Length: ");
        out.extend_from_slice(num.format(resp.body.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(&resp.headers);
    out.extend_from_slice(match connection {
        Connection::Default => b"",
        Connection::KeepAlive => &b"Connection: keep-alive\r\n"[..],
        Connection::Close => b"Connection: close\r\n",
    });
    out.extend_from_slice(b"\r\n");
}

/// Whether a response with `status` carries a body (RFC 9110 §6.4.1): not 1xx, 204 or 304.
pub(super) fn has_body(status: u16) -> bool {
    !matches!(status, 100..=199 | 204 | 304)
}

/// Fills `resp` with a plain-text error the loop answers itself, worded as Go's server does:
/// `400 Bad Request: detail`.
pub(super) fn error(resp: &mut Response, status: u16, detail: &str) {
    resp.clear();
    resp.status = status;
    let mut num = itoa::Buffer::new();
    let body = &mut resp.body;
    body.extend_from_slice(num.format(status).as_bytes());
    body.push(b' ');
    body.extend_from_slice(reason(status).as_bytes());
    if !detail.is_empty() {
        body.extend_from_slice(b": ");
        body.extend_from_slice(detail.as_bytes());
    }
    body.push(b'\n');
}

/// Fills `resp` with the 503 promhttp answers past its in-flight limit, in its words.
pub(super) fn over_limit(resp: &mut Response, limit: usize) {
    resp.clear();
    resp.status = 503;
    let body = &mut resp.body;
    body.extend_from_slice(b"Limit of concurrent requests reached (");
    body.extend_from_slice(itoa::Buffer::new().format(limit).as_bytes());
    body.extend_from_slice(b"), try again later.\n");
}

/// The reason phrase for `status`; empty for codes not listed (the grammar allows it).
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        417 => "Expectation Failed",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        507 => "Insufficient Storage",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(out: &[u8]) -> &str {
        std::str::from_utf8(out).unwrap()
    }

    #[test]
    fn head_layout() {
        let mut resp = Response::default();
        resp.body.extend_from_slice(b"hello");
        resp.header("X-A", b"1");
        let mut out = Vec::new();
        head(&mut out, &resp, b"Thu, 01 Jan 1970 00:00:00 GMT", Connection::Close);
        assert_eq!(
            text(&out),
            "HTTP/1.1 200 OK\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\nX-A: 1\r\n\
             Connection: close\r\n\r\n"
        );
    }

    #[test]
    fn bodiless_statuses_have_no_length() {
        let mut resp = Response { status: 204, ..Response::default() };
        let mut out = Vec::new();
        head(&mut out, &resp, b"D", Connection::KeepAlive);
        assert_eq!(
            text(&out),
            "HTTP/1.1 204 No Content\r\nDate: D\r\nConnection: keep-alive\r\n\r\n"
        );
        resp.status = 599;
        head(&mut out, &resp, b"D", Connection::Default);
        assert!(text(&out).starts_with("HTTP/1.1 599 \r\n"));
        assert!(text(&out).contains("Content-Length: 0\r\n"));
    }

    #[test]
    fn loop_answers() {
        let mut resp = Response::default();
        resp.header("X-Stale", b"1");
        error(&mut resp, 431, "");
        assert_eq!(
            (resp.status, &resp.body[..]),
            (431, &b"431 Request Header Fields Too Large\n"[..])
        );
        assert!(resp.headers.is_empty());
        error(&mut resp, 400, "malformed request head");
        assert_eq!(resp.body, b"400 Bad Request: malformed request head\n");
        over_limit(&mut resp, 40);
        assert_eq!(resp.status, 503);
        assert_eq!(resp.body, b"Limit of concurrent requests reached (40), try again later.\n");
    }
}
