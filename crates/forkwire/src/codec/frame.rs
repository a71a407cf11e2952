//! Cutting a byte stream into frames: lines in json mode, length-prefixed
//! payloads in advanced mode.
//!
//! The decoder owns one growable buffer. Bytes are read straight into its
//! spare capacity ([`FrameDecoder::fill_from`]) or pushed
//! ([`FrameDecoder::push`]); complete frames are then borrowed out of it
//! without copying. Memory stays bounded by [`Limits::max_frame`]: a json
//! line past the limit is skipped up to its newline, an advanced frame past
//! the limit is skipped by its declared length, and in both cases the stream
//! goes on with the next frame.
//!
//! The buffer grows with the bytes actually received, never with what a
//! length prefix claims (a 4-byte header announcing 256 MiB costs nothing
//! until the bytes come), at most doubling what is buffered per read; it
//! holds at most about twice `max_frame` plus one read, and it is given
//! back once a frame larger than [`SHRINK_ABOVE`] has been consumed.

use super::Mode;
use std::fmt;
use std::io::{self, Read};
use std::ops::Range;

/// Bounds applied to incoming frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest frame accepted, in bytes (json: the line without its
    /// newline; advanced: the payload without its length prefix).
    /// Default: 256 MiB.
    pub max_frame: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame: 256 << 20,
        }
    }
}

