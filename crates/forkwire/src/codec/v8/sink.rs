//! [`Sink`]: the byte writer behind both the [`Value`](super::Value) encoder
//! and the serde serializer. It knows the primitive layouts (varints,
//! zigzag, doubles, BigInt digits, property keys) and V8's rule for strings:
//! Latin-1 when every code unit fits a byte, otherwise UTF-16 with a `00`
//! pad first whenever the code units would start at an odd offset.

use super::bigint::BigInt;
use super::error::Error;
use super::key::Key;
use super::number::Numeric;
use super::string::{JsString, StringForm};
use super::tag;

/// Appends one payload to a `Vec<u8>`; offsets (for the two-byte alignment
/// rule and for errors) count from where the payload starts, which has the
/// same parity as Node's frame since its length prefix is 4 bytes.
pub(super) struct Sink<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
}

/// Writes `v` as a varint into `buf`; returns how many bytes it took.
pub(super) fn encode_varint(mut v: u64, buf: &mut [u8; 10]) -> usize {
    let mut n = 0;
    while v >= 0x80 {
        buf[n] = (v as u8) | 0x80;
        v >>= 7;
        n += 1;
    }
    buf[n] = v as u8;
    n + 1
}

/// How many bytes `v` takes as a varint.
pub(super) fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn too_long(what: &str, len: usize) -> Error {
    Error::Unsupported(format!(
        "{what} of {len} bytes or entries is over V8's 2^32 - 1 limit"
    ))
}

