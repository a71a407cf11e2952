//! How a request can fail, with the stable codes JavaScript sees.

use crate::process::ExitStatus;
use std::fmt;

/// The stable code of a failure, as `err.code` in JavaScript.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request's deadline passed.
    Timeout,
    /// The caller cancelled the request.
    Aborted,
    /// The queue held `max_queue` requests already.
    QueueFull,
    /// The pool was closed before the request settled.
    Closed,
    /// The worker running the request exited or disconnected.
    WorkerExited,
    /// A worker sent a frame that could not be read.
    Protocol,
    /// The payload could not be encoded; nothing was sent.
    Serialize,
    /// A protocol version mismatch.
    Version,
    /// A worker could not be started.
    Spawn,
    /// The worker replied with an error.
    Remote,
    /// The worker did not take the handle sent with a request or message
    /// (it answered `NODE_HANDLE_NACK` every time).
    HandleRefused,
    /// No worker could take the request: for a remote pool, no sidecar
    /// serves the service.
    NoWorkers,
    /// The connection to the message broker (a remote pool's NATS server)
    /// could not be made, was refused, or was lost with the request on it.
    Connection,
}

impl ErrorCode {
    /// Every code, in declaration order (`ALL[code.index()] == code`).
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::Timeout,
        ErrorCode::Aborted,
        ErrorCode::QueueFull,
        ErrorCode::Closed,
        ErrorCode::WorkerExited,
        ErrorCode::Protocol,
        ErrorCode::Serialize,
        ErrorCode::Version,
        ErrorCode::Spawn,
        ErrorCode::Remote,
        ErrorCode::HandleRefused,
        ErrorCode::NoWorkers,
        ErrorCode::Connection,
    ];

    /// This code's position in [`ErrorCode::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// What a request cancelled with this code settles with: its deadline
    /// passed ([`ErrorCode::Timeout`]) or its caller aborted it (any other).
    pub fn cancellation_message(self) -> &'static str {
        match self {
            ErrorCode::Timeout => "the request timed out",
            _ => "the request was aborted",
        }
    }

    /// The code string, e.g. `"ERR_FORKWIRE_TIMEOUT"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Timeout => "ERR_FORKWIRE_TIMEOUT",
            ErrorCode::Aborted => "ERR_FORKWIRE_ABORTED",
            ErrorCode::QueueFull => "ERR_FORKWIRE_QUEUE_FULL",
            ErrorCode::Closed => "ERR_FORKWIRE_CLOSED",
            ErrorCode::WorkerExited => "ERR_FORKWIRE_WORKER_EXITED",
            ErrorCode::Protocol => "ERR_FORKWIRE_PROTOCOL",
            ErrorCode::Serialize => "ERR_FORKWIRE_SERIALIZE",
            ErrorCode::Version => "ERR_FORKWIRE_VERSION",
            ErrorCode::Spawn => "ERR_FORKWIRE_SPAWN",
            ErrorCode::Remote => "ERR_FORKWIRE_REMOTE",
            ErrorCode::HandleRefused => "ERR_FORKWIRE_HANDLE_REFUSED",
            ErrorCode::NoWorkers => "ERR_FORKWIRE_NO_WORKERS",
            ErrorCode::Connection => "ERR_FORKWIRE_CONNECTION",
        }
    }
}

#[cfg(test)]
#[test]
fn all_lists_every_code_at_its_index() {
    for (i, code) in ErrorCode::ALL.iter().enumerate() {
        assert_eq!(code.index(), i);
        assert_eq!(code.as_str().parse::<ErrorCode>(), Ok(*code));
    }
    assert!("ERR_NOT_OURS".parse::<ErrorCode>().is_err());
}

impl std::str::FromStr for ErrorCode {
    type Err = ();

    /// The code of a code string (`"ERR_FORKWIRE_TIMEOUT"`), as
    /// [`ErrorCode::as_str`] writes it.
    fn from_str(text: &str) -> Result<ErrorCode, ()> {
        ErrorCode::ALL
            .into_iter()
            .find(|code| code.as_str() == text)
            .ok_or(())
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request that did not produce a result.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestError {
    /// What happened.
    pub code: ErrorCode,
    /// A sentence for people.
    pub message: String,
    /// The worker involved, if one was.
    pub worker: Option<usize>,
    /// For [`ErrorCode::WorkerExited`]: how the worker ended, once known.
    pub exit: Option<ExitStatus>,
}

impl RequestError {
    /// A failure with no worker involved.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> RequestError {
        RequestError {
            code,
            message: message.into(),
            worker: None,
            exit: None,
        }
    }

    pub(crate) fn on_worker(mut self, worker: usize) -> RequestError {
        self.worker = Some(worker);
        self
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for RequestError {}
