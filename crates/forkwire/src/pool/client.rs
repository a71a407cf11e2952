//! The typed Rust client of a pool: `call` (send, wait, decode), `send`
//! and `broadcast` of any `Serialize` value, in the pool's mode.

use super::{Body, ErrorCode, Outcome, Payload, Pool, Request, RequestError, Target};
use crate::codec::{self, Mode};
use std::time::Duration;

impl Pool {
    /// Sends `data` as a request and waits for the result, decoded as `R`.
    pub fn call<T, R>(&self, data: &T) -> Result<R, RequestError>
    where
        T: serde::Serialize + ?Sized,
        R: serde::de::DeserializeOwned,
    {
        self.call_with(data, None, Target::Any, None)
    }

    /// [`Pool::call`] with a `type`, a target and a timeout.
    pub fn call_with<T, R>(
        &self,
        data: &T,
        kind: Option<&str>,
        target: Target,
        timeout: Option<Duration>,
    ) -> Result<R, RequestError>
    where
        T: serde::Serialize + ?Sized,
        R: serde::de::DeserializeOwned,
    {
        let id = self.next_id();
        let body = self.encode_body(id, data, kind)?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.submit(Request {
            id,
            body,
            timeout,
            target,
            retries: None,
            done: Box::new(move |outcome| {
                let _ = tx.send(outcome);
            }),
        });
        let outcome = rx
            .recv()
            .map_err(|_| RequestError::new(ErrorCode::Closed, "the pool dropped the request"))?;
        self.decode_outcome(outcome)
    }

    fn encode_body<T: serde::Serialize + ?Sized>(
        &self,
        id: u64,
        data: &T,
        kind: Option<&str>,
    ) -> Result<Body, RequestError> {
        let serialize_err =
            |e: &dyn std::fmt::Display| RequestError::new(ErrorCode::Serialize, e.to_string());
        match self.shared.mode {
            Mode::Json => Ok(Body::Json {
                data: Some(serde_json::to_string(data).map_err(|e| serialize_err(&e))?),
                kind: kind.map(str::to_owned),
            }),
            Mode::Advanced => {
                #[derive(serde::Serialize)]
                struct Envelope<'a, T: ?Sized> {
                    id: u64,
                    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
                    kind: Option<&'a str>,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    version: Option<serde_json::Value>,
                    data: &'a T,
                }
                // `protocol_version` is JSON text, as in json mode's envelope.
                let version = match self.shared.options.protocol_version.as_deref() {
                    Some(text) => Some(
                        serde_json::from_str::<serde_json::Value>(text)
                            .map_err(|e| serialize_err(&e))?,
                    ),
                    None => None,
                };
                let envelope = Envelope {
                    id,
                    kind,
                    version,
                    data,
                };
                let mut frame = Vec::new();
                codec::encode_frame(self.shared.mode, &envelope, &mut frame)
                    .map_err(|e| serialize_err(&e))?;
                Ok(Body::Frame(frame))
            }
        }
    }

    fn decode_outcome<R: serde::de::DeserializeOwned>(
        &self,
        outcome: Outcome,
    ) -> Result<R, RequestError> {
        let decode = |payload: Payload, member: &str| -> Result<serde_json::Value, RequestError> {
            let value = payload
                .value(self.shared.mode)
                .map_err(|e| RequestError::new(ErrorCode::Protocol, e))?;
            Ok(match payload {
                // Advanced mode: the whole message; pick the member.
                Payload::Frame(_) => value.get(member).cloned().unwrap_or_default(),
                Payload::Json(_) => value,
            })
        };
        match outcome {
            Outcome::Result { result, .. } => serde_json::from_value(decode(result, "result")?)
                .map_err(|e| RequestError::new(ErrorCode::Protocol, e.to_string())),
            Outcome::RemoteError { error: p, .. } => {
                let value = decode(p, "error")?;
                let message = match &value {
                    serde_json::Value::String(s) => s.clone(),
                    v => v
                        .get("message")
                        .and_then(|m| m.as_str())
                        .map_or_else(|| v.to_string(), str::to_owned),
                };
                Err(RequestError::new(ErrorCode::Remote, message))
            }
            Outcome::Failed(e) => Err(e),
        }
    }

    /// Encodes `message` and sends it to `worker`, as [`Pool::send_frame`].
    pub fn send<T: serde::Serialize + ?Sized>(
        &self,
        worker: usize,
        message: &T,
    ) -> Result<bool, RequestError> {
        Ok(self.send_frame(worker, self.encode(message)?))
    }

    /// Encodes `message` and broadcasts it, as [`Pool::broadcast_frame`].
    pub fn broadcast<T: serde::Serialize + ?Sized>(
        &self,
        message: &T,
        role: Option<&str>,
    ) -> Result<usize, RequestError> {
        Ok(self.broadcast_frame(self.encode(message)?, role))
    }

    fn encode<T: serde::Serialize + ?Sized>(&self, message: &T) -> Result<Vec<u8>, RequestError> {
        let mut frame = Vec::new();
        codec::encode_frame(self.shared.mode, message, &mut frame)
            .map_err(|e| RequestError::new(ErrorCode::Serialize, e.to_string()))?;
        Ok(frame)
    }
}
