//! Compressed request bodies: `Content-Encoding: gzip` (RFC 1952, several members allowed,
//! as Go's `gzip.Reader` reads them) and `snappy` (the framing format of
//! github.com/google/snappy's `framing_format.txt`, as golang/snappy's `Reader` reads it),
//! decoded into a buffer the caller keeps, with errors worded as Go's.
//!
//! gzip inflates with one kept flate2 [`Decompress`]; snappy's framing is read here and each
//! block goes to the `snap` crate's raw decoder, so neither allocates once the output buffer
//! has grown. Output is capped: past the cap the body is refused rather than inflated (upstream
//! has no cap at all, and a small body can inflate to gigabytes).

use flate2::{Crc, Decompress, FlushDecompress, Status};
use std::fmt;

/// Why a body could not be decoded; `Display` gives Go's texts.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum BodyError {
    /// Nothing at all where a gzip header should be.
    Eof,
    /// Input ends early.
    UnexpectedEof,
    /// Not a gzip header.
    GzipHeader,
    /// A gzip member whose CRC or size does not match.
    GzipChecksum,
    /// A deflate stream that does not decode.
    Flate,
    /// A snappy stream that does not decode.
    SnappyCorrupt,
    /// A snappy chunk type reserved as unskippable.
    SnappyUnsupported,
    /// Decoded past the cap.
    TooLarge,
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BodyError::Eof => "EOF",
            BodyError::UnexpectedEof => "unexpected EOF",
            BodyError::GzipHeader => "gzip: invalid header",
            BodyError::GzipChecksum => "gzip: invalid checksum",
            BodyError::Flate => "flate: corrupt input",
            BodyError::SnappyCorrupt => "snappy: corrupt input",
            BodyError::SnappyUnsupported => "snappy: unsupported input",
            BodyError::TooLarge => "http: request body too large",
        })
    }
}

impl std::error::Error for BodyError {}

const FHCRC: u8 = 2;
const FEXTRA: u8 = 4;
const FNAME: u8 = 8;
const FCOMMENT: u8 = 16;

/// Length of the gzip member header at the start of `src`, checked as Go's
/// `gzip.NewReader` checks it.
///
/// # Errors
/// `Eof` for empty input, `UnexpectedEof` for a cut header, `GzipHeader` otherwise.
pub fn gzip_header(src: &[u8]) -> Result<usize, BodyError> {
    if src.is_empty() {
        return Err(BodyError::Eof);
    }
    if src.len() < 10 {
        return Err(BodyError::UnexpectedEof);
    }
    if src[0] != 0x1f || src[1] != 0x8b || src[2] != 8 {
        return Err(BodyError::GzipHeader);
    }
    let flags = src[3];
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let n = src.get(at..at + 2).ok_or(BodyError::UnexpectedEof)?;
        at += 2 + usize::from(u16::from_le_bytes([n[0], n[1]]));
        if at > src.len() {
            return Err(BodyError::UnexpectedEof);
        }
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let nul = memchr::memchr(0, &src[at..]).ok_or(BodyError::UnexpectedEof)?;
            at += nul + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
        if at > src.len() {
            return Err(BodyError::UnexpectedEof);
        }
    }
    Ok(at)
}

