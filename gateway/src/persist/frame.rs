//! The bytes on disk shared by log segments and snapshots: a 32-byte file header, then
//! frames, each an [`Op`](crate::op::Op) record behind a length, a CRC-32 and a sequence
//! number. The layout is in the [module docs](super).
//!
//! Writing is split in two so that a log appender does no hashing under the journal's lock:
//! [`push`] copies a record in behind a blank frame header, and the commit leader [`stamp`]s
//! sequence numbers and checksums into the whole batch just before it is written.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

/// Bytes in a file header.
pub(crate) const FILE_HEADER: usize = 32;
/// Bytes in a frame header: `u32` length, `u32` CRC-32, `u64` sequence number.
pub(crate) const FRAME_HEADER: usize = 16;
/// The longest record a frame can carry.
pub(crate) const MAX_RECORD: usize = u32::MAX as usize;

const SNAPSHOT_MAGIC: [u8; 8] = *b"\x89NGSNAP\n";
const LOG_MAGIC: [u8; 8] = *b"\x89NGWLOG\n";
const VERSION: u32 = 1;

/// Which of the two file types a header opens.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum FileKind {
    /// A snapshot: the whole state as ops, closed by an end frame.
    Snapshot,
    /// A log segment: ops appended since the snapshot of the same or an older generation.
    Log,
}

/// A file header: what the file is, its generation and, for a snapshot, the sequence number
/// of the first log record not reflected in it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct FileHeader {
    pub kind: FileKind,
    pub generation: u64,
    pub seq: u64,
}

/// Why a file header was refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum HeaderError {
    /// Not one of our magic numbers: some other file.
    Magic,
    /// Ours, but a format version this build does not read.
    Version(u32),
    /// Ours, but the header's checksum does not match.
    Checksum,
    /// Shorter than a header.
    Short,
}

