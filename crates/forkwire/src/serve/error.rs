//! The error a handler returns; it reaches the parent as `{id, error}`.

use serde::Serialize;
use std::fmt;

/// A handler's failure, sent as `{message, name, code?, stack?}`; the
/// parent's `WorkerError` carries these fields.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ServeError {
    /// What went wrong.
    pub message: String,
    /// The error's kind (`"Error"` unless set).
    pub name: String,
    /// A stable code, if the handler gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Where it happened, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

impl ServeError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> ServeError {
        ServeError {
            message: message.into(),
            name: "Error".into(),
            code: None,
            stack: None,
        }
    }

    /// Sets the code.
    pub fn code(mut self, code: impl Into<String>) -> ServeError {
        self.code = Some(code.into());
        self
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> ServeError {
        self.name = name.into();
        self
    }
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for ServeError {}

impl From<serde_json::Error> for ServeError {
    fn from(e: serde_json::Error) -> Self {
        ServeError::new(format!("bad request data: {e}"))
            .name("TypeError")
            .code("ERR_INVALID_DATA")
    }
}

impl From<String> for ServeError {
    fn from(message: String) -> Self {
        ServeError::new(message)
    }
}

impl From<&str> for ServeError {
    fn from(message: &str) -> Self {
        ServeError::new(message)
    }
}

impl From<crate::ChannelError> for ServeError {
    fn from(e: crate::ChannelError) -> Self {
        ServeError::new(e.to_string()).code("ERR_CHANNEL")
    }
}
