//! How a sidecar or a remote pool reaches NATS: servers and credentials as
//! NATS clients usually take them.

use std::path::PathBuf;
use std::time::Duration;

/// Where the NATS servers are and how to log in.
#[derive(Clone, Debug, Default)]
pub struct NatsOptions {
    /// Server URLs (`nats://host:4222`, `tls://...`); more than one for a
    /// cluster. Empty means `nats://127.0.0.1:4222`.
    pub servers: Vec<String>,
    /// The connection's name, as the server's monitoring shows it.
    pub name: Option<String>,
    /// A credentials file (`.creds`: JWT and nkey seed).
    pub credentials: Option<PathBuf>,
    /// User and password.
    pub user: Option<(String, String)>,
    /// An authentication token.
    pub token: Option<String>,
    /// An nkey seed.
    pub nkey: Option<String>,
    /// Certificate authority files that sign the servers' certificates.
    pub tls_ca: Vec<PathBuf>,
    /// A client certificate and its key, for mutual TLS.
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// Insist on TLS even where the server does not ask for it.
    pub require_tls: bool,
    /// How long one connection attempt may take (default 2 s).
    pub connect_timeout: Option<Duration>,
}

/// A connection that could not be made.
#[derive(Debug)]
pub struct ConnectError(pub String);

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

impl NatsOptions {
    /// The servers to dial, with the default when none is given.
    pub fn server_list(&self) -> Vec<String> {
        if self.servers.is_empty() {
            vec!["nats://127.0.0.1:4222".into()]
        } else {
            self.servers.clone()
        }
    }

    /// The async-nats options these stand for (credentials files are read
    /// here).
    pub async fn client_options(&self) -> Result<async_nats::ConnectOptions, ConnectError> {
        let mut options = match &self.credentials {
            Some(path) => async_nats::ConnectOptions::with_credentials_file(path.clone())
                .await
                .map_err(|e| ConnectError(format!("credentials file {}: {e}", path.display())))?,
            None => async_nats::ConnectOptions::new(),
        };
        if let Some((user, password)) = &self.user {
            options = options.user_and_password(user.clone(), password.clone());
        }
        if let Some(token) = &self.token {
            options = options.token(token.clone());
        }
        if let Some(seed) = &self.nkey {
            options = options.nkey(seed.clone());
        }
        for ca in &self.tls_ca {
            options = options.add_root_certificates(ca.clone());
        }
        if let Some((cert, key)) = &self.tls_client {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        if let Some(name) = &self.name {
            options = options.name(name);
        }
        Ok(options
            .require_tls(self.require_tls)
            .connection_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(2)))
            // Reconnect without end, quickly at first: the pool's requests
            // settle on their own meanwhile.
            .max_reconnects(None)
            .reconnect_delay_callback(|attempt| {
                Duration::from_millis((50 * attempt as u64).min(2000))
            }))
    }

    /// Reads what the environment sets: `NATS_URL` (comma-separated),
    /// `NATS_CREDS`, `NATS_USER` with `NATS_PASSWORD`, `NATS_TOKEN`,
    /// `NATS_NKEY`, `NATS_CA`, `NATS_CERT` with `NATS_KEY`, as the `nats`
    /// command-line tool names them. Options set already win.
    pub fn with_env(mut self) -> NatsOptions {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if self.servers.is_empty() {
            if let Some(urls) = var("NATS_URL") {
                self.servers = urls.split(',').map(|s| s.trim().to_string()).collect();
            }
        }
        self.credentials = self
            .credentials
            .or_else(|| var("NATS_CREDS").map(PathBuf::from));
        if self.user.is_none() {
            if let (Some(user), Some(password)) = (var("NATS_USER"), var("NATS_PASSWORD")) {
                self.user = Some((user, password));
            }
        }
        self.token = self.token.or_else(|| var("NATS_TOKEN"));
        self.nkey = self.nkey.or_else(|| var("NATS_NKEY"));
        if self.tls_ca.is_empty() {
            self.tls_ca.extend(var("NATS_CA").map(PathBuf::from));
        }
        if self.tls_client.is_none() {
            if let (Some(cert), Some(key)) = (var("NATS_CERT"), var("NATS_KEY")) {
                self.tls_client = Some((cert.into(), key.into()));
            }
        }
        self
    }

    /// Connects, with `events` called for every connection event.
    pub async fn connect<F>(&self, events: F) -> Result<async_nats::Client, ConnectError>
    where
        F: Fn(async_nats::Event) + Send + Sync + 'static,
    {
        let events = std::sync::Arc::new(events);
        let options = self.client_options().await?.event_callback(move |event| {
            let events = std::sync::Arc::clone(&events);
            async move { events(event) }
        });
        options.connect(self.server_list()).await.map_err(|e| {
            ConnectError(format!(
                "cannot connect to NATS at {}: {e}",
                self.server_list().join(",")
            ))
        })
    }
}
