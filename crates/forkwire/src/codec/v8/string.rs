//! [`JsString`]: a JavaScript string as it travels in a V8 payload. JS
//! strings are sequences of UTF-16 code units and may hold lone surrogates,
//! which Rust's `String` cannot; and V8 writes the same text either as
//! Latin-1 (`"`) or as UTF-16 (`c`) depending on its internal representation.
//! `JsString` keeps both facts so that re-encoding gives the same bytes, while
//! ordinary text stays a plain `String` that [`JsString::as_str`] borrows.

use std::borrow::Cow;
use std::fmt;

/// How a string is (or will be) written on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StringForm {
    /// `"`: Latin-1, one byte per code unit; only for code units <= 0xFF.
    OneByte,
    /// `c`: UTF-16LE, preceded by a `00` padding byte when needed to keep the
    /// code units 2-aligned.
    TwoByte,
    /// `S`: UTF-8. V8 still reads it but never writes it.
    Utf8,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Text {
    /// Well-formed text (no lone surrogates).
    Str(String),
    /// Code units that are not well-formed UTF-16 (at least one lone
    /// surrogate). Never holds text that `Str` could hold, so equality of
    /// `Text` is equality of code units.
    Units(Vec<u16>),
}

/// A JavaScript string: UTF-16 code units (lone surrogates allowed) plus the
/// wire form it was read in.
///
/// Equality and hashing compare the code units *and* the form, because the
/// form is part of the bytes; compare with a `&str` (`js == "abc"`) or use
/// [`as_str`](Self::as_str) to compare text only.
///
/// ```
/// use forkwire::codec::v8::{JsString, StringForm};
/// let s = JsString::from("h\u{e9}llo");
/// assert_eq!(s.form(), StringForm::OneByte); // all code units <= 0xFF
/// assert_eq!(s.as_str(), Some("h\u{e9}llo"));
/// let lone = JsString::from_utf16(&[0xd800]);
/// assert_eq!(lone.as_str(), None);
/// assert_eq!(lone.to_string_lossy(), "\u{fffd}");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JsString {
    text: Text,
    form: StringForm,
}

/// Iterator over the UTF-16 code units of a [`JsString`].
#[derive(Debug, Clone)]
pub struct CodeUnits<'a>(CodeUnitsInner<'a>);

#[derive(Debug, Clone)]
enum CodeUnitsInner<'a> {
    Str(std::str::EncodeUtf16<'a>),
    Units(std::slice::Iter<'a, u16>),
}

impl Iterator for CodeUnits<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        match &mut self.0 {
            CodeUnitsInner::Str(it) => it.next(),
            CodeUnitsInner::Units(it) => it.next().copied(),
        }
    }
}

fn is_latin1(s: &str) -> bool {
    s.chars().all(|c| u32::from(c) <= 0xff)
}

fn canonical_form(s: &str) -> StringForm {
    if is_latin1(s) {
        StringForm::OneByte
    } else {
        StringForm::TwoByte
    }
}

