//! The NATS service protocol ("micro", ADR-32) as sidecars speak it:
//! `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS`, each for every service, for
//! one service by name, or for one instance by id. The JSON shapes are the
//! protocol's; `endpoints[0].data` of a stats answer is a sidecar's own
//! ([`SidecarData`]).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// A discovery verb.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verb {
    /// Are you there?
    Ping,
    /// What do you serve?
    Info,
    /// How is it going?
    Stats,
}

/// The three subjects a service instance answers on (every verb).
pub fn subjects(name: &str, id: &str) -> [String; 3] {
    [
        "$SRV.*".to_string(),
        format!("$SRV.*.{name}"),
        format!("$SRV.*.{name}.{id}"),
    ]
}

/// The verb of a discovery subject.
pub fn verb(subject: &str) -> Option<Verb> {
    match subject.split('.').nth(1)? {
        "PING" => Some(Verb::Ping),
        "INFO" => Some(Verb::Info),
        "STATS" => Some(Verb::Stats),
        _ => None,
    }
}

/// `$SRV.PING` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct PingResponse {
    /// `io.nats.micro.v1.ping_response`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Service name.
    pub name: String,
    /// Instance id.
    pub id: String,
    /// Service version.
    pub version: String,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

/// `$SRV.INFO` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct InfoResponse {
    /// `io.nats.micro.v1.info_response`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Service name.
    pub name: String,
    /// Instance id.
    pub id: String,
    /// What the service does.
    pub description: String,
    /// Service version.
    pub version: String,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    /// Its endpoints.
    pub endpoints: Vec<EndpointInfo>,
}

/// One endpoint in an INFO answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// Endpoint name.
    pub name: String,
    /// The subject it takes requests on.
    pub subject: String,
    /// Its queue group.
    pub queue_group: String,
    /// Free-form metadata.
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

/// `$SRV.STATS` answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatsResponse {
    /// `io.nats.micro.v1.stats_response`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Service name.
    pub name: String,
    /// Instance id.
    pub id: String,
    /// Service version.
    pub version: String,
    /// When the instance started, RFC 3339.
    pub started: String,
    /// Its endpoints' counters.
    pub endpoints: Vec<EndpointStats>,
}

/// One endpoint in a STATS answer.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct EndpointStats {
    /// Endpoint name.
    pub name: String,
    /// The subject it takes requests on.
    pub subject: String,
    /// Its queue group.
    pub queue_group: String,
    /// Requests answered.
    pub num_requests: u64,
    /// Of those, answered with an error.
    pub num_errors: u64,
    /// Total time from taking to answering, in nanoseconds.
    pub processing_time: u64,
    /// Mean of that, in nanoseconds.
    pub average_processing_time: u64,
    /// `"<code>:<description>"` of the last error, or empty.
    pub last_error: String,
    /// The service's own figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// What a forkwire sidecar adds to its stats.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SidecarData {
    /// The host name.
    pub host: String,
    /// The sidecar's process id.
    pub pid: u32,
    /// Requests held now.
    pub in_flight: usize,
    /// Requests held at most.
    pub max_in_flight: usize,
    /// Taking no new requests.
    pub draining: bool,
    /// The local pool's `PoolStats`.
    pub pool: serde_json::Value,
}

/// Type names of the three answers.
pub const PING_TYPE: &str = "io.nats.micro.v1.ping_response";
/// See [`PING_TYPE`].
pub const INFO_TYPE: &str = "io.nats.micro.v1.info_response";
/// See [`PING_TYPE`].
pub const STATS_TYPE: &str = "io.nats.micro.v1.stats_response";

/// `time` in RFC 3339 (UTC, milliseconds), as JavaScript's
/// `toISOString()` writes it.
pub fn rfc3339(time: SystemTime) -> String {
    let ms = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    forkwire::codec::v8::iso_string(ms as f64).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_rfc3339() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3661);
        assert_eq!(rfc3339(leap), "2000-02-29T01:01:01.000Z");
        let later = UNIX_EPOCH + Duration::from_secs(1_796_169_600);
        assert_eq!(rfc3339(later), "2026-12-02T00:00:00.000Z");
    }

    #[test]
    fn verbs_are_read_from_the_subject() {
        assert_eq!(verb("$SRV.PING"), Some(Verb::Ping));
        assert_eq!(verb("$SRV.STATS.resize.abc"), Some(Verb::Stats));
        assert_eq!(verb("$SRV.NOPE"), None);
        assert_eq!(subjects("a", "b")[2], "$SRV.*.a.b");
    }
}
