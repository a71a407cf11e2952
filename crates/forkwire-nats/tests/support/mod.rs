//! Real NATS servers and real sidecar processes for the tests: servers on
//! free loopback ports, started and stopped here.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `nats-server` binary (`/usr/sbin` is not on every PATH).
pub fn nats_server_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("nats-server"))
        .find(|p| p.exists());
    on_path
        .or_else(|| Some(PathBuf::from("/usr/sbin/nats-server")).filter(|p| p.exists()))
        .expect("nats-server is not installed (apt-get install -y nats-server)")
}

/// A running `nats-server`.
pub struct NatsServer {
    child: Child,
    pub port: u16,
    args: Vec<String>,
}

impl NatsServer {
    /// A server on a free port, with `extra` arguments.
    pub fn start(extra: &[&str]) -> NatsServer {
        let port = free_port();
        let mut args = vec![
            "-a".to_string(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        NatsServer::launch(port, args)
    }

    fn launch(port: u16, args: Vec<String>) -> NatsServer {
        let child = Command::new(nats_server_bin())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        wait_for_port(port);
        NatsServer { child, port, args }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops it at once (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again with the same arguments and port.
    pub fn restart(&mut self) {
        self.kill();
        *self = NatsServer::launch(self.port, self.args.clone());
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_for_port(port: u16) {
    let until = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < until,
            "nats-server did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Three servers clustered by routes on loopback; config files in `dir`.
pub fn cluster(dir: &Path) -> Vec<NatsServer> {
    let cluster_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let routes: Vec<String> = cluster_ports
        .iter()
        .map(|p| format!("nats-route://127.0.0.1:{p}"))
        .collect();
    let servers: Vec<NatsServer> = (0..3)
        .map(|i| {
            let port = free_port();
            let conf = dir.join(format!("n{i}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port: {port}\nserver_name: n{i}\ncluster {{ name: c1, listen: 127.0.0.1:{}, routes: [{}] }}\n",
                    cluster_ports[i],
                    routes.join(", ")
                ),
            )
            .unwrap();
            let args = vec!["-c".to_string(), conf.display().to_string(), "-a".into(), "127.0.0.1".into()];
            NatsServer::launch(port, args)
        })
        .collect();
    // Routes form within a second or so.
    std::thread::sleep(Duration::from_millis(1500));
    servers
}

/// Where `cargo test` put this package's binaries and examples.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

/// The test worker (examples/nats_worker.rs).
pub fn worker_bin() -> PathBuf {
    target_dir().join("examples").join("nats_worker")
}

/// A running `forkwire-sidecar`.
pub struct Sidecar {
    pub child: Child,
    pub log: mpsc::Receiver<String>,
}

impl Sidecar {
    /// Starts a sidecar for `service` on `servers` with `args` before `--`,
    /// and the test worker with `WORKER_TAG=tag` behind it; returns once it
    /// serves.
    pub fn start(
        servers: &str,
        service: &str,
        tag: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Sidecar {
        let mut command = Command::new(env!("CARGO_BIN_EXE_forkwire-sidecar"));
        command
            .args(["--nats", servers, "--service", service])
            .args(args)
            .arg("--")
            .arg(worker_bin())
            .env("WORKER_TAG", tag)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start forkwire-sidecar");
        let (tx, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let sidecar = Sidecar { child, log };
        sidecar.wait_for("serving");
        sidecar
    }

    /// Waits for a log line containing `text`; panics after 10 s.
    pub fn wait_for(&self, text: &str) -> String {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => panic!("the sidecar never said {text:?}"),
            }
        }
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for it to exit (10 s at most); its exit code.
    pub fn wait(&mut self) -> Option<i32> {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < until, "the sidecar did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh temporary directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "forkwire-nats-{name}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
