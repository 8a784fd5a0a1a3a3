//! gzip response bodies (RFC 1952), compressed on the worker that built them.
//!
//! Each worker keeps one raw-deflate [`Compress`] and one output buffer and resets them per
//! response, so compressing allocates nothing once the buffer has grown to the largest
//! compressed body. The gzip header and trailer are 18 bytes written here, around the
//! deflate stream, with [`Crc`] for the checksum.
//!
//! Level 1 (`Compression::fast`): exposition text is repetitive enough that the fastest level
//! already shrinks it several times over, and a scrape's CPU is what nodegate saves.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// The fixed gzip header: magic, deflate, no flags, no mtime, XFL 4 ("fastest"), OS unknown.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

/// A worker's gzip encoder.
#[derive(Debug)]
pub(super) struct Gzip {
    deflate: Compress,
    out: Vec<u8>,
}

impl Gzip {
    /// An encoder; allocates the deflate state (a few hundred KiB) once.
    pub fn new() -> Gzip {
        Gzip { deflate: Compress::new(Compression::fast(), false), out: Vec::new() }
    }

    /// Replaces `body` with its gzip encoding. Returns `false`, leaving `body` as it was, if
    /// the compressor failed (it does not on well-formed input).
    ///
    /// Grows the output buffer when a body compresses larger than any before, and `body` when
    /// its compressed form is longer than itself (tiny bodies).
    pub fn encode(&mut self, body: &mut Vec<u8>) -> bool {
        self.deflate.reset();
        self.out.clear();
        self.out.extend_from_slice(&HEADER);
        loop {
            // Level 1 output rarely exceeds a third of text input; grow from there as needed.
            if self.out.capacity() - self.out.len() < 64 {
                self.out.reserve(body.len() / 3 + 256);
            }
            let consumed = usize::try_from(self.deflate.total_in()).unwrap_or(body.len());
            let input = body.get(consumed..).unwrap_or_default();
            match self.deflate.compress_vec(input, &mut self.out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => break,
                Ok(Status::Ok | Status::BufError) => {
                    // Out of output space: the next pass grows the buffer.
                    if self.out.capacity() == self.out.len() {
                        self.out.reserve(self.out.len());
                    }
                }
                Err(_) => return false,
            }
        }
        let mut crc = Crc::new();
        crc.update(body);
        self.out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE is the length modulo 2^32 by definition.
        self.out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        body.clear();
        body.extend_from_slice(&self.out);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(src: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(src).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn round_trips_and_reuses_state() {
        let mut gz = Gzip::new();
        let text: Vec<u8> = (0..20_000)
            .flat_map(|i| {
                format!("node_cpu_seconds_total{{cpu=\"{i}\",mode=\"idle\"}} {i}.5\n").into_bytes()
            })
            .collect();
        for src in [&text[..], b"", b"x", &text[..100], &text[..]] {
            let mut body = src.to_vec();
            assert!(gz.encode(&mut body));
            assert_eq!(&body[..2], &[0x1f, 0x8b]);
            assert_eq!(gunzip(&body), src);
        }
    }

    #[test]
    fn incompressible_input_grows_the_buffer() {
        let mut gz = Gzip::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let mut body = noise.clone();
        assert!(gz.encode(&mut body));
        assert!(body.len() > noise.len());
        assert_eq!(gunzip(&body), noise);
    }
}
