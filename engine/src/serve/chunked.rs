//! `Transfer-Encoding: chunked` request bodies (RFC 9112 §7.1), decoded in place.
//!
//! The raw body lies in the connection's buffer right after the decoded data; decoding moves
//! each chunk's data down over the framing before it, so the buffer always holds
//! `[head][decoded body][raw bytes not yet decoded]` and never needs a second buffer. Bytes
//! are decoded as they arrive: all that stays undecoded between reads is nothing, and after
//! the last chunk, the start of the next pipelined request.
//!
//! Chunk extensions and trailer fields are read and dropped, as Go's server does. Each line
//! of framing is capped at [`MAX_LINE`] bytes so a client cannot stream one forever.

/// Longest chunk-size line (with extensions) or trailer field, as Go's `maxLineLength`.
const MAX_LINE: usize = 4096;

/// Why a chunked body was refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(super) enum ChunkError {
    /// A chunk size that is not hexadecimal, or is missing, or overflows.
    Size,
    /// A missing line break after chunk data or the last trailer.
    Syntax,
    /// A size line or trailer field longer than [`MAX_LINE`].
    LineTooLong,
    /// The decoded body would exceed the limit (a 413).
    TooLarge,
}

/// How far a call to [`Decoder::decode`] got.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(super) enum Status {
    /// Every byte given was consumed; the body goes on.
    Partial,
    /// The body ended: the buffer holds the decoded body and, after it, the bytes that
    /// followed the chunked framing, up to this length.
    Done(usize),
}

/// Where the decoder is in the chunked grammar.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum State {
    /// Reading a chunk size's hex digits; `digits` seen so far.
    Size { digits: u8 },
    /// Past the size, skipping an extension up to the line's end.
    Extension,
    /// After a `\r` ending a size line.
    SizeLf,
    /// Inside chunk data.
    Data,
    /// After chunk data: expecting `\r\n`.
    DataCr,
    /// After chunk data and `\r`.
    DataLf,
    /// At the start of a trailer line (or of the final blank line).
    TrailerStart,
    /// Inside a trailer field.
    Trailer,
    /// After the `\r` of the final blank line.
    FinalLf,
    /// Past the final blank line.
    Done,
}

/// The decoding state kept between reads.
#[derive(Clone, Copy, Debug)]
pub(super) struct Decoder {
    state: State,
    /// Chunk size while reading it; then data bytes left in the chunk.
    size: u64,
    /// Bytes in the current framing line, for [`MAX_LINE`].
    line: usize,
    /// Decoded bytes so far, at the front of the buffer.
    out: usize,
}

impl Decoder {
    /// A decoder at the start of a body.
    pub fn new() -> Decoder {
        Decoder { state: State::Size { digits: 0 }, size: 0, line: 0, out: 0 }
    }

    /// Decoded bytes so far: they are `buf[..decoded()]`.
    pub fn decoded(&self) -> usize {
        self.out
    }

    /// Decodes the raw bytes `buf[self.decoded()..]`, moving chunk data down to follow the data
    /// decoded before. On [`Status::Partial`] all of `buf` past [`decoded`](Self::decoded) was
    /// consumed and may be dropped. The decoded body may not exceed `max` bytes.
    ///
    /// # Errors
    /// A [`ChunkError`] for framing that breaks the grammar or a body over `max`.
    pub fn decode(&mut self, buf: &mut [u8], max: usize) -> Result<Status, ChunkError> {
        let mut at = self.out;
        while at < buf.len() {
            if self.state == State::Data {
                // Bulk path: the data bytes that are in, moved down in one copy.
                let n = usize::try_from(self.size).unwrap_or(usize::MAX).min(buf.len() - at);
                buf.copy_within(at..at + n, self.out);
                self.out += n;
                self.size -= n as u64;
                at += n;
                if self.size == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            let b = buf[at];
            at += 1;
            self.step(b, max)?;
            if self.state == State::Done {
                let tail = buf.len() - at;
                buf.copy_within(at.., self.out);
                return Ok(Status::Done(self.out + tail));
            }
        }
        Ok(Status::Partial)
    }

    /// Advances over one framing byte.
    fn step(&mut self, b: u8, max: usize) -> Result<(), ChunkError> {
        self.line += 1;
        if self.line > MAX_LINE {
            return Err(ChunkError::LineTooLong);
        }
        if let (State::Size { digits }, Some(d)) = (self.state, super::hex(b)) {
            // 16 digits fill a u64; a 17th would overflow.
            if digits == 16 {
                return Err(ChunkError::Size);
            }
            self.size = self.size << 4 | u64::from(d);
            self.state = State::Size { digits: digits + 1 };
            return Ok(());
        }
        self.state = match (self.state, b) {
            (State::Size { digits: 0 }, _) => return Err(ChunkError::Size),
            (State::Size { .. }, b';' | b' ' | b'\t') => State::Extension,
            (State::Size { .. } | State::Extension, b'\r') => State::SizeLf,
            (State::Size { .. } | State::Extension | State::SizeLf, b'\n') => {
                self.size_line_end(max)?
            }
            (State::Size { .. } | State::SizeLf, _) => return Err(ChunkError::Size),
            (State::Extension, _) => State::Extension,
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataCr | State::DataLf, b'\n') => self.line_start(State::Size { digits: 0 }),
            (State::TrailerStart, b'\r') => State::FinalLf,
            (State::TrailerStart | State::FinalLf, b'\n') => State::Done,
            (State::Trailer, b'\n') => self.line_start(State::TrailerStart),
            (State::TrailerStart | State::Trailer, _) => State::Trailer,
            (State::DataCr | State::DataLf | State::FinalLf | State::Data | State::Done, _) => {
                return Err(ChunkError::Syntax)
            }
        };
        Ok(())
    }

