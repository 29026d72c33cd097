//! The bearer token: with `--token`, every `/api` request must carry
//! `Authorization: Bearer <token>`, compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, UNAUTHORIZED};
use super::is_api;

/// The middleware; `token` is `None` when the daemon runs without one.
pub async fn require_token(
    State(token): State<Option<Arc<str>>>,
    req: Request,
    next: Next,
) -> Response {
    if let Some(token) = token {
        if is_api(req.uri().path()) {
            let given = req
                .headers()
                .get(AUTHORIZATION)
                .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
            if !given.is_some_and(|given| same(given, token.as_bytes())) {
                return ApiError::new(
                    UNAUTHORIZED,
                    "this daemon requires a token: send the header `Authorization: Bearer <token>` (the CLI: --token or VM_SYSTEM_TOKEN)",
                )
                .into_response();
            }
        }
    }
    next.run(req).await
}

/// Equality whose time depends only on the lengths, not on where the bytes differ.
fn same(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, e) in expected.iter().enumerate() {
        let g = given.get(i).copied().unwrap_or(!e);
        diff |= usize::from(g ^ e);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn compares_whole_tokens() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secreT", b"secret"));
        assert!(!same(b"secret!", b"secret"));
        assert!(!same(b"secre", b"secret"));
        assert!(!same(b"", b"secret"));
    }
}