impl<'a> Sink<'a> {
    /// A sink appending to `out`; the payload starts at its current end.
    pub(super) fn new(out: &'a mut Vec<u8>) -> Sink<'a> {
        let start = out.len();
        Sink { out, start }
    }

    /// Bytes written so far.
    pub(super) fn position(&self) -> usize {
        self.out.len() - self.start
    }

    /// Removes everything this sink wrote (after a failed encode).
    pub(super) fn discard(&mut self) {
        self.out.truncate(self.start);
    }

    /// The `ff 0f` header.
    pub(super) fn header(&mut self) {
        self.out.extend_from_slice(&[tag::HEADER, tag::VERSION]);
    }

    pub(super) fn byte(&mut self, b: u8) {
        self.out.push(b);
    }

    pub(super) fn raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    pub(super) fn varint(&mut self, v: u64) {
        let mut buf = [0u8; 10];
        let n = encode_varint(v, &mut buf);
        self.raw(&buf[..n]);
    }

    /// A length or count field, which V8 reads as a uint32.
    pub(super) fn length(&mut self, what: &str, n: usize) -> Result<(), Error> {
        let v = u32::try_from(n).map_err(|_| too_long(what, n))?;
        self.varint(u64::from(v));
        Ok(())
    }

    pub(super) fn double(&mut self, x: f64) {
        self.raw(&x.to_le_bytes());
    }

    /// `I` + zigzag, `N` + double, or `Z` + digits.
    pub(super) fn number(&mut self, n: &Numeric) -> Result<(), Error> {
        match n {
            Numeric::Int32(i) => self.int32(*i),
            Numeric::Double(x) => {
                self.byte(tag::DOUBLE);
                self.double(*x);
            }
            Numeric::BigInt(b) => {
                self.byte(tag::BIGINT);
                self.bigint_body(b)?;
            }
        }
        Ok(())
    }

    pub(super) fn int32(&mut self, i: i32) {
        self.byte(tag::INT32);
        self.varint(u64::from(((i as u32) << 1) ^ ((i >> 31) as u32)));
    }

    /// The bitfield (sign bit, byte length) and digits, without a tag.
    pub(super) fn bigint_body(&mut self, b: &BigInt) -> Result<(), Error> {
        let len = b.digits().len();
        if len >= 1 << 30 {
            return Err(too_long("a BigInt", len));
        }
        self.varint(((len as u64) << 1) | u64::from(b.sign_bit()));
        self.raw(b.digits());
        Ok(())
    }

    /// A string in the form it carries.
    pub(super) fn string(&mut self, s: &JsString) -> Result<(), Error> {
        match s.form() {
            StringForm::OneByte => match s.latin1_bytes() {
                Some(bytes) => self.one_byte(&bytes),
                None => self.two_byte(s.len_utf16(), s.code_units()),
            },
            StringForm::TwoByte => self.two_byte(s.len_utf16(), s.code_units()),
            StringForm::Utf8 => match s.as_str() {
                Some(text) => {
                    self.byte(tag::UTF8_STRING);
                    self.length("a string", text.len())?;
                    self.raw(text.as_bytes());
                    Ok(())
                }
                None => self.two_byte(s.len_utf16(), s.code_units()),
            },
        }
    }

    /// Rust text in the form V8 would pick for it.
    pub(super) fn str(&mut self, s: &str) -> Result<(), Error> {
        if s.is_ascii() {
            return self.one_byte(s.as_bytes());
        }
        let latin1: Option<Vec<u8>> = s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect();
        match latin1 {
            Some(bytes) => self.one_byte(&bytes),
            None => self.two_byte(s.encode_utf16().count(), s.encode_utf16()),
        }
    }

    fn one_byte(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.byte(tag::ONE_BYTE_STRING);
        self.length("a string", bytes.len())?;
        self.raw(bytes);
        Ok(())
    }

    fn two_byte(
        &mut self,
        units: usize,
        code_units: impl Iterator<Item = u16>,
    ) -> Result<(), Error> {
        let byte_len = units
            .checked_mul(2)
            .ok_or_else(|| too_long("a string", units))?;
        let byte_len_u32 = u32::try_from(byte_len).map_err(|_| too_long("a string", byte_len))?;
        if (self.position() + 1 + varint_len(u64::from(byte_len_u32))) % 2 == 1 {
            self.byte(tag::PADDING);
        }
        self.byte(tag::TWO_BYTE_STRING);
        self.varint(u64::from(byte_len_u32));
        self.out.reserve(byte_len);
        for unit in code_units {
            self.raw(&unit.to_le_bytes());
        }
        Ok(())
    }

    /// A property key.
    pub(super) fn key(&mut self, key: &Key) -> Result<(), Error> {
        match key {
            Key::String(s) => self.string(s)?,
            Key::Int32(i) => self.int32(*i),
            Key::Uint32(u) => {
                self.byte(tag::UINT32);
                self.varint(u64::from(*u));
            }
            Key::Double(x) => {
                self.byte(tag::DOUBLE);
                self.double(*x);
            }
        }
        Ok(())
    }

    /// Overwrites bytes already written at payload offset `at` (used to fill
    /// in a length reserved before its count was known).
    pub(super) fn patch(&mut self, at: usize, bytes: &[u8]) {
        let from = self.start + at;
        self.out[from..from + bytes.len()].copy_from_slice(bytes);
    }

    /// Removes `count` bytes at payload offset `at`.
    pub(super) fn remove(&mut self, at: usize, count: usize) {
        let from = self.start + at;
        self.out.drain(from..from + count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(f: impl FnOnce(&mut Sink<'_>)) -> Vec<u8> {
        let mut out = Vec::new();
        f(&mut Sink::new(&mut out));
        out
    }

    #[test]
    fn varints_and_zigzag() {
        assert_eq!(written(|s| s.varint(300)), [0xac, 0x02]);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(varint_len(u64::MAX), 10);
        assert_eq!(written(|s| s.int32(-1)), [b'I', 1]);
        assert_eq!(
            written(|s| s.int32(i32::MIN)),
            [b'I', 0xff, 0xff, 0xff, 0xff, 0x0f]
        );
    }

    #[test]
    fn two_byte_alignment_counts_from_payload_start() {
        // After the 2-byte header plus `o"\x02ab` (5 bytes), offset 7 is odd:
        // tag at 7, varint at 8, data at 9 would be odd, so a pad goes first.
        let mut out = vec![0xaa; 3]; // bytes before the payload do not count
        let mut s = Sink::new(&mut out);
        s.header();
        s.raw(b"o\"\x02ab");
        s.str("\u{20ac}").unwrap();
        assert_eq!(&out[3..], b"\xff\x0fo\"\x02ab\x00c\x02\xac\x20");
    }

    #[test]
    fn strings_pick_the_v8_form() {
        assert_eq!(written(|s| s.str("h\u{e9}").unwrap()), b"\"\x02h\xe9");
        // At payload offset 0 the code units land on offset 2: no pad.
        assert_eq!(written(|s| s.str("\u{20ac}").unwrap()), b"c\x02\xac\x20");
        let two_byte_ascii = JsString::from("a").with_form(StringForm::TwoByte).unwrap();
        assert_eq!(
            written(|s| s.string(&two_byte_ascii).unwrap()),
            b"c\x02a\x00"
        );
        assert_eq!(
            written(|s| {
                s.byte(b'0');
                s.string(&two_byte_ascii).unwrap()
            }),
            b"0\x00c\x02a\x00"
        );
    }
}
