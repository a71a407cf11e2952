//! Numbers written the way JavaScript's `Number.prototype.toString` writes
//! them, so that a Rust peer's json frames match Node's byte for byte.
//!
//! JSON numbers from `JSON.stringify` differ from Rust's float formatting:
//! integral doubles have no `.0` (`2147483648`), large and small magnitudes
//! switch to exponent form at `1e21` and `1e-7` with an explicit sign
//! (`1e+21`, `1.5e-7`), and non-finite values become `null`.

/// Appends `value` as `JSON.stringify(value)` would write it.
///
/// ```
/// let mut out = Vec::new();
/// forkwire::codec::write_js_number(1e21, &mut out);
/// assert_eq!(out, b"1e+21");
/// ```
pub fn write_js_number(value: f64, out: &mut Vec<u8>) {
    if !value.is_finite() {
        out.extend_from_slice(b"null");
        return;
    }
    if value == 0.0 {
        out.push(b'0');
        return;
    }
    if value.fract() == 0.0 && value.abs() < 1e21 {
        // Exact integers below 1e21 print as all their digits; i128 holds
        // them all.
        out.extend_from_slice((value as i128).to_string().as_bytes());
        return;
    }
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(value);
    let (negative, digits, exponent) = split_shortest(text);
    if negative {
        out.push(b'-');
    }
    write_digits(&digits, exponent, out);
}

/// Splits ryu's output into sign, significant digits (no leading or
/// trailing zeros) and the decimal exponent `n` such that the value is
/// `0.d1d2... * 10^n`.
fn split_shortest(text: &str) -> (bool, Vec<u8>, i32) {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    let mut n = int_part.len() as i32 + exp;
    while digits.first() == Some(&b'0') {
        digits.remove(0);
        n -= 1;
    }
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    (negative, digits, n)
}

/// ECMAScript Number::toString for k digits and exponent n.
fn write_digits(digits: &[u8], n: i32, out: &mut Vec<u8>) {
    let k = digits.len() as i32;
    if k <= n && n <= 21 {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.extend_from_slice(&digits[..n as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-n) as usize));
        out.extend_from_slice(digits);
    } else {
        out.push(digits[0]);
        if k > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        let e = n - 1;
        out.push(if e < 0 { b'-' } else { b'+' });
        out.extend_from_slice(e.unsigned_abs().to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::write_js_number;

    fn js(v: f64) -> String {
        let mut out = Vec::new();
        write_js_number(v, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn matches_javascript() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.5, "1.5"),
            (-1.0, "-1"),
            (2147483648.0, "2147483648"),
            (9007199254740991.0, "9007199254740991"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (5e-324, "5e-324"),
            (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (0.1, "0.1"),
            (123.456, "123.456"),
            (1e20, "100000000000000000000"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "null"),
            (f64::INFINITY, "null"),
            (-123e-20, "-1.23e-18"),
        ];
        for (v, want) in cases {
            assert_eq!(js(*v), *want, "{v:e}");
        }
    }
}