impl JsString {
    /// A string in the form V8 would choose: one-byte when every character is
    /// at most U+00FF, two-byte otherwise.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let form = canonical_form(&text);
        JsString {
            text: Text::Str(text),
            form,
        }
    }

    /// A string from UTF-16 code units (lone surrogates kept), in canonical
    /// form.
    pub fn from_utf16(units: &[u16]) -> Self {
        match String::from_utf16(units) {
            Ok(text) => JsString::new(text),
            Err(_) => JsString {
                text: Text::Units(units.to_vec()),
                form: StringForm::TwoByte,
            },
        }
    }

    /// Decodes Latin-1 bytes (the body of a `"` string).
    pub fn from_latin1(bytes: &[u8]) -> Self {
        let text = if bytes.is_ascii() {
            match std::str::from_utf8(bytes) {
                Ok(s) => s.to_owned(),
                Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
            }
        } else {
            bytes.iter().map(|&b| char::from(b)).collect()
        };
        JsString {
            text: Text::Str(text),
            form: StringForm::OneByte,
        }
    }

    /// Decodes UTF-16 code units read from a `c` string, keeping the form.
    pub(super) fn from_two_byte_wire(units: Vec<u16>) -> Self {
        let text = match String::from_utf16(&units) {
            Ok(s) => Text::Str(s),
            Err(_) => Text::Units(units),
        };
        JsString {
            text,
            form: StringForm::TwoByte,
        }
    }

    /// Wraps text read from an `S` string, keeping the form.
    pub(super) fn from_utf8_wire(text: String) -> Self {
        JsString {
            text: Text::Str(text),
            form: StringForm::Utf8,
        }
    }

    /// The same text in another wire form, or `None` when the form cannot
    /// hold it (one-byte needs code units <= 0xFF; UTF-8 needs well-formed
    /// text).
    ///
    /// ```
    /// use forkwire::codec::v8::{JsString, StringForm};
    /// let s = JsString::from("abc").with_form(StringForm::TwoByte).unwrap();
    /// assert_eq!(s.form(), StringForm::TwoByte);
    /// assert!(JsString::from("\u{20ac}").with_form(StringForm::OneByte).is_none());
    /// ```
    pub fn with_form(self, form: StringForm) -> Option<Self> {
        let fits = match (&self.text, form) {
            (_, StringForm::TwoByte) => true,
            (Text::Str(s), StringForm::OneByte) => is_latin1(s),
            (Text::Str(_), StringForm::Utf8) => true,
            (Text::Units(_), _) => false,
        };
        fits.then_some(JsString { form, ..self })
    }

    /// The wire form.
    pub fn form(&self) -> StringForm {
        self.form
    }

    /// The text, unless it holds a lone surrogate.
    pub fn as_str(&self) -> Option<&str> {
        match &self.text {
            Text::Str(s) => Some(s),
            Text::Units(_) => None,
        }
    }

    /// The text with each lone surrogate replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> Cow<'_, str> {
        match &self.text {
            Text::Str(s) => Cow::Borrowed(s),
            Text::Units(u) => Cow::Owned(String::from_utf16_lossy(u)),
        }
    }

    /// The UTF-16 code units.
    pub fn code_units(&self) -> CodeUnits<'_> {
        CodeUnits(match &self.text {
            Text::Str(s) => CodeUnitsInner::Str(s.encode_utf16()),
            Text::Units(u) => CodeUnitsInner::Units(u.iter()),
        })
    }

    /// The number of UTF-16 code units (JavaScript's `length`).
    pub fn len_utf16(&self) -> usize {
        match &self.text {
            Text::Str(s) => s.encode_utf16().count(),
            Text::Units(u) => u.len(),
        }
    }

    /// The bytes the text takes in memory (UTF-8, or two per code unit when
    /// it holds a lone surrogate); what copying it costs, in O(1).
    pub(super) fn storage_len(&self) -> usize {
        match &self.text {
            Text::Str(s) => s.len(),
            Text::Units(u) => u.len() * 2,
        }
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        match &self.text {
            Text::Str(s) => s.is_empty(),
            Text::Units(u) => u.is_empty(),
        }
    }

    /// Whether both strings have the same code units, whatever their forms.
    pub fn same_text(&self, other: &JsString) -> bool {
        self.text == other.text
    }

    /// The code units as Latin-1 bytes; `None` unless every unit is <= 0xFF.
    pub(super) fn latin1_bytes(&self) -> Option<Vec<u8>> {
        match &self.text {
            Text::Str(s) => s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect(),
            Text::Units(_) => None,
        }
    }
}

impl From<&str> for JsString {
    fn from(s: &str) -> Self {
        JsString::new(s)
    }
}

impl From<String> for JsString {
    fn from(s: String) -> Self {
        JsString::new(s)
    }
}

impl From<char> for JsString {
    fn from(c: char) -> Self {
        JsString::new(c.to_string())
    }
}

impl PartialEq<str> for JsString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for JsString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl fmt::Display for JsString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl fmt::Debug for JsString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.text {
            Text::Str(s) => {
                write!(f, "{s:?}")?;
                if self.form != canonical_form(s) {
                    write!(f, "@{:?}", self.form)?;
                }
                Ok(())
            }
            Text::Units(u) => write!(f, "JsString(utf16 {u:04x?})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms() {
        assert_eq!(JsString::from("").form(), StringForm::OneByte);
        assert_eq!(JsString::from("\u{ff}").form(), StringForm::OneByte);
        assert_eq!(JsString::from("\u{100}").form(), StringForm::TwoByte);
        assert_eq!(JsString::from("\u{1f600}").form(), StringForm::TwoByte);
    }

    #[test]
    fn lone_surrogates_survive() {
        let s = JsString::from_utf16(&[0x61, 0xdc00]);
        assert_eq!(s.code_units().collect::<Vec<_>>(), vec![0x61, 0xdc00]);
        assert_eq!(s.len_utf16(), 2);
        assert_eq!(s.as_str(), None);
        assert_eq!(s.to_string_lossy(), "a\u{fffd}");
        assert!(s.clone().with_form(StringForm::Utf8).is_none());
    }

    #[test]
    fn well_formed_utf16_becomes_text() {
        let s = JsString::from_utf16(&[0xd83d, 0xde00]);
        assert_eq!(s.as_str(), Some("\u{1f600}"));
        assert_eq!(s, JsString::from("\u{1f600}"));
    }

    #[test]
    fn latin1_round_trip() {
        let bytes: Vec<u8> = (0..=255).collect();
        let s = JsString::from_latin1(&bytes);
        assert_eq!(s.latin1_bytes(), Some(bytes));
        assert_eq!(JsString::from("\u{100}").latin1_bytes(), None);
    }

    #[test]
    fn equality_includes_form() {
        let a = JsString::from("ab");
        let b = a.clone().with_form(StringForm::TwoByte).unwrap();
        assert_ne!(a, b);
        assert!(a.same_text(&b));
        assert_eq!(b, "ab");
        assert_eq!(format!("{b:?}"), "\"ab\"@TwoByte");
    }
}
