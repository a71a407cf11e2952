//! The parent side: start a child with the IPC channel set up exactly as
//! Node's `child_process.fork()` does, so a Node script finds
//! `process.send` and `process.on('message')`, and a Rust program finds
//! [`crate::Channel::from_env`].
//!
//! The child's end of a socket pair is put at descriptor 3 (where `fork()`
//! puts it), `NODE_CHANNEL_FD` and `NODE_CHANNEL_SERIALIZATION_MODE` are set,
//! and the parent keeps the other end as a [`Channel`].

use crate::channel::{socket, Channel, ChannelError, ENV_FD, ENV_MODE};
use crate::codec::{Limits, Mode};
use parking_lot::Mutex;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The descriptor the child finds the channel at, as under `fork()`.
pub const CHILD_CHANNEL_FD: i32 = 3;

/// Where a child's standard streams go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StdioMode {
    /// Share the parent's (the default, as with `fork()`).
    #[default]
    Inherit,
    /// Connect to `/dev/null`.
    Null,
}

/// A child process to start with an IPC channel. Mirrors
/// `std::process::Command` for the parts that matter here.
///
/// ```no_run
/// use forkwire::process::Command;
///
/// let mut child = Command::node("worker.js").spawn()?;
/// child.channel().send(&serde_json::json!({ "id": 1, "data": { "n": 21 } }))?;
/// let reply: Option<serde_json::Value> = child.channel().recv()?;
/// child.channel().disconnect();
/// println!("{reply:?} {:?}", child.wait()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Command {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    env_clear: bool,
    cwd: Option<PathBuf>,
    mode: Mode,
    limits: Limits,
    stdio: StdioMode,
}

impl Command {
    /// A child running `program` directly (a Rust worker, or any program
    /// that speaks the channel).
    pub fn new(program: impl AsRef<Path>) -> Command {
        Command {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            env_clear: false,
            cwd: None,
            mode: Mode::Json,
            limits: Limits::default(),
            stdio: StdioMode::Inherit,
        }
    }

    /// A Node child running `script`, like `fork(script)`: the program is
    /// `node` from `PATH` (see [`Command::node_with`]).
    pub fn node(script: impl AsRef<OsStr>) -> Command {
        Self::node_with("node", std::iter::empty::<&str>(), script)
    }

