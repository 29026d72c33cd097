//! What every request goes through: its `X-Request-Id`, its log line, and — under `/api` —
//! the error envelope for the answers the router gives on its own (unknown method,
//! unreadable path) so that every `/api` response is JSON.

use std::time::Instant;

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{
    ApiError, INVALID_REQUEST, METHOD_NOT_ALLOWED, NOT_FOUND, PAYLOAD_TOO_LARGE, UNAUTHORIZED,
};
use super::is_api;

const REQUEST_ID: &str = "x-request-id";

/// The client's `X-Request-Id` when it is 1 to 128 visible ASCII characters, else a new
/// UUID.
fn request_id(req: &Request) -> HeaderValue {
    req.headers()
        .get(REQUEST_ID)
        .filter(|v| {
            let b = v.as_bytes();
            (1..=128).contains(&b.len()) && b.iter().all(|c| (0x21..=0x7e).contains(c))
        })
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .expect("a UUID is a valid header")
        })
}

/// Sets `X-Request-Id` and logs one line per request (method, path, status, duration, id).
pub async fn request_log(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    // A request relayed to another daemon carries the same id, so both log lines match.
    req.headers_mut().insert(REQUEST_ID, id.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut response = next.run(req).await;
    let status = response.status().as_u16();
    tracing::info!(
        method = %method,
        path = %path,
        status,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        request_id = id.to_str().unwrap_or_default(),
        "request"
    );
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// Turns a non-JSON error answer under `/api` into the envelope, keeping its headers
/// (`Allow` of a 405).
pub async fn envelope(req: Request, next: Next) -> Response {
    let api = is_api(req.uri().path());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = next.run(req).await;
    let status = response.status();
    let json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !api || !(status.is_client_error() || status.is_server_error()) || json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let error = match status {
        // The router adds the `Allow` header after this layer has run.
        StatusCode::METHOD_NOT_ALLOWED => ApiError::new(
            METHOD_NOT_ALLOWED,
            format!(
                "{method} is not allowed on {path}; the Allow header lists the methods that are"
            ),
        ),
        StatusCode::NOT_FOUND => ApiError::new(NOT_FOUND, format!("no route for {method} {path}")),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(PAYLOAD_TOO_LARGE, text),
        StatusCode::UNAUTHORIZED => ApiError::new(UNAUTHORIZED, text),
        s if s.is_client_error() => ApiError::new(INVALID_REQUEST, text),
        _ => ApiError::new("INTERNAL", text),
    };
    let mut out = error.into_response();
    for (name, value) in parts.headers.iter() {
        if name != CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}
