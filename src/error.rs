//! Errors thrown to JS carry the stable code in `code` (napi-rs creates
//! the JS error with the status it is given as its code), so `lib/` reads
//! `err.code` and `err.message` as they are.

use forkwire::pool::{ErrorCode, RequestError};

/// The `code` of an error thrown to JS: one of forkwire's, or the status
/// of a Node-API call that failed.
pub enum Code {
    Forkwire(ErrorCode),
    Napi(napi::Status),
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        match self {
            Code::Forkwire(code) => code.as_str(),
            Code::Napi(status) => status.as_ref(),
        }
    }
}

/// What the binding's methods return when they may throw.
pub type Result<T> = napi::Result<T, Code>;

/// An error with forkwire's `code`.
pub fn error(code: ErrorCode, message: impl Into<String>) -> napi::Error<Code> {
    napi::Error::new(Code::Forkwire(code), message.into())
}

/// A pool's own failure, as JS sees it.
pub fn from_request(e: RequestError) -> napi::Error<Code> {
    error(e.code, e.message)
}

/// A Node-API failure, its status kept as the code.
pub fn from_napi(e: napi::Error) -> napi::Error<Code> {
    napi::Error::new(Code::Napi(e.status), e.reason)
}
