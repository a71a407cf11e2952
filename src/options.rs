//! Pool options as JavaScript passes them (already validated and defaulted
//! by `lib/options.js`), turned into the engine's.

use forkwire::pool::{Heartbeat, PoolOptions, RestartPolicy};
use forkwire::process::{Command, StdioMode};
use forkwire::Mode;
use napi_derive::napi;
use std::collections::HashMap;
use std::time::Duration;

/// Options for the native pool. Times are milliseconds.
#[napi(object)]
pub struct NativePoolOptions {
    /// Program to run (a Rust worker, or `process.execPath` for scripts).
    pub program: String,
    /// Its arguments (for scripts: execArgv, the script, its args).
    pub args: Vec<String>,
    /// The complete environment of the workers.
    pub env: HashMap<String, String>,
    /// Working directory.
    pub cwd: Option<String>,
    /// `'inherit'` or `'ignore'`.
    pub stdio: String,
    /// `'json'` or `'advanced'`.
    pub serialization: String,
    pub size: u32,
    pub concurrency: u32,
    /// Default request timeout; 0 for none.
    pub timeout: f64,
    /// Maximum queued requests; a negative value for no limit.
    pub max_queue: f64,
    pub restart: bool,
    pub max_restarts: u32,
    pub restart_window: f64,
    pub restart_backoff: f64,
    /// Resends per request when its worker dies.
    pub retries: u32,
    /// Heartbeat interval; 0 for no heartbeats.
    pub heartbeat_interval: f64,
    pub heartbeat_timeout: f64,
    /// 0 for no limit.
    pub max_tasks_per_worker: f64,
    /// Resident memory limit in MiB; 0 for none.
    pub max_memory_mb: f64,
    /// 0 for no limit.
    pub max_protocol_errors: u32,
    /// JSON text of the protocol version, if any.
    pub protocol_version: Option<String>,
    /// The largest frame accepted from a worker.
    pub max_frame_bytes: f64,
    /// Bytes of replies and events waiting for JS past which the engine
    /// stops reading from workers.
    pub max_backlog_bytes: f64,
}

/// How one request is routed and bounded, as `lib/pool.js` passes it
/// (absent members: the pool's defaults). Times are milliseconds.
#[napi(object)]
#[derive(Default)]
pub struct NativeRequestOptions {
    /// The request's `type`.
    pub kind: Option<String>,
    /// Its timeout; 0 for none.
    pub timeout: Option<f64>,
    /// The worker slot it must run on.
    pub worker: Option<u32>,
    /// A role one of its workers must hold.
    pub role: Option<String>,
    /// A sticky key: requests with the same key go to the same worker.
    pub key: Option<String>,
    /// Resends if its worker dies.
    pub retries: Option<u32>,
}

/// A byte count from JS; NaN or negatives are zero, huge values saturate.
pub(crate) fn bytes(n: f64) -> usize {
    // `as` saturates (and maps NaN to 0).
    n as usize
}

/// Milliseconds from JS as a Duration; huge values (`Infinity`) saturate
/// and NaN or negatives are zero, never a panic.
pub(crate) fn millis(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms.max(0.0) / 1000.0).unwrap_or(Duration::MAX)
}

impl NativePoolOptions {
    pub fn into_engine(self) -> napi::Result<PoolOptions> {
        let mode = Mode::parse(&self.serialization).ok_or_else(|| {
            napi::Error::from_reason(format!("unknown serialization {:?}", self.serialization))
        })?;
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).env_clear().serialization(mode);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(cwd) = &self.cwd {
            cmd.current_dir(cwd);
        }
        if self.stdio == "ignore" {
            cmd.stdio(StdioMode::Null);
        }
        let mut options = PoolOptions::new(cmd);
        options.size = self.size.max(1) as usize;
        options.concurrency = self.concurrency.max(1) as usize;
        options.timeout = (self.timeout > 0.0).then(|| millis(self.timeout));
        options.max_queue = if self.max_queue < 0.0 {
            usize::MAX
        } else {
            self.max_queue as usize
        };
        options.restart = RestartPolicy {
            enabled: self.restart,
            max_restarts: self.max_restarts as usize,
            window: millis(self.restart_window),
            backoff: millis(self.restart_backoff),
        };
        options.retries = self.retries;
        if self.heartbeat_interval > 0.0 {
            options.heartbeat = Some(Heartbeat {
                interval: millis(self.heartbeat_interval),
                timeout: millis(self.heartbeat_timeout),
            });
        }
        options.max_tasks_per_worker =
            (self.max_tasks_per_worker >= 1.0).then_some(self.max_tasks_per_worker as u64);
        options.max_memory =
            (self.max_memory_mb > 0.0).then_some((self.max_memory_mb * 1024.0 * 1024.0) as u64);
        options.max_protocol_errors =
            (self.max_protocol_errors > 0).then_some(self.max_protocol_errors as usize);
        options.protocol_version = self.protocol_version;
        options.max_frame = bytes(self.max_frame_bytes).max(1);
        Ok(options)
    }
}