/// A frame the decoder could not deliver. The stream stays usable after
/// every variant except [`FrameError::Truncated`], which only comes at the
/// end of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A frame longer than [`Limits::max_frame`]; it was skipped.
    TooLarge {
        /// The frame's length, where it is known (advanced mode), or the
        /// number of bytes seen before giving up on it (json mode).
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The input ended in the middle of a frame.
    Truncated {
        /// How many bytes of the unfinished frame were received.
        pending: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { len, limit } => {
                write!(f, "frame of {len} bytes exceeds the limit of {limit} bytes")
            }
            FrameError::Truncated { pending } => {
                write!(f, "input ended inside a frame ({pending} bytes pending)")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// What the decoder is in the middle of.
#[derive(Debug, Clone, Copy)]
enum State {
    /// At a frame boundary or inside a frame being buffered.
    Normal,
    /// Dropping an oversized json line up to its newline.
    SkipLine { seen: usize },
    /// Dropping the rest of an oversized advanced frame.
    SkipBytes { left: usize },
}

/// Incremental frame splitter for one direction of a channel.
///
/// ```
/// use forkwire::codec::{FrameDecoder, Limits};
/// use forkwire::Mode;
///
/// let mut dec = FrameDecoder::new(Mode::Json, Limits::default());
/// dec.push(b"{\"a\":1}\n[2");
/// assert_eq!(dec.next_frame().unwrap().unwrap(), b"{\"a\":1}");
/// assert!(dec.next_frame().is_none());
/// dec.push(b"]\n");
/// assert_eq!(dec.next_frame().unwrap().unwrap(), b"[2]");
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    mode: Mode,
    limits: Limits,
    /// Always fully initialised; bytes past `end` are spare room.
    buf: Vec<u8>,
    /// Start of unconsumed bytes in `buf`.
    start: usize,
    /// End of received bytes in `buf`.
    end: usize,
    /// json: how far past `start` we already know there is no newline.
    scanned: usize,
    state: State,
}

const READ_CHUNK: usize = 64 * 1024;

/// A buffer larger than this is released once it holds no more than a
/// read's worth of unconsumed bytes, so one large frame does not pin its
/// memory for the life of the channel.
pub const SHRINK_ABOVE: usize = 1 << 20;

impl FrameDecoder {
    /// A decoder for `mode` with the given limits.
    pub fn new(mode: Mode, limits: Limits) -> Self {
        FrameDecoder {
            mode,
            limits,
            buf: Vec::new(),
            start: 0,
            end: 0,
            scanned: 0,
            state: State::Normal,
        }
    }

    /// The mode this decoder splits.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn pending(&self) -> usize {
        self.end - self.start
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.buf[self.end..self.end + bytes.len()].copy_from_slice(bytes);
        self.end += bytes.len();
    }

    /// Reads once from `reader` straight into the buffer. Returns the number
    /// of bytes read; `0` means end of input.
    pub fn fill_from<R: Read>(&mut self, reader: &mut R) -> io::Result<usize> {
        self.with_spare(|spare| reader.read(spare))
    }

    /// Lends the buffer's spare capacity (at least 64 KiB) to `read`, which
    /// returns how many bytes it wrote there.
    pub fn with_spare<F>(&mut self, read: F) -> io::Result<usize>
    where
        F: FnOnce(&mut [u8]) -> io::Result<usize>,
    {
        self.shrink_if_idle();
        self.reserve(self.read_size());
        let res = read(&mut self.buf[self.end..]);
        if let Ok(n) = res {
            self.end += n.min(self.buf.len() - self.end);
        }
        res
    }

    /// How much room the next read asks for: one chunk, or, inside a frame
    /// known to be longer, as much again as is buffered (so a large frame
    /// takes a logarithmic number of reallocations) up to what it lacks.
    /// Never more than the bytes already received justify.
    fn read_size(&self) -> usize {
        let pending = self.pending();
        let missing = match (self.mode, self.state) {
            (Mode::Advanced, State::Normal) => self
                .announced_len()
                .filter(|len| *len <= self.limits.max_frame)
                .map_or(0, |len| (4 + len).saturating_sub(pending)),
            _ => 0,
        };
        missing.min(pending).max(READ_CHUNK)
    }

    /// advanced mode: the length the next frame's header announces, once
    /// its 4 bytes are here.
    fn announced_len(&self) -> Option<usize> {
        let header: [u8; 4] = self.buf[self.start..self.end].get(..4)?.try_into().ok()?;
        Some(u32::from_be_bytes(header) as usize)
    }

    /// Gives back a large buffer once little of it is in use.
    fn shrink_if_idle(&mut self) {
        let pending = self.pending();
        if self.buf.len() > SHRINK_ABOVE && pending <= READ_CHUNK {
            let mut fresh = vec![0; READ_CHUNK.max(pending)];
            fresh[..pending].copy_from_slice(&self.buf[self.start..self.end]);
            self.buf = fresh;
            self.start = 0;
            self.end = pending;
        }
    }

    /// Bytes the buffer holds, used or not (for tests and accounting).
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Makes room for `extra` more bytes past `end`, first by moving the
    /// unconsumed bytes to the front, then by growing.
    fn reserve(&mut self, extra: usize) {
        if self.buf.len() - self.end >= extra {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let need = self.end + extra;
        if self.buf.len() < need {
            self.buf.resize(need.max(READ_CHUNK), 0);
        }
    }

    /// The next complete frame, an error for a frame that was dropped, or
    /// `None` when more input is needed.
    pub fn next_frame(&mut self) -> Option<Result<&[u8], FrameError>> {
        Some(self.next_range()?.map(|r| &self.buf[r]))
    }

    /// Like [`FrameDecoder::next_frame`], but returns where the frame sits
    /// in the buffer; read it with [`FrameDecoder::frame`] before the next
    /// call that takes `&mut self`.
    pub fn next_range(&mut self) -> Option<Result<Range<usize>, FrameError>> {
        match self.mode {
            Mode::Json => self.next_line(),
            Mode::Advanced => self.next_prefixed(),
        }
    }

    /// The bytes of a range returned by [`FrameDecoder::next_range`].
    pub fn frame(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Call at end of input: an error if a partial frame is left.
    pub fn finish(&mut self) -> Result<(), FrameError> {
        let pending = self.pending();
        self.start = self.end;
        self.scanned = 0;
        let skipping = !matches!(self.state, State::Normal);
        self.state = State::Normal;
        if pending > 0 || skipping {
            Err(FrameError::Truncated { pending })
        } else {
            Ok(())
        }
    }

    fn next_line(&mut self) -> Option<Result<Range<usize>, FrameError>> {
        let avail = &self.buf[self.start..self.end];
        let from = self.scanned.min(avail.len());
        match memchr::memchr(b'\n', &avail[from..]) {
            Some(pos) => {
                let end = from + pos;
                let begin = self.start;
                self.start += end + 1;
                self.scanned = 0;
                match std::mem::replace(&mut self.state, State::Normal) {
                    State::SkipLine { seen } => Some(Err(FrameError::TooLarge {
                        len: seen + end,
                        limit: self.limits.max_frame,
                    })),
                    _ if end > self.limits.max_frame => Some(Err(FrameError::TooLarge {
                        len: end,
                        limit: self.limits.max_frame,
                    })),
                    _ => Some(Ok(begin..begin + end)),
                }
            }
            None => {
                let len = avail.len();
                let limit = self.limits.max_frame;
                match &mut self.state {
                    State::SkipLine { seen } => {
                        *seen += len;
                        self.start = self.end;
                        self.scanned = 0;
                    }
                    _ if len > limit => {
                        self.state = State::SkipLine { seen: len };
                        self.start = self.end;
                        self.scanned = 0;
                    }
                    _ => self.scanned = len,
                }
                None
            }
        }
    }

    fn next_prefixed(&mut self) -> Option<Result<Range<usize>, FrameError>> {
        if let State::SkipBytes { left } = self.state {
            let take = left.min(self.pending());
            self.start += take;
            if take < left {
                self.state = State::SkipBytes { left: left - take };
                return None;
            }
            self.state = State::Normal;
        }
        let len = self.announced_len()?;
        if len > self.limits.max_frame {
            self.start += 4;
            self.state = State::SkipBytes { left: len };
            return Some(Err(FrameError::TooLarge {
                len,
                limit: self.limits.max_frame,
            }));
        }
        if self.pending() < 4 + len {
            // Room is made as the bytes arrive (see `read_size`), not here:
            // the header alone must not cost `len` bytes.
            return None;
        }
        let begin = self.start + 4;
        self.start = begin + len;
        Some(Ok(begin..begin + len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(dec: &mut FrameDecoder) -> Vec<Result<Vec<u8>, FrameError>> {
        let mut out = Vec::new();
        while let Some(f) = dec.next_frame() {
            out.push(f.map(<[u8]>::to_vec));
        }
        out
    }

    #[test]
    fn json_lines_split_across_pushes() {
        let mut dec = FrameDecoder::new(Mode::Json, Limits::default());
        for b in b"1\n\"ab\"\n{}\n" {
            dec.push(&[*b]);
            let _ = frames(&mut dec);
        }
        dec.push(b"[1]\n[2]\n[3");
        assert_eq!(
            frames(&mut dec),
            vec![Ok(b"[1]".to_vec()), Ok(b"[2]".to_vec())]
        );
        assert_eq!(dec.finish(), Err(FrameError::Truncated { pending: 2 }));
    }

    #[test]
    fn oversized_line_is_skipped_and_stream_resyncs() {
        let mut dec = FrameDecoder::new(Mode::Json, Limits { max_frame: 4 });
        dec.push(b"12345");
        assert!(frames(&mut dec).is_empty());
        dec.push(b"678\nok\n");
        assert_eq!(
            frames(&mut dec),
            vec![
                Err(FrameError::TooLarge { len: 8, limit: 4 }),
                Ok(b"ok".to_vec())
            ]
        );
        assert_eq!(dec.pending(), 0);
    }

    #[test]
    fn advanced_frames_and_oversized_skip() {
        let mut dec = FrameDecoder::new(Mode::Advanced, Limits { max_frame: 3 });
        dec.push(&[0, 0, 0, 2, 0xff, 0x0f, 0, 0, 0, 5, 1, 2]);
        assert_eq!(
            frames(&mut dec),
            vec![
                Ok(vec![0xff, 0x0f]),
                Err(FrameError::TooLarge { len: 5, limit: 3 })
            ]
        );
        dec.push(&[3, 4, 5, 0, 0, 0, 1, 9]);
        assert_eq!(frames(&mut dec), vec![Ok(vec![9])]);
        assert_eq!(dec.finish(), Ok(()));
    }

    #[test]
    fn gigabyte_length_prefix_does_not_allocate() {
        let mut dec = FrameDecoder::new(Mode::Advanced, Limits::default());
        dec.push(&[0x7f, 0xff, 0xff, 0xff, 1]);
        assert!(matches!(
            dec.next_frame(),
            Some(Err(FrameError::TooLarge { .. }))
        ));
        assert!(dec.buf.len() < 1 << 20);
    }

    #[test]
    fn a_header_alone_costs_no_memory() {
        // 256 MiB announced, within the limit: room grows only as bytes come.
        let mut dec = FrameDecoder::new(Mode::Advanced, Limits::default());
        let mut src: &[u8] = &[0x10, 0, 0, 0, 0xff, 0x0f];
        assert_eq!(dec.fill_from(&mut src).unwrap(), 6);
        assert!(dec.next_frame().is_none());
        let mut nothing: &[u8] = &[];
        dec.fill_from(&mut nothing).unwrap();
        assert!(dec.capacity() <= 2 * READ_CHUNK, "{}", dec.capacity());
    }

    #[test]
    fn a_large_frame_grows_the_buffer_by_doubling_and_is_given_back() {
        let len = 3 << 20;
        let mut bytes = (len as u32).to_be_bytes().to_vec();
        bytes.resize(4 + len, 7);
        bytes.extend_from_slice(&[0, 0, 0, 1, 9]);
        let mut dec = FrameDecoder::new(Mode::Advanced, Limits::default());
        let mut src: &[u8] = &bytes;
        let mut reads = 0;
        let mut got = Vec::new();
        while got.len() < 2 {
            assert!(dec.fill_from(&mut src).unwrap() > 0);
            reads += 1;
            // Room never runs far ahead of what was received.
            assert!(dec.capacity() <= 2 * dec.pending() + 2 * READ_CHUNK);
            while let Some(f) = dec.next_frame() {
                got.push(f.unwrap().len());
            }
        }
        assert_eq!(got, vec![len, 1]);
        assert!(reads < 40, "{reads} reads");
        let mut nothing: &[u8] = &[];
        dec.fill_from(&mut nothing).unwrap();
        assert!(dec.capacity() <= SHRINK_ABOVE, "{}", dec.capacity());
    }

    #[test]
    fn fill_from_reads_into_buffer() {
        let mut dec = FrameDecoder::new(Mode::Json, Limits::default());
        let mut src: &[u8] = b"true\nfalse\n";
        assert_eq!(dec.fill_from(&mut src).unwrap(), 11);
        assert_eq!(
            frames(&mut dec),
            vec![Ok(b"true".to_vec()), Ok(b"false".to_vec())]
        );
        assert_eq!(dec.fill_from(&mut src).unwrap(), 0);
    }
}