    /// The state after a complete size line: data, or the trailer after the last chunk.
    fn size_line_end(&mut self, max: usize) -> Result<State, ChunkError> {
        // Refuse an oversized chunk from its size, before reading its data.
        let left = (max - self.out) as u64;
        if self.size > left {
            return Err(ChunkError::TooLarge);
        }
        Ok(match self.size {
            0 => self.line_start(State::TrailerStart),
            _ => self.line_start(State::Data),
        })
    }

    fn line_start(&mut self, next: State) -> State {
        self.line = 0;
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A decoded body and the bytes that followed it.
    type Decoded = (Vec<u8>, Vec<u8>);

    /// Feeds `raw` split at `cuts` as reads would deliver it, compacting the buffer as the
    /// connection does; returns the body and what followed it.
    fn feed(raw: &[u8], cuts: &[usize], max: usize) -> Result<Option<Decoded>, ChunkError> {
        let mut dec = Decoder::new();
        let mut buf = Vec::new();
        let mut from = 0;
        for &to in cuts.iter().chain(std::iter::once(&raw.len())) {
            let to = to.clamp(from, raw.len());
            buf.extend_from_slice(&raw[from..to]);
            from = to;
            match dec.decode(&mut buf, max)? {
                Status::Partial => buf.truncate(dec.decoded()),
                Status::Done(len) => {
                    buf.truncate(len);
                    let tail = buf.split_off(dec.decoded());
                    let mut rest = tail;
                    rest.extend_from_slice(&raw[from..]);
                    return Ok(Some((buf, rest)));
                }
            }
        }
        Ok(None)
    }

    #[test]
    fn decodes_with_extensions_and_trailers() {
        let raw = b"5;name=v\r\nhello\r\n1\r\n \r\nA \r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nGET /";
        let (body, tail) = feed(raw, &[], 100).unwrap().unwrap();
        assert_eq!(body, b"hello 0123456789");
        assert_eq!(tail, b"GET /");
    }

    #[test]
    fn bare_line_feeds_are_accepted() {
        let (body, tail) = feed(b"3\nabc\n0\n\n", &[], 100).unwrap().unwrap();
        assert_eq!((&body[..], &tail[..]), (&b"abc"[..], &b""[..]));
    }

    #[test]
    fn refusals() {
        let err = |raw: &[u8]| feed(raw, &[], 10).unwrap_err();
        assert_eq!(err(b"x\r\n"), ChunkError::Size);
        assert_eq!(err(b"\r\n"), ChunkError::Size);
        assert_eq!(err(b"11111111111111111\r\n"), ChunkError::Size);
        assert_eq!(err(b"3\r\nabcX"), ChunkError::Syntax);
        assert_eq!(err(b"b\r\n"), ChunkError::TooLarge);
        assert_eq!(err(b"5\r\n12345\r\n6\r\n"), ChunkError::TooLarge);
        let mut long = b"1;".to_vec();
        long.resize(MAX_LINE + 10, b'x');
        assert_eq!(err(&long), ChunkError::LineTooLong);
    }

    #[test]
    fn at_the_limit_is_accepted() {
        let (body, _) = feed(b"5\r\n12345\r\n5\r\n67890\r\n0\r\n\r\n", &[], 10).unwrap().unwrap();
        assert_eq!(body, b"1234567890");
    }

    fn encode(body: &[u8], sizes: &[usize], ext: bool, trailer: bool) -> Vec<u8> {
        let mut raw = Vec::new();
        let mut rest = body;
        let mut sizes = sizes.iter().cycle();
        while !rest.is_empty() {
            let n = (*sizes.next().unwrap()).clamp(1, rest.len());
            raw.extend_from_slice(format!("{n:X}").as_bytes());
            if ext {
                raw.extend_from_slice(b";a=b");
            }
            raw.extend_from_slice(b"\r\n");
            raw.extend_from_slice(&rest[..n]);
            raw.extend_from_slice(b"\r\n");
            rest = &rest[n..];
        }
        raw.extend_from_slice(b"0\r\n");
        if trailer {
            raw.extend_from_slice(b"Trailer-Field: yes\r\n");
        }
        raw.extend_from_slice(b"\r\n");
        raw
    }

    proptest! {
        /// Oracle: any body, chunked any way and delivered in any pieces, decodes to itself, and
        /// the bytes after it survive; every strict prefix is `Partial`, never an error.
        #[test]
        fn round_trip(
            body in proptest::collection::vec(any::<u8>(), 0..600),
            sizes in proptest::collection::vec(1usize..80, 1..8),
            cuts in proptest::collection::vec(0usize..800, 0..12),
            ext: bool,
            trailer: bool,
            tail in proptest::collection::vec(any::<u8>(), 0..20),
        ) {
            let mut raw = encode(&body, &sizes, ext, trailer);
            let framed = raw.len();
            raw.extend_from_slice(&tail);
            let mut cuts = cuts;
            cuts.sort_unstable();
            let (got, rest) = feed(&raw, &cuts, body.len()).unwrap().unwrap();
            prop_assert_eq!(got, body);
            prop_assert_eq!(rest, tail);
            for n in (0..framed).step_by(framed / 16 + 1).chain(std::iter::once(framed - 1)) {
                prop_assert_eq!(feed(&raw[..n], &cuts, usize::MAX).unwrap(), None);
            }
        }
    }
}