    /// A Node child running `script` with the given `node` executable and
    /// `execArgv`.
    pub fn node_with<I, S>(
        exec_path: impl AsRef<Path>,
        exec_argv: I,
        script: impl AsRef<OsStr>,
    ) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(exec_path);
        cmd.args(exec_argv);
        cmd.arg(script);
        cmd
    }

    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.env.push((
            key.as_ref().to_os_string(),
            Some(value.as_ref().to_os_string()),
        ));
        self
    }

    /// Removes an environment variable for the child.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Command {
        self.env.push((key.as_ref().to_os_string(), None));
        self
    }

    /// Starts the child with an empty environment (plus what
    /// [`Command::env`] adds and the channel's own variables).
    pub fn env_clear(&mut self) -> &mut Command {
        self.env_clear = true;
        self.env.clear();
        self
    }

    /// The child's working directory.
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Command {
        self.cwd = Some(dir.as_ref().to_path_buf());
        self
    }

    /// The channel's serialization mode (default json).
    pub fn serialization(&mut self, mode: Mode) -> &mut Command {
        self.mode = mode;
        self
    }

    /// Limits on frames received from the child.
    pub fn limits(&mut self, limits: Limits) -> &mut Command {
        self.limits = limits;
        self
    }

    /// Where the child's stdin, stdout and stderr go.
    pub fn stdio(&mut self, stdio: StdioMode) -> &mut Command {
        self.stdio = stdio;
        self
    }

    /// The channel's serialization mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The program this command runs.
    pub fn program(&self) -> &Path {
        &self.program
    }

    /// Starts the child.
    pub fn spawn(&self) -> Result<ChildProcess, SpawnError> {
        let (ours, theirs) = UnixStream::pair().map_err(SpawnError::Socket)?;
        let channel =
            Channel::from_stream(ours, self.mode, self.limits).map_err(SpawnError::Channel)?;
        let mut cmd = std::process::Command::new(&self.program);
        cmd.args(&self.args);
        if self.env_clear {
            cmd.env_clear();
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.env(ENV_FD, CHILD_CHANNEL_FD.to_string());
        cmd.env(ENV_MODE, self.mode.as_str());
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        if self.stdio == StdioMode::Null {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        }
        let child_fd = theirs.as_raw_fd();
        // SAFETY: between fork and exec we only make async-signal-safe
        // calls (dup2, fcntl) on descriptors we own.
        unsafe {
            cmd.pre_exec(move || {
                if child_fd == CHILD_CHANNEL_FD {
                    socket::set_cloexec(child_fd, false)
                } else if libc::dup2(child_fd, CHILD_CHANNEL_FD) < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(())
                }
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| SpawnError::Exec(self.program.clone(), e))?;
        drop(theirs);
        Ok(ChildProcess {
            pid: child.id(),
            channel,
            reaper: Reaper::new(child),
        })
    }
}

/// A running child with its channel.
#[derive(Debug)]
pub struct ChildProcess {
    pid: u32,
    channel: Channel,
    reaper: Reaper,
}

impl ChildProcess {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// The parent's end of the channel.
    pub fn channel(&mut self) -> &mut Channel {
        &mut self.channel
    }

    /// Splits into the channel and a [`Reaper`] that waits for and signals
    /// the process, so each can go to its own thread.
    pub fn into_parts(self) -> (Channel, Reaper) {
        (self.channel, self.reaper)
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) unless the child has already
    /// been reaped.
    pub fn kill(&self, signal: i32) -> io::Result<()> {
        self.reaper.kill(signal)
    }

    /// Waits for the child to exit.
    pub fn wait(&self) -> io::Result<ExitStatus> {
        self.reaper.wait()
    }
}

/// Waits for a child and signals it without ever signalling a recycled pid:
/// the process is reaped under the same lock that [`Reaper::kill`] takes.
#[derive(Debug, Clone)]
pub struct Reaper {
    inner: std::sync::Arc<ReaperInner>,
}

#[derive(Debug)]
struct ReaperInner {
    pid: i32,
    state: Mutex<Option<ExitStatus>>,
}

impl Reaper {
    fn new(child: std::process::Child) -> Reaper {
        Reaper {
            inner: std::sync::Arc::new(ReaperInner {
                pid: child.id() as i32,
                state: Mutex::new(None),
            }),
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.inner.pid as u32
    }

    /// Sends `signal` unless the child is already reaped.
    pub fn kill(&self, signal: i32) -> io::Result<()> {
        let state = self.inner.state.lock();
        if state.is_some() {
            return Ok(());
        }
        // SAFETY: the pid is still ours: it is not reaped while we hold the lock.
        if unsafe { libc::kill(self.inner.pid, signal) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The exit status, if the child has been reaped.
    pub fn try_status(&self) -> Option<ExitStatus> {
        *self.inner.state.lock()
    }

    /// Blocks until the child exits, then reaps it. Safe to call from
    /// several threads; all get the same status.
    pub fn wait(&self) -> io::Result<ExitStatus> {
        if let Some(status) = self.try_status() {
            return Ok(status);
        }
        // Wait without reaping, so the pid stays ours until we hold the lock.
        loop {
            // SAFETY: siginfo is plain data written by waitid.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let rc = unsafe {
                libc::waitid(
                    libc::P_PID,
                    self.inner.pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if rc == 0 {
                break;
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                // Someone else reaped it (another waiter): fall through.
                Some(libc::ECHILD) => break,
                _ => return Err(err),
            }
        }
        let mut state = self.inner.state.lock();
        if let Some(status) = *state {
            return Ok(status);
        }
        let mut raw = 0;
        // SAFETY: reaping our own child; the status int is written by the call.
        let rc = unsafe { libc::waitpid(self.inner.pid, &mut raw, 0) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let status = ExitStatus::from_raw(raw);
        *state = Some(status);
        Ok(status)
    }
}

/// How a child ended: an exit code or a signal, as Node's `'exit'` event
/// reports `(code, signal)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitStatus {
    /// The exit code, when the child exited normally.
    pub code: Option<i32>,
    /// The signal number, when a signal ended the child.
    pub signal: Option<i32>,
}

impl ExitStatus {
    fn from_raw(raw: i32) -> ExitStatus {
        if libc::WIFEXITED(raw) {
            ExitStatus {
                code: Some(libc::WEXITSTATUS(raw)),
                signal: None,
            }
        } else if libc::WIFSIGNALED(raw) {
            ExitStatus {
                code: None,
                signal: Some(libc::WTERMSIG(raw)),
            }
        } else {
            ExitStatus {
                code: None,
                signal: None,
            }
        }
    }

    /// Whether the child exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The signal's name as Node writes it (`"SIGKILL"`), if there is one.
    pub fn signal_name(&self) -> Option<&'static str> {
        self.signal.map(signal_name)
    }
}

/// Node's name for a signal number (`9` is `"SIGKILL"`).
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGCHLD => "SIGCHLD",
        libc::SIGCONT => "SIGCONT",
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGTSTP => "SIGTSTP",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        _ => "SIGUNKNOWN",
    }
}

/// The resident set size of process `pid` in bytes, from `/proc`
/// (`None` where it cannot be read).
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no memory effects.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok()?)
}

/// A child that could not be started.
#[derive(Debug)]
pub enum SpawnError {
    /// The socket pair could not be made.
    Socket(io::Error),
    /// The parent's end could not be wrapped.
    Channel(ChannelError),
    /// The program could not be executed.
    Exec(PathBuf, io::Error),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Socket(e) => write!(f, "cannot create the IPC socket pair: {e}"),
            SpawnError::Channel(e) => write!(f, "cannot set up the IPC channel: {e}"),
            SpawnError::Exec(p, e) => write!(f, "cannot start {}: {e}", p.display()),
        }
    }
}

impl std::error::Error for SpawnError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SpawnError::Socket(e) | SpawnError::Exec(_, e) => Some(e),
            SpawnError::Channel(e) => Some(e),
        }
    }
}
