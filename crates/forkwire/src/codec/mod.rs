//! Pure encoders and decoders for the two wire formats of Node's IPC channel.
//!
//! Nothing here does I/O: [`FrameDecoder`] cuts a byte stream into frames,
//! [`json`] turns frames into values and back. The channel layer glues these
//! to a socket.

mod frame;
mod js_number;
pub mod json;
pub mod v8;

pub use frame::{FrameDecoder, FrameError, Limits};
pub use js_number::write_js_number;

use std::fmt;

/// The serialization mode of a channel, as Node's `serialization` option
/// names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Mode {
    /// `serialization: 'json'`: one `JSON.stringify` text per line.
    #[default]
    Json,
    /// `serialization: 'advanced'`: a 4-byte big-endian length, then a V8
    /// `ValueSerializer` payload.
    Advanced,
}

impl Mode {
    /// The name Node uses for this mode (`"json"` or `"advanced"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Json => "json",
            Mode::Advanced => "advanced",
        }
    }

    /// Parses the value of `NODE_CHANNEL_SERIALIZATION_MODE`.
    ///
    /// An empty string means `json`, as it does for Node.
    pub fn parse(name: &str) -> Option<Mode> {
        match name {
            "" | "json" => Some(Mode::Json),
            "advanced" => Some(Mode::Advanced),
            _ => None,
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that could not be encoded, or a frame that could not be decoded.
#[derive(Debug)]
pub enum CodecError {
    /// json mode.
    Json(json::JsonError),
    /// The mode is not available in this build.
    UnsupportedMode(Mode),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Json(e) => e.fmt(f),
            CodecError::UnsupportedMode(m) => {
                write!(f, "serialization mode '{m}' is not supported")
            }
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CodecError::Json(e) => Some(e),
            CodecError::UnsupportedMode(_) => None,
        }
    }
}

impl From<json::JsonError> for CodecError {
    fn from(e: json::JsonError) -> Self {
        CodecError::Json(e)
    }
}

/// Appends `value` to `out` as one complete frame in `mode`, framing
/// included (json: the trailing newline; advanced: the length prefix).
/// On error `out` is left as it was.
pub fn encode_frame<T: serde::Serialize + ?Sized>(
    mode: Mode,
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    match mode {
        Mode::Json => Ok(json::encode(value, out)?),
        Mode::Advanced => Err(CodecError::UnsupportedMode(mode)),
    }
}

/// Decodes one frame's payload (as returned by [`FrameDecoder`]) into `T`.
pub fn decode_frame<T: serde::de::DeserializeOwned>(
    mode: Mode,
    frame: &[u8],
) -> Result<T, CodecError> {
    match mode {
        Mode::Json => Ok(json::decode(frame)?),
        Mode::Advanced => Err(CodecError::UnsupportedMode(mode)),
    }
}

/// Whether `mode` can be encoded and decoded by this build.
pub fn is_supported(mode: Mode) -> bool {
    matches!(mode, Mode::Json)
}