impl FileHeader {
    /// The header's 32 bytes: magic, `u32` version, `u32` CRC-32 of bytes 16..32, `u64`
    /// generation, `u64` sequence number (little-endian).
    pub(crate) fn encode(&self) -> [u8; FILE_HEADER] {
        let mut b = [0; FILE_HEADER];
        b[..8].copy_from_slice(match self.kind {
            FileKind::Snapshot => &SNAPSHOT_MAGIC,
            FileKind::Log => &LOG_MAGIC,
        });
        b[8..12].copy_from_slice(&VERSION.to_le_bytes());
        b[16..24].copy_from_slice(&self.generation.to_le_bytes());
        b[24..32].copy_from_slice(&self.seq.to_le_bytes());
        let crc = crc32fast::hash(&b[16..]);
        b[12..16].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Reads a header from the first bytes of a file.
    pub(crate) fn decode(src: &[u8]) -> Result<FileHeader, HeaderError> {
        let kind = match src.get(..8) {
            Some(m) if m == SNAPSHOT_MAGIC => FileKind::Snapshot,
            Some(m) if m == LOG_MAGIC => FileKind::Log,
            Some(_) => return Err(HeaderError::Magic),
            None if SNAPSHOT_MAGIC.starts_with(src) || LOG_MAGIC.starts_with(src) => {
                return Err(HeaderError::Short)
            }
            None => return Err(HeaderError::Magic),
        };
        let b = src.get(..FILE_HEADER).ok_or(HeaderError::Short)?;
        let version = u32_at(b, 8);
        if version != VERSION {
            return Err(HeaderError::Version(version));
        }
        if u32_at(b, 12) != crc32fast::hash(&b[16..]) {
            return Err(HeaderError::Checksum);
        }
        Ok(FileHeader { kind, generation: u64_at(b, 16), seq: u64_at(b, 24) })
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// The checksum of a frame: its length field, sequence number and record, so that a flipped
/// bit in any of them is caught.
fn checksum(len: &[u8], seq: &[u8], record: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len);
    h.update(seq);
    h.update(record);
    h.finalize()
}

/// Appends `record` behind a frame header whose checksum and sequence number are left blank
/// for [`stamp`]. `record` must be at most [`MAX_RECORD`] bytes.
pub(crate) fn push(out: &mut Vec<u8>, record: &[u8]) {
    let len = u32::try_from(record.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(record);
}

/// Fills in the sequence numbers (from `first`, one per frame) and checksums of frames that
/// [`push`] wrote; returns how many frames `buf` holds.
pub(crate) fn stamp(buf: &mut [u8], first: u64) -> u64 {
    let mut at = 0;
    let mut n = 0;
    while at + FRAME_HEADER <= buf.len() {
        let len = u32_at(buf, at) as usize;
        let end = (at + FRAME_HEADER + len).min(buf.len());
        buf[at + 8..at + 16].copy_from_slice(&(first + n).to_le_bytes());
        let crc = checksum(&buf[at..at + 4], &buf[at + 8..at + 16], &buf[at + FRAME_HEADER..end]);
        buf[at + 4..at + 8].copy_from_slice(&crc.to_le_bytes());
        at = end;
        n += 1;
    }
    n
}

/// Appends one finished frame.
pub(crate) fn frame(out: &mut Vec<u8>, seq: u64, record: &[u8]) {
    let start = out.len();
    push(out, record);
    stamp(&mut out[start..], seq);
}

/// What [`Frames::next`] found.
#[derive(Debug, Eq, PartialEq)]
pub(crate) enum Next<'a> {
    /// A frame whose checksum matches.
    Record { seq: u64, record: &'a [u8] },
    /// The end of the file, exactly at a frame boundary.
    End,
    /// Damage at the frame starting at [`Frames::offset`].
    Bad(Bad),
}

/// Why a frame was not accepted.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Bad {
    /// The file ends inside the frame.
    Truncated,
    /// The checksum does not match.
    Checksum,
}

/// Reads frames from a file, one record at a time, into one reused buffer.
///
/// Memory: the buffer grows to the longest record read, and no record is read past the end
/// of the file, so a damaged length field cannot make it allocate more than the file holds.
#[derive(Debug)]
pub(crate) struct Frames {
    src: BufReader<File>,
    offset: u64,
    end: u64,
    buf: Vec<u8>,
}

impl Frames {
    /// Frames from `offset` (just after the header) to `end` (the file's length, or less to
    /// stop early).
    ///
    /// # Errors
    /// The seek's.
    pub(crate) fn new(mut file: File, offset: u64, end: u64) -> io::Result<Frames> {
        file.seek(SeekFrom::Start(offset))?;
        Ok(Frames { src: BufReader::with_capacity(64 << 10, file), offset, end, buf: Vec::new() })
    }

    /// Where the next frame starts: after [`Next::Bad`], where the damage starts.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// The next frame. After `End` or `Bad` it returns the same again.
    ///
    /// # Errors
    /// Reading the file failed: an I/O error, not damage.
    pub(crate) fn next(&mut self) -> io::Result<Next<'_>> {
        let left = self.end.saturating_sub(self.offset);
        if left == 0 {
            return Ok(Next::End);
        }
        if left < FRAME_HEADER as u64 {
            return Ok(Next::Bad(Bad::Truncated));
        }
        let mut head = [0; FRAME_HEADER];
        self.src.read_exact(&mut head)?;
        let len = u64::from(u32_at(&head, 0));
        if len > left - FRAME_HEADER as u64 {
            // Leave the reader where the damage starts for a caller that asks again.
            self.src.seek_relative(-(FRAME_HEADER as i64))?;
            return Ok(Next::Bad(Bad::Truncated));
        }
        // `len` is bounded by the file's length just above.
        self.buf.resize(len as usize, 0);
        self.src.read_exact(&mut self.buf)?;
        if u32_at(&head, 4) != checksum(&head[..4], &head[8..], &self.buf) {
            self.src.seek_relative(-(FRAME_HEADER as i64) - len as i64)?;
            return Ok(Next::Bad(Bad::Checksum));
        }
        self.offset += FRAME_HEADER as u64 + len;
        Ok(Next::Record { seq: u64_at(&head, 8), record: &self.buf })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(name: &str, bytes: &[u8]) -> (File, u64) {
        let dir = std::env::temp_dir().join(format!("nodegate-frame-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let mut f = File::create(&path).unwrap();
        f.write_all(bytes).unwrap();
        (File::open(&path).unwrap(), bytes.len() as u64)
    }

    fn read_all(name: &str, bytes: &[u8]) -> (Vec<(u64, Vec<u8>)>, Next<'static>, u64) {
        let (f, len) = file_with(name, bytes);
        let mut frames = Frames::new(f, 0, len).unwrap();
        let mut out = Vec::new();
        loop {
            match frames.next().unwrap() {
                Next::Record { seq, record } => out.push((seq, record.to_vec())),
                Next::End => return (out, Next::End, frames.offset()),
                Next::Bad(b) => {
                    // Asking again gives the same answer from the same place.
                    let at = frames.offset();
                    assert_eq!(frames.next().unwrap(), Next::Bad(b));
                    assert_eq!(frames.offset(), at);
                    return (out, Next::Bad(b), at);
                }
            }
        }
    }

    #[test]
    fn header_round_trip_and_refusals() {
        for kind in [FileKind::Snapshot, FileKind::Log] {
            let h = FileHeader { kind, generation: 7, seq: u64::MAX - 1 };
            let b = h.encode();
            assert_eq!(FileHeader::decode(&b), Ok(h));
            for n in 0..FILE_HEADER {
                assert_eq!(FileHeader::decode(&b[..n]), Err(HeaderError::Short), "prefix {n}");
            }
            let mut bad = b;
            bad[20] ^= 1;
            assert_eq!(FileHeader::decode(&bad), Err(HeaderError::Checksum));
            let mut bad = b;
            bad[8] = 2;
            assert_eq!(FileHeader::decode(&bad), Err(HeaderError::Version(2)));
        }
        assert_eq!(FileHeader::decode(b"# HELP x\n"), Err(HeaderError::Magic));
        assert_eq!(FileHeader::decode(b")\xff\x8d"), Err(HeaderError::Magic));
        assert_eq!(FileHeader::decode(b""), Err(HeaderError::Short));
    }

    #[test]
    fn push_then_stamp_equals_frame() {
        let mut a = Vec::new();
        push(&mut a, b"one");
        push(&mut a, b"");
        push(&mut a, b"three");
        assert_eq!(stamp(&mut a, 41), 3);
        let mut b = Vec::new();
        frame(&mut b, 41, b"one");
        frame(&mut b, 42, b"");
        frame(&mut b, 43, b"three");
        assert_eq!(a, b);
    }

    #[test]
    fn frames_read_back() {
        let mut buf = Vec::new();
        for i in 0..5u64 {
            frame(&mut buf, 10 + i, &vec![i as u8; i as usize * 100]);
        }
        let (got, end, at) = read_all("back", &buf);
        assert_eq!(end, Next::End);
        assert_eq!(at, buf.len() as u64);
        assert_eq!(got.len(), 5);
        for (i, (seq, rec)) in got.iter().enumerate() {
            assert_eq!(*seq, 10 + i as u64);
            assert_eq!(rec, &vec![i as u8; i * 100]);
        }
    }

    #[test]
    fn every_truncation_keeps_the_whole_frames_before_it() {
        let mut buf = Vec::new();
        let mut ends = vec![0];
        for i in 0..4u64 {
            frame(&mut buf, i, &[b'x'; 7][..i as usize * 2]);
            ends.push(buf.len());
        }
        for cut in 0..=buf.len() {
            let (got, next, at) = read_all("cut", &buf[..cut]);
            let whole = ends.iter().filter(|&&e| e <= cut).count() - 1;
            assert_eq!(got.len(), whole, "cut {cut}");
            assert_eq!(at, ends[whole] as u64, "cut {cut}");
            let want = if ends.contains(&cut) { Next::End } else { Next::Bad(Bad::Truncated) };
            assert_eq!(next, want, "cut {cut}");
        }
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let mut buf = Vec::new();
        frame(&mut buf, 3, b"a record");
        frame(&mut buf, 4, b"another");
        let first = FRAME_HEADER + 8;
        for byte in 0..buf.len() {
            for bit in 0..8 {
                let mut bad = buf.clone();
                bad[byte] ^= 1 << bit;
                let (got, next, at) = read_all("flip", &bad);
                let whole = usize::from(byte >= first);
                assert_eq!(got.len(), whole, "byte {byte} bit {bit}");
                assert_eq!(at, if whole == 1 { first as u64 } else { 0 });
                assert!(matches!(next, Next::Bad(_)), "byte {byte} bit {bit}: {next:?}");
            }
        }
    }
}
