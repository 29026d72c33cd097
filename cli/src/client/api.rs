//! The REST client: one keep-alive agent, the bearer token, the error envelope, and the
//! Server-Sent Events reader of `/executions/{id}/events/stream`.

use std::io::{BufRead, BufReader};

use serde_json::Value;
use ureq::http::Response;
use ureq::Body;

use super::{Failure, GlobalArgs};

/// The daemon's REST API under `/api/v1`.
pub struct Api {
    agent: ureq::Agent,
    /// Base URL without a trailing `/`, as typed (for messages).
    server: String,
    /// `Authorization` header value, when a token is set.
    bearer: Option<String>,
}

/// One Server-Sent Event.
#[derive(Debug, Default)]
pub struct SseEvent {
    /// `id:` (an event's seq).
    pub id: Option<String>,
    /// `event:` (`message` when absent).
    pub event: String,
    /// `data:` lines joined by `\n`.
    pub data: String,
}

/// Reads events off an open stream.
pub struct SseStream {
    reader: BufReader<ureq::BodyReader<'static>>,
}

impl Api {
    /// A client for `--server-url` with `--token`.
    pub fn new(global: &GlobalArgs) -> Self {
        // No timeouts: a waiting execution or a followed stream lasts as long as the
        // template's wall_ms allows; an unreachable daemon fails at connect at once.
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("vm-system/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Api {
            agent,
            server: global.server_url.trim_end_matches('/').to_string(),
            bearer: global
                .token
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(|t| format!("Bearer {t}")),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.server, path)
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Result<Value, Failure> {
        let mut req = self.agent.get(self.url(path));
        if let Some(b) = &self.bearer {
            req = req.header("Authorization", b);
        }
        self.answer(req.header("Accept", "application/json").call())
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<Value, Failure> {
        let mut req = self.agent.delete(self.url(path));
        if let Some(b) = &self.bearer {
            req = req.header("Authorization", b);
        }
        self.answer(req.header("Accept", "application/json").call())
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        let mut req = self.agent.post(self.url(path));
        if let Some(b) = &self.bearer {
            req = req.header("Authorization", b);
        }
        self.answer(json_body(req).send(body.to_string()))
    }

    /// `PATCH path` with a JSON body.
    pub fn patch(&self, path: &str, body: &Value) -> Result<Value, Failure> {
        let mut req = self.agent.patch(self.url(path));
        if let Some(b) = &self.bearer {
            req = req.header("Authorization", b);
        }
        self.answer(json_body(req).send(body.to_string()))
    }

    /// Opens an event stream; `after` is the last seq already seen (sent as
    /// `Last-Event-ID`, which the daemon resumes after).
    pub fn stream(&self, path: &str, after: u64) -> Result<SseStream, Failure> {
        let mut req = self.agent.get(self.url(path));
        if let Some(b) = &self.bearer {
            req = req.header("Authorization", b);
        }
        let req = req
            .header("Accept", "text/event-stream")
            .header("Last-Event-ID", after.to_string());
        let mut response = req.call().map_err(|e| self.transport(e))?;
        if response.status().as_u16() >= 400 {
            let text = read_text(&mut response).map_err(|e| self.transport(e))?;
            return Err(api_failure(response.status().as_u16(), &text));
        }
        Ok(SseStream {
            reader: BufReader::new(response.into_body().into_reader()),
        })
    }

    fn answer(&self, result: Result<Response<Body>, ureq::Error>) -> Result<Value, Failure> {
        let mut response = result.map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        let text = read_text(&mut response).map_err(|e| self.transport(e))?;
        if status >= 400 {
            return Err(api_failure(status, &text));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| {
            Failure::Failed(format!(
                "the daemon at {} answered {status} with a body that is not JSON ({e})",
                self.server
            ))
        })
    }

    fn transport(&self, error: ureq::Error) -> Failure {
        use std::io::ErrorKind;
        let unreachable = match &error {
            ureq::Error::Io(e) => matches!(
                e.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::AddrNotAvailable
                    | ErrorKind::TimedOut
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
            ),
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => true,
            _ => false,
        };
        if unreachable {
            let reason = match error {
                ureq::Error::Io(e) => e.to_string(),
                other => other.to_string(),
            };
            Failure::Unreachable {
                url: self.server.clone(),
                reason,
            }
        } else {
            Failure::Failed(format!("request to {} failed: {error}", self.server))
        }
    }
}

fn json_body(
    req: ureq::RequestBuilder<ureq::typestate::WithBody>,
) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
    req.header("Accept", "application/json")
        .header("Content-Type", "application/json")
}

fn read_text(response: &mut Response<Body>) -> Result<String, ureq::Error> {
    // Event lists can be large (max_output_kb goes up to 1 GiB): no client-side cap.
    response
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_string()
}

/// The failure for an error status: the envelope's code and message when the body is one.
fn api_failure(status: u16, body: &str) -> Failure {
    let envelope: Option<Value> = serde_json::from_str(body).ok();
    let error = envelope.as_ref().and_then(|v| v.get("error"));
    let field = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Failure::Api {
        status,
        code: field("code"),
        message: field("message"),
    }
}

impl SseStream {
    /// The next event, or `None` when the stream closed. Comment lines are skipped.
    pub fn next_event(&mut self) -> std::io::Result<Option<SseEvent>> {
        let mut event = SseEvent::default();
        let mut seen = false;
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Ok(None);
            }
            let text = line.trim_end_matches(['\n', '\r']);
            if text.is_empty() {
                if seen {
                    if event.event.is_empty() {
                        event.event = "message".into();
                    }
                    return Ok(Some(event));
                }
                continue;
            }
            if text.starts_with(':') {
                continue;
            }
            let (field, value) = match text.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (text, ""),
            };
            seen = true;
            match field {
                "id" => event.id = Some(value.to_string()),
                "event" => event.event = value.to_string(),
                "data" => {
                    if !event.data.is_empty() {
                        event.data.push('\n');
                    }
                    event.data.push_str(value);
                }
                _ => {}
            }
        }
    }
}

/// Percent-encodes one path segment (a name or a startup-file path, `/` included).
pub fn segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_encode_slashes_and_spaces() {
        assert_eq!(segment("runtime/init.js"), "runtime%2Finit.js");
        assert_eq!(segment("a b&c"), "a%20b%26c");
        assert_eq!(segment("lodash-4.17.21"), "lodash-4.17.21");
    }

    #[test]
    fn error_bodies_become_failures() {
        let f = api_failure(
            422,
            r#"{"error":{"code":"MODULE_NOT_ALLOWED","message":"no"}}"#,
        );
        match f {
            Failure::Api {
                status,
                code,
                message,
            } => {
                assert_eq!(status, 422);
                assert_eq!(code.as_deref(), Some("MODULE_NOT_ALLOWED"));
                assert_eq!(message.as_deref(), Some("no"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            api_failure(500, "oops"),
            Failure::Api {
                status: 500,
                code: None,
                message: None
            }
        ));
    }
}
