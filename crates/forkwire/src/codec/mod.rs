//! Pure encoders and decoders for the two wire formats of Node's IPC channel.
//!
//! Nothing here does I/O: [`FrameDecoder`] cuts a byte stream into frames,
//! [`json`] and [`v8`] (advanced mode) turn frames into values and back. The channel layer glues these
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
    /// advanced mode.
    V8(v8::Error),
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodecError::Json(e) => e.fmt(f),
            CodecError::V8(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CodecError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CodecError::Json(e) => Some(e),
            CodecError::V8(e) => Some(e),
        }
    }
}

impl From<v8::Error> for CodecError {
    fn from(e: v8::Error) -> Self {
        CodecError::V8(e)
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
        Mode::Advanced => {
            let start = out.len();
            out.extend_from_slice(&[0; 4]);
            if let Err(e) = v8::to_vec_into(value, out) {
                out.truncate(start);
                return Err(e.into());
            }
            let len = out.len() - start - 4;
            let Ok(len) = u32::try_from(len) else {
                out.truncate(start);
                return Err(v8::Error::Unsupported(format!(
                    "a payload of {len} bytes (more than 4 GiB)"
                ))
                .into());
            };
            out[start..start + 4].copy_from_slice(&len.to_be_bytes());
            Ok(())
        }
    }
}

/// Decodes one frame's payload (as returned by [`FrameDecoder`]) into `T`.
pub fn decode_frame<T: serde::de::DeserializeOwned>(
    mode: Mode,
    frame: &[u8],
) -> Result<T, CodecError> {
    match mode {
        Mode::Json => Ok(json::decode(frame)?),
        Mode::Advanced => Ok(v8::from_slice(frame)?),
    }
}
