//! `engine::serve::head`, the request-head parser: never panics; an accepted head's
//! path, query and header fields are slices of the input; every prefix of an accepted head is
//! incomplete (`Ok(None)`), never an error; the head alone parses to the same head; and
//! `find_end`, fed one byte at a time, finds the end a single call over the whole input finds.

use engine::serve::head::{find_end, parse, MAX_HEADERS};
use engine::serve::Header;

const EMPTY: Header<'static> = Header { name: "", value: b"" };

/// Checks one input (the bytes a client sent).
pub fn check(data: &[u8]) {
    let mut scanned = 0;
    let whole = find_end(data, &mut scanned);
    let mut scanned = 0;
    let fed = (1..=data.len()).find_map(|n| find_end(&data[..n], &mut scanned));
    assert_eq!(fed, whole, "find_end byte by byte disagrees with one call");

    let mut headers = [EMPTY; MAX_HEADERS];
    let head = match parse(data, &mut headers) {
        Ok(Some(head)) => head,
        Ok(None) => return,
        Err(e) => {
            assert!(matches!(e.status(), 400 | 417 | 431 | 501 | 505), "{e:?}");
            assert!(!e.as_str().is_empty());
            return;
        }
    };
    assert!(head.len <= data.len());
    let end = whole.expect("a complete head has an end find_end finds");
    assert!(end <= head.len, "find_end past the head");
    let req = &head.req;
    assert!(is_within(req.path.as_bytes(), data), "path not borrowed from the input");
    assert!(is_within(req.query.as_bytes(), data) || req.query.is_empty());
    for h in req.headers {
        assert!(is_within(h.name.as_bytes(), data) && is_within(h.value, data));
    }
    let (len, n_headers, path) = (head.len, req.headers.len(), req.path);
    for cut in 0..len {
        let mut scratch = [EMPTY; MAX_HEADERS];
        let got = parse(&data[..cut], &mut scratch);
        assert!(matches!(got, Ok(None)), "prefix of {cut} bytes: {got:?}");
    }
    let mut again_headers = [EMPTY; MAX_HEADERS];
    let again = parse(&data[..len], &mut again_headers).expect("the head alone parses");
    let again = again.expect("the head alone is complete");
    assert_eq!((again.len, again.req.headers.len(), again.req.path), (len, n_headers, path));
}

/// Whether `part` lies inside `whole` (an empty slice anywhere counts).
fn is_within(part: &[u8], whole: &[u8]) -> bool {
    let range = whole.as_ptr_range();
    part.is_empty() || (range.start <= part.as_ptr() && part.as_ptr_range().end <= range.end)
}
