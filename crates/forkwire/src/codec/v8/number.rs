//! JavaScript number rules the codec needs: which wire form V8 uses for a
//! number (int32 `I` for Smis, double `N` otherwise), how Rust integers map
//! to numbers or BigInts, `Number.prototype.toString` for property names, and
//! what counts as an array index.

use super::bigint::BigInt;

/// Largest integer a double holds exactly with its neighbours
/// (`Number.MAX_SAFE_INTEGER`).
pub(super) const MAX_SAFE_INTEGER: i128 = (1 << 53) - 1;

/// Largest array index (`2^32 - 2`).
pub(super) const MAX_ARRAY_INDEX: u32 = u32::MAX - 1;

/// A number-like value in the form the encoder writes it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Numeric {
    Int32(i32),
    Double(f64),
    BigInt(BigInt),
}

impl Numeric {
    /// The form V8 gives a freshly made JS number: a Smi (`I`) when it is an
    /// integer in int32 range other than -0, a heap number (`N`) otherwise.
    pub(super) fn from_f64(x: f64) -> Numeric {
        if x.fract() == 0.0 && x >= f64::from(i32::MIN) && x <= f64::from(i32::MAX) {
            if x == 0.0 && x.is_sign_negative() {
                return Numeric::Double(x);
            }
            return Numeric::Int32(x as i32);
        }
        Numeric::Double(x)
    }

    /// A Rust integer as JS would best hold it: a number when it is a safe
    /// integer (int32 form when it fits), a BigInt beyond that.
    pub(super) fn from_i128(v: i128) -> Numeric {
        if let Ok(i) = i32::try_from(v) {
            Numeric::Int32(i)
        } else if (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&v) {
            Numeric::Double(v as f64)
        } else {
            Numeric::BigInt(BigInt::from(v))
        }
    }

    /// Same as [`from_i128`](Self::from_i128) for `u128`.
    pub(super) fn from_u128(v: u128) -> Numeric {
        match i128::try_from(v) {
            Ok(i) => Numeric::from_i128(i),
            Err(_) => Numeric::BigInt(BigInt::from(v)),
        }
    }
}

/// `Number.prototype.toString()` (radix 10): the text JavaScript gives a
/// number used as a property name.
///
/// Rust's `{:e}` already yields the shortest round-trip digits; this only
/// lays them out as ECMAScript's Number::toString does.
pub(super) fn js_number_to_string(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let sign = if x < 0.0 { "-" } else { "" };
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i64;
    let n = exp + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let e_sign = if e < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{first}e{e_sign}{}", e.abs())
        } else {
            format!("{first}.{rest}e{e_sign}{}", e.abs())
        }
    };
    format!("{sign}{body}")
}

/// The array index a property name denotes: `"0"` or a decimal without
/// leading zeros, at most 2^32 - 2.
pub(super) fn parse_array_index(name: &str) -> Option<u32> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 10 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    name.parse::<u64>()
        .ok()
        .and_then(|v| u32::try_from(v).ok())
        .filter(|&v| v <= MAX_ARRAY_INDEX)
}

/// The array index a number denotes, if it is one (an integer from 0 to
/// 2^32 - 2; -0 counts as 0, since its name is "0").
pub(super) fn f64_array_index(x: f64) -> Option<u32> {
    (x.fract() == 0.0 && x >= 0.0 && x <= f64::from(MAX_ARRAY_INDEX)).then_some(x as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_to_string_matches_js() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (4294967295.0, "4294967295"),
            (-0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
            (0.000123, "0.000123"),
            (1.5, "1.5"),
        ];
        for &(x, s) in cases {
            assert_eq!(js_number_to_string(x), s, "{x:e}");
        }
    }

    #[test]
    fn numeric_forms() {
        assert_eq!(Numeric::from_f64(3.0), Numeric::Int32(3));
        assert!(matches!(Numeric::from_f64(-0.0), Numeric::Double(z) if z.is_sign_negative()));
        assert_eq!(
            Numeric::from_f64(2147483648.0),
            Numeric::Double(2147483648.0)
        );
        assert_eq!(Numeric::from_i128(-5), Numeric::Int32(-5));
        assert_eq!(
            Numeric::from_i128(1 << 40),
            Numeric::Double((1u64 << 40) as f64)
        );
        assert_eq!(
            Numeric::from_i128(1 << 53),
            Numeric::BigInt(BigInt::from(1u64 << 53))
        );
        assert_eq!(
            Numeric::from_u128(u128::MAX),
            Numeric::BigInt(BigInt::from(u128::MAX))
        );
    }

    #[test]
    fn array_indexes() {
        assert_eq!(parse_array_index("0"), Some(0));
        assert_eq!(parse_array_index("4294967294"), Some(4294967294));
        assert_eq!(parse_array_index("4294967295"), None);
        assert_eq!(parse_array_index("01"), None);
        assert_eq!(parse_array_index("-1"), None);
        assert_eq!(parse_array_index(""), None);
        assert_eq!(parse_array_index("1.5"), None);
        assert_eq!(f64_array_index(-0.0), Some(0));
        assert_eq!(f64_array_index(1.5), None);
        assert_eq!(f64_array_index(4294967295.0), None);
    }
}
