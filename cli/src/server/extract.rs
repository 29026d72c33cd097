//! What a request carries, read strictly: JSON bodies (unknown fields, wrong types and
//! malformed JSON are `INVALID_REQUEST` naming the field; over the limit is
//! `PAYLOAD_TOO_LARGE`), UUIDs in paths and bodies, query parameters.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ApiResult, PAYLOAD_TOO_LARGE};

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 8 << 20;

/// A JSON body, decoded strictly into `T`.
pub struct Body<T>(pub T);

/// A JSON body that may also be empty (then `T::default()`), for action routes such as
/// `POST /sessions/{id}/close` that older clients call with `{}` or nothing.
pub struct OptionalBody<T>(pub T);

fn too_large() -> ApiError {
    ApiError::new(
        PAYLOAD_TOO_LARGE,
        format!("the request body is larger than {} MiB", BODY_LIMIT >> 20),
    )
}

/// A request's whole body, under the size limit.
pub async fn bytes<S: Send + Sync>(req: Request, state: &S) -> ApiResult<Bytes> {
    // An announced length over the limit is refused before any of the body is read.
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > BODY_LIMIT as u64) {
        return Err(too_large());
    }
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            ApiError::invalid_request(format!("cannot read the request body: {}", e.body_text()))
        }
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        let body = bytes(req, state).await?;
        if body.trim_ascii().is_empty() {
            return Err(ApiError::invalid_request(
                "the request body is empty; send a JSON object",
            ));
        }
        parse(&body).map(Body)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> ApiResult<Self> {
        let body = bytes(req, state).await?;
        if body.trim_ascii().is_empty() {
            return Ok(OptionalBody(T::default()));
        }
        parse(&body).map(OptionalBody)
    }
}

/// Decodes a JSON document into `T`; the error names the field at fault.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::invalid_request(format!("malformed JSON: {inner}"));
        }
        let text = inner.to_string();
        // serde names an unknown field in its message; the path is where it was found.
        let field = match text.strip_prefix("unknown field `") {
            Some(rest) => {
                let name = rest.split('`').next().unwrap_or_default();
                match path.as_str() {
                    "." | "" => name.to_string(),
                    p if p == name || p.ends_with(&format!(".{name}")) => path,
                    parent => format!("{parent}.{name}"),
                }
            }
            None => path,
        };
        if field == "." || field.is_empty() {
            ApiError::invalid_request(format!("invalid request body: {text}"))
        } else {
            ApiError::invalid_request(format!("field `{field}`: {text}")).detail("field", field)
        }
    })?;
    de.end()
        .map_err(|e| ApiError::invalid_request(format!("malformed JSON: {e}")))?;
    Ok(value)
}

/// A required body field: missing is `VALIDATION_ERROR` "`<name>` is required".
pub fn required<T>(value: Option<T>, name: &str) -> ApiResult<T> {
    value.ok_or_else(|| ApiError::validation(format!("{name} is required")).detail("field", name))
}

/// A UUID from a path or a body, in canonical lowercase form (upper case, braces and
/// `urn:uuid:` are accepted); anything else is `VALIDATION_ERROR`.
pub fn uuid(what: &str, raw: &str) -> ApiResult<String> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| {
            ApiError::validation(format!("{what} must be a valid UUID, got {raw:?}"))
                .detail("field", what)
        })
}

/// Query parameters (unknown ones are ignored, as browsers and proxies add their own).
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Params(q))
            .map_err(|e| ApiError::invalid_request(e.body_text()))
    }
}

impl Params {
    /// A parameter, `None` when absent or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A non-negative integer parameter (`after_seq`).
    pub fn seq(&self, name: &str) -> ApiResult<Option<u64>> {
        self.get(name)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    ApiError::validation(format!(
                        "{name} must be a non-negative integer, got {v:?}"
                    ))
                    .detail("field", name)
                })
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        #[allow(dead_code)]
        n: Option<u32>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[allow(dead_code)]
        name: Option<String>,
        #[allow(dead_code)]
        inner: Option<Inner>,
    }

    fn field_of(body: &str) -> (String, Option<String>) {
        let e = parse::<Outer>(body.as_bytes()).unwrap_err();
        assert_eq!(e.code(), "INVALID_REQUEST", "{body}");
        let r = axum::response::IntoResponse::into_response(e);
        let bytes = futures_body(r);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        (
            v["error"]["message"].as_str().unwrap().to_string(),
            v["error"]["details"]["field"].as_str().map(str::to_string),
        )
    }

    fn futures_body(r: axum::response::Response) -> Vec<u8> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec()
        })
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{"extra": 1}"#).1.as_deref(), Some("extra"));
        assert_eq!(field_of(r#"{"name": 1}"#).1.as_deref(), Some("name"));
        assert_eq!(
            field_of(r#"{"inner": {"n": "x"}}"#).1.as_deref(),
            Some("inner.n")
        );
        assert_eq!(
            field_of(r#"{"inner": {"zz": 1}}"#).1.as_deref(),
            Some("inner.zz")
        );
        let (message, field) = field_of(r#"{"name": "a"} trailing"#);
        assert!(message.starts_with("malformed JSON"), "{message}");
        assert_eq!(field, None);
        assert!(field_of("{").0.starts_with("malformed JSON"));
        assert!(parse::<Outer>(br#"{"name": "a"}"#).is_ok());
    }

    #[test]
    fn uuids_are_canonical() {
        let id = "01A23363-F0CC-750D-AB7B-9D817AED1CAE";
        assert_eq!(
            uuid("session_id", id).unwrap(),
            "01a23363-f0cc-750d-ab7b-9d817aed1cae"
        );
        assert_eq!(
            uuid("session_id", "nope").unwrap_err().code(),
            "VALIDATION_ERROR"
        );
    }
}
