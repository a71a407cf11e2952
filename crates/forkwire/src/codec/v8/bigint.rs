//! [`BigInt`]: an arbitrary-size JavaScript BigInt, stored as V8 writes it: a
//! sign and the little-endian bytes of the magnitude. Conversions to and from
//! Rust integers and a decimal `Display` are provided; no arithmetic.

use std::fmt;

/// A JavaScript BigInt of any size.
///
/// The magnitude is kept as the exact little-endian digit bytes read from the
/// wire (V8 writes whole 64-bit digits without trailing zero digits; it also
/// reads other lengths), so re-encoding is byte-identical. Values built from
/// Rust integers use V8's canonical layout.
///
/// ```
/// use forkwire::codec::v8::BigInt;
/// let b = BigInt::from(-(1i128 << 64));
/// assert_eq!(b.to_string(), "-18446744073709551616");
/// assert_eq!(b.to_i128(), Some(-(1i128 << 64)));
/// assert_eq!(b.to_i64(), None);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BigInt {
    negative: bool,
    digits: Vec<u8>,
}

impl BigInt {
    /// A BigInt from a sign and little-endian magnitude bytes, kept exactly as
    /// given. V8 has no negative zero: with no bytes the sign is dropped.
    pub fn from_digits(negative: bool, digits: Vec<u8>) -> Self {
        BigInt {
            negative: negative && !digits.is_empty(),
            digits,
        }
    }

    /// A BigInt in V8's canonical layout: whole 8-byte digits, no trailing
    /// zero digit, zero has no digits.
    pub fn from_magnitude(negative: bool, magnitude_le: &[u8]) -> Self {
        let used = magnitude_le
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i + 1);
        let mut digits = magnitude_le[..used].to_vec();
        digits.resize(used.div_ceil(8) * 8, 0);
        BigInt::from_digits(negative, digits)
    }

    /// Whether the value is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative && !self.is_zero()
    }

    /// The sign bit as written on the wire.
    pub fn sign_bit(&self) -> bool {
        self.negative
    }

    /// The little-endian magnitude bytes as stored.
    pub fn digits(&self) -> &[u8] {
        &self.digits
    }

    /// Whether the value is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.iter().all(|&b| b == 0)
    }

    fn magnitude_u128(&self) -> Option<u128> {
        let used = self
            .digits
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i + 1);
        if used > 16 {
            return None;
        }
        let mut buf = [0u8; 16];
        buf[..used].copy_from_slice(&self.digits[..used]);
        Some(u128::from_le_bytes(buf))
    }

    /// The value as an `i128`, if it fits.
    pub fn to_i128(&self) -> Option<i128> {
        let m = self.magnitude_u128()?;
        if self.is_negative() {
            0i128.checked_sub_unsigned(m)
        } else {
            i128::try_from(m).ok()
        }
    }

    /// The value as a `u128`, if it fits.
    pub fn to_u128(&self) -> Option<u128> {
        if self.is_negative() {
            return None;
        }
        self.magnitude_u128()
    }

    /// The value as an `i64`, if it fits.
    pub fn to_i64(&self) -> Option<i64> {
        self.to_i128().and_then(|v| i64::try_from(v).ok())
    }

    /// The value as a `u64`, if it fits.
    pub fn to_u64(&self) -> Option<u64> {
        self.to_u128().and_then(|v| u64::try_from(v).ok())
    }

    /// Decimal digits of the magnitude, most significant first.
    fn magnitude_decimal(&self) -> String {
        // Base 10^9 long division over 32-bit limbs.
        let mut limbs: Vec<u32> = self
            .digits
            .chunks(4)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(b)
            })
            .collect();
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
        let mut groups = Vec::new();
        while !limbs.is_empty() {
            let mut rem = 0u64;
            for limb in limbs.iter_mut().rev() {
                let cur = (rem << 32) | u64::from(*limb);
                *limb = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            groups.push(rem as u32);
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
        }
        let mut out = match groups.pop() {
            Some(top) => top.to_string(),
            None => return "0".to_owned(),
        };
        for g in groups.iter().rev() {
            out.push_str(&format!("{g:09}"));
        }
        out
    }
}

macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for BigInt {
            fn from(v: $t) -> Self {
                BigInt::from_magnitude(v < 0, &v.unsigned_abs().to_le_bytes())
            }
        }
    )*};
}
macro_rules! from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for BigInt {
            fn from(v: $t) -> Self {
                BigInt::from_magnitude(false, &v.to_le_bytes())
            }
        }
    )*};
}
from_signed!(i8, i16, i32, i64, i128);
from_unsigned!(u8, u16, u32, u64, u128);

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_negative() {
            f.write_str("-")?;
        }
        f.write_str(&self.magnitude_decimal())
    }
}

impl fmt::Debug for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_layout_matches_v8() {
        assert_eq!(BigInt::from(0u8).digits(), &[] as &[u8]);
        assert_eq!(BigInt::from(-1i64).digits(), &[1, 0, 0, 0, 0, 0, 0, 0]);
        assert!(BigInt::from(-1i64).is_negative());
        let two64 = BigInt::from(1u128 << 64);
        assert_eq!(two64.digits().len(), 16);
        assert_eq!(two64.to_string(), "18446744073709551616");
    }

    #[test]
    fn no_negative_zero() {
        let z = BigInt::from_digits(true, vec![]);
        assert!(!z.sign_bit());
        assert_eq!(z, BigInt::from(0));
        // A zero magnitude with digits keeps its sign bit (V8 reads it as 0n).
        let z8 = BigInt::from_digits(true, vec![0; 8]);
        assert!(z8.sign_bit() && !z8.is_negative());
        assert_eq!(z8.to_string(), "0");
    }

    #[test]
    fn conversions() {
        for v in [
            0i128,
            1,
            -1,
            i64::MIN as i128,
            u64::MAX as i128,
            i128::MIN,
            i128::MAX,
        ] {
            assert_eq!(BigInt::from(v).to_i128(), Some(v));
            assert_eq!(BigInt::from(v).to_string(), v.to_string());
        }
        assert_eq!(BigInt::from(u128::MAX).to_u128(), Some(u128::MAX));
        assert_eq!(BigInt::from(u128::MAX).to_i128(), None);
        assert_eq!(BigInt::from(-5).to_u64(), None);
        let odd = BigInt::from_digits(false, vec![1, 2, 3]);
        assert_eq!(odd.to_u64(), Some(0x030201));
    }

    #[test]
    fn big_decimal() {
        // 2^200 from its bytes.
        let mut m = vec![0u8; 26];
        m[25] = 1;
        let b = BigInt::from_magnitude(false, &m);
        assert_eq!(
            b.to_string(),
            "1606938044258990275541962092341162602522202993782792835301376"
        );
    }
}