/// Inflates every gzip member of `src` into `out` (cleared first), at most `cap` bytes.
///
/// # Errors
/// See [`BodyError`]; `out` then holds whatever was inflated.
pub fn gunzip(
    src: &[u8],
    out: &mut Vec<u8>,
    inflate: &mut Decompress,
    cap: usize,
) -> Result<(), BodyError> {
    out.clear();
    let mut rest = src;
    loop {
        let header = gzip_header(rest)?;
        rest = &rest[header..];
        inflate.reset(false);
        let start = out.len();
        loop {
            if out.len() == out.capacity() {
                // Room for one byte past `cap`, to tell a body of exactly `cap` bytes from a
                // larger one.
                let room = (cap + 1).saturating_sub(out.len());
                if room == 0 {
                    return Err(BodyError::TooLarge);
                }
                out.reserve((rest.len() * 4).max(4096).min(room));
            }
            let before = inflate.total_in();
            let status = inflate
                .decompress_vec(rest, out, FlushDecompress::None)
                .map_err(|_| BodyError::Flate)?;
            let used = (inflate.total_in() - before) as usize;
            rest = &rest[used..];
            if out.len() > cap {
                return Err(BodyError::TooLarge);
            }
            match status {
                Status::StreamEnd => break,
                Status::Ok | Status::BufError => {
                    if rest.is_empty() && out.len() < out.capacity() {
                        return Err(BodyError::UnexpectedEof);
                    }
                }
            }
        }
        let trailer = rest.get(..8).ok_or(BodyError::UnexpectedEof)?;
        let mut crc = Crc::new();
        crc.update(&out[start..]);
        let want_crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
        let want_len = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
        if crc.sum() != want_crc || (out.len() - start) as u32 != want_len {
            return Err(BodyError::GzipChecksum);
        }
        rest = &rest[8..];
        if rest.is_empty() {
            return Ok(());
        }
    }
}

/// The largest block a snappy frame may hold, decoded.
const MAX_BLOCK: usize = 65_536;

/// Decodes a snappy framed stream into `out` (cleared first), at most `cap` bytes.
///
/// # Errors
/// `SnappyCorrupt` for anything malformed (missing stream identifier, bad CRC, a cut chunk),
/// `SnappyUnsupported` for a reserved unskippable chunk, `TooLarge` past the cap.
pub fn unsnappy(src: &[u8], out: &mut Vec<u8>, cap: usize) -> Result<(), BodyError> {
    out.clear();
    let mut rest = src;
    let mut seen_header = false;
    let mut decoder = snap::raw::Decoder::new();
    while !rest.is_empty() {
        let head = rest.get(..4).ok_or(BodyError::SnappyCorrupt)?;
        let kind = head[0];
        let len = usize::from(head[1]) | usize::from(head[2]) << 8 | usize::from(head[3]) << 16;
        let data = rest.get(4..4 + len).ok_or(BodyError::SnappyCorrupt)?;
        rest = &rest[4 + len..];
        if !seen_header && kind != 0xff {
            return Err(BodyError::SnappyCorrupt);
        }
        match kind {
            0xff => {
                if data != b"sNaPpY" {
                    return Err(BodyError::SnappyCorrupt);
                }
                seen_header = true;
            }
            0x00 | 0x01 => {
                let crc_bytes = data.get(..4).ok_or(BodyError::SnappyCorrupt)?;
                let want =
                    u32::from_le_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]);
                let payload = &data[4..];
                let start = out.len();
                if kind == 0x00 {
                    let n =
                        snap::raw::decompress_len(payload).map_err(|_| BodyError::SnappyCorrupt)?;
                    if n > MAX_BLOCK {
                        return Err(BodyError::SnappyCorrupt);
                    }
                    if start + n > cap {
                        return Err(BodyError::TooLarge);
                    }
                    out.resize(start + n, 0);
                    decoder
                        .decompress(payload, &mut out[start..])
                        .map_err(|_| BodyError::SnappyCorrupt)?;
                } else {
                    if payload.len() > MAX_BLOCK {
                        return Err(BodyError::SnappyCorrupt);
                    }
                    if start + payload.len() > cap {
                        return Err(BodyError::TooLarge);
                    }
                    out.extend_from_slice(payload);
                }
                if masked_crc32c(&out[start..]) != want {
                    return Err(BodyError::SnappyCorrupt);
                }
            }
            0x02..=0x7f => return Err(BodyError::SnappyUnsupported),
            _ => {}
        }
    }
    Ok(())
}

/// CRC-32C (Castagnoli) lookup table, reflected polynomial 0x82F63B78.
const CRC32C: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0x82f6_3b78 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

fn crc32c(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |c, &b| CRC32C[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8))
}

