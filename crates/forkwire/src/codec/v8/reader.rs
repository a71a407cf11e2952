//! [`Reader`]: a bounds-checked cursor over a payload. Every read either
//! succeeds or returns an [`Error`] naming the offset; lengths are checked
//! against the bytes left before anything is allocated for them.

use super::error::Error;
use super::tag;

pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// The current offset.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes not read yet.
    pub(super) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(super) fn byte(&mut self) -> Result<u8, Error> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(Error::Truncated { offset: self.pos })?;
        self.pos += 1;
        Ok(b)
    }

    /// Skips padding, then returns the next byte without consuming it.
    pub(super) fn peek_tag(&mut self) -> Result<u8, Error> {
        while self.buf.get(self.pos) == Some(&tag::PADDING) {
            self.pos += 1;
        }
        self.buf
            .get(self.pos)
            .copied()
            .ok_or(Error::Truncated { offset: self.pos })
    }

    /// The offset of the next tag after any padding, if it is `t`;
    /// consumes nothing.
    pub(super) fn upcoming(&self, t: u8) -> Option<usize> {
        let skip = self.buf[self.pos..]
            .iter()
            .position(|&b| b != tag::PADDING)?;
        (self.buf[self.pos + skip] == t).then_some(self.pos + skip)
    }

    /// Skips padding, then reads a tag; returns its offset and value.
    pub(super) fn tag(&mut self) -> Result<(usize, u8), Error> {
        let t = self.peek_tag()?;
        let at = self.pos;
        self.pos += 1;
        Ok((at, t))
    }

    /// A base-128 varint of at most 10 bytes that fits a `u64`.
    pub(super) fn varint(&mut self) -> Result<u64, Error> {
        let start = self.pos;
        let mut value = 0u64;
        for i in 0..10 {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if i == 9 && (b & 0x80 != 0 || bits > 1) {
                return Err(Error::BadVarint { offset: start });
            }
            value |= bits << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Error::BadVarint { offset: start })
    }

    /// A varint that V8 reads as a `uint32`.
    pub(super) fn varint_u32(&mut self) -> Result<u32, Error> {
        let start = self.pos;
        u32::try_from(self.varint()?).map_err(|_| Error::BadVarint { offset: start })
    }

    /// `n` raw bytes, where `n` came from the length field at `length_at`.
    pub(super) fn bytes(&mut self, n: u64, length_at: usize) -> Result<&'a [u8], Error> {
        let past_end = Error::LengthPastEnd {
            offset: length_at,
            length: n,
        };
        let n = usize::try_from(n).map_err(|_| past_end.clone())?;
        if n > self.remaining() {
            return Err(past_end);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// A varint length followed by that many bytes.
    pub(super) fn length_prefixed(&mut self) -> Result<&'a [u8], Error> {
        let at = self.pos;
        let n = self.varint_u32()?;
        self.bytes(u64::from(n), at)
    }

    /// A little-endian double.
    pub(super) fn double(&mut self) -> Result<f64, Error> {
        let at = self.pos;
        let raw = self.buf.get(at..at + 8).ok_or(Error::Truncated {
            offset: self.buf.len(),
        })?;
        let mut b = [0u8; 8];
        b.copy_from_slice(raw);
        self.pos += 8;
        Ok(f64::from_le_bytes(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(Reader::new(&[0xac, 0x02]).varint(), Ok(300));
        assert_eq!(Reader::new(&[0x80, 0x00]).varint(), Ok(0)); // not minimal, still read
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Reader::new(&max).varint(), Ok(u64::MAX));
        let overflow = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert_eq!(
            Reader::new(&overflow).varint(),
            Err(Error::BadVarint { offset: 0 })
        );
        let eleven = [0x80; 11];
        assert_eq!(
            Reader::new(&eleven).varint(),
            Err(Error::BadVarint { offset: 0 })
        );
        assert_eq!(
            Reader::new(&[0x80]).varint(),
            Err(Error::Truncated { offset: 1 })
        );
        assert_eq!(
            Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x10]).varint_u32(),
            Err(Error::BadVarint { offset: 0 })
        );
    }

    #[test]
    fn lengths_are_checked_before_use() {
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2]);
        assert_eq!(
            r.length_prefixed(),
            Err(Error::LengthPastEnd {
                offset: 0,
                length: u64::from(u32::MAX)
            })
        );
        let mut r = Reader::new(&[2, 7, 8, 9]);
        assert_eq!(r.length_prefixed(), Ok(&[7u8, 8][..]));
        assert_eq!(r.remaining(), 1);
    }

    #[test]
    fn padding_is_skipped_before_tags() {
        let mut r = Reader::new(&[0, 0, b'T']);
        assert_eq!(r.tag(), Ok((2, b'T')));
        assert_eq!(r.tag(), Err(Error::Truncated { offset: 3 }));
    }
}
