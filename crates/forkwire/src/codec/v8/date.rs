//! `Date.prototype.toISOString()` for a time value, which is what
//! `JSON.stringify` writes for a `Date` (and what serde sees as a date's
//! text).

/// Milliseconds per day.
const DAY_MS: i64 = 86_400_000;

/// The largest time value a `Date` holds (±8.64e15 ms, ±100 million days).
const MAX_TIME: f64 = 8.64e15;

/// The ISO 8601 text of a time value, e.g. `"1970-01-01T00:00:00.000Z"`;
/// years outside 0..=9999 use six digits and a sign, as in JavaScript.
/// `None` for an invalid date (NaN or out of range), which JSON writes as
/// `null`.
pub fn iso_string(time: f64) -> Option<String> {
    if !time.is_finite() || time.abs() > MAX_TIME {
        return None;
    }
    // TimeClip truncates toward zero.
    let ms = time.trunc() as i64;
    let days = ms.div_euclid(DAY_MS);
    let in_day = ms.rem_euclid(DAY_MS);
    let (year, month, day) = civil_from_days(days);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{}{:06}", if year < 0 { '-' } else { '+' }, year.abs())
    };
    Some(format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    ))
}

/// Proleptic Gregorian (year, month, day) of a day count from 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_javascript() {
        assert_eq!(iso_string(0.0).as_deref(), Some("1970-01-01T00:00:00.000Z"));
        assert_eq!(
            iso_string(-1.0).as_deref(),
            Some("1969-12-31T23:59:59.999Z")
        );
        assert_eq!(
            iso_string(1582979696789.0).as_deref(),
            Some("2020-02-29T12:34:56.789Z")
        );
        assert_eq!(
            iso_string(8.64e15).as_deref(),
            Some("+275760-09-13T00:00:00.000Z")
        );
        assert_eq!(
            iso_string(-8.64e15).as_deref(),
            Some("-271821-04-20T00:00:00.000Z")
        );
        assert_eq!(
            iso_string(-62198755200000.0).as_deref(),
            Some("-000001-01-01T00:00:00.000Z")
        );
        assert_eq!(
            iso_string(1.75).as_deref(),
            Some("1970-01-01T00:00:00.001Z")
        );
        assert_eq!(iso_string(f64::NAN), None);
        assert_eq!(iso_string(8.64e15 + 1.0), None);
    }
}