/// The checksum snappy frames carry: CRC-32C, rotated and offset ("masked").
fn masked_crc32c(data: &[u8]) -> u32 {
    let c = crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_cap_is_inclusive_and_may_be_small() {
        // Found by fuzzing: a cap under 4 KiB panicked (`clamp` with min > max), and a body
        // decoding to exactly the cap could be refused.
        let mut inflate = Decompress::new(false);
        let mut out = Vec::new();
        for cap in [0usize, 1, 99, 4095, 4096, 4097, 70_000] {
            for len in [cap.saturating_sub(1), cap, cap + 1] {
                let body: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
                let got = gunzip(&gz(&body), &mut out, &mut inflate, cap);
                if len <= cap {
                    assert_eq!(got, Ok(()), "{len} bytes, cap {cap}");
                    assert!(out == body, "{len} bytes, cap {cap}");
                } else {
                    assert_eq!(got, Err(BodyError::TooLarge), "{len} bytes, cap {cap}");
                }
            }
        }
    }

    #[test]
    fn gzip_round_trip_members_and_errors() {
        let mut inflate = Decompress::new(false);
        let mut out = Vec::new();
        let text = b"gzm 1\n".repeat(5000);
        let mut two = gz(&text);
        two.extend_from_slice(&gz(b"x 1\n"));
        gunzip(&two, &mut out, &mut inflate, 1 << 20).unwrap();
        assert_eq!(out.len(), text.len() + 4);
        let one = gz(b"gzm 1\n");
        gunzip(&one, &mut out, &mut inflate, 1 << 20).unwrap();
        assert_eq!(out, b"gzm 1\n");
        assert_eq!(gunzip(b"", &mut out, &mut inflate, 99), Err(BodyError::Eof));
        assert_eq!(gunzip(b"gzm 1\n", &mut out, &mut inflate, 99), Err(BodyError::UnexpectedEof));
        assert_eq!(
            gunzip(b"plain text body\n", &mut out, &mut inflate, 99),
            Err(BodyError::GzipHeader)
        );
        for n in 10..one.len() {
            assert!(gunzip(&one[..n], &mut out, &mut inflate, 99).is_err(), "{n}");
        }
        let mut bad = one.clone();
        let at = bad.len() - 5;
        bad[at] ^= 1;
        assert_eq!(gunzip(&bad, &mut out, &mut inflate, 99), Err(BodyError::GzipChecksum));
        assert_eq!(gunzip(&gz(&text), &mut out, &mut inflate, 1000), Err(BodyError::TooLarge));
        // From an empty buffer, with caps below the first reservation, and at the cap exactly.
        for cap in [0, 1, text.len() - 1] {
            let got = gunzip(&gz(&text), &mut Vec::new(), &mut inflate, cap);
            assert_eq!(got, Err(BodyError::TooLarge), "{cap}");
        }
        for cap in [text.len(), text.len() + 1] {
            let mut out = Vec::new();
            gunzip(&gz(&text), &mut out, &mut inflate, cap).unwrap();
            assert_eq!(out, text);
        }
    }

    #[test]
    fn snappy_frames() {
        let text = b"snm 1\n".repeat(30_000);
        let mut framed = Vec::new();
        snap::write::FrameEncoder::new(&mut framed).write_all(&text).unwrap();
        let mut out = Vec::new();
        unsnappy(&framed, &mut out, 1 << 20).unwrap();
        assert_eq!(out, text);
        let mut check = Vec::new();
        snap::read::FrameDecoder::new(&framed[..]).read_to_end(&mut check).unwrap();
        assert_eq!(check, text);
        assert_eq!(
            unsnappy(&framed[..framed.len() - 1], &mut out, 1 << 20),
            Err(BodyError::SnappyCorrupt)
        );
        assert_eq!(unsnappy(&framed[10..], &mut out, 1 << 20), Err(BodyError::SnappyCorrupt));
        assert_eq!(
            unsnappy(b"\xff\x06\x00\x00sNaPpY\x05\x00\x00\x00", &mut out, 9),
            Err(BodyError::SnappyUnsupported)
        );
        assert_eq!(unsnappy(b"", &mut out, 9), Ok(()));
        assert_eq!(unsnappy(&framed, &mut out, 1000), Err(BodyError::TooLarge));
    }
}
