//! The REST API under `/api/v1`: one file per resource, each handler a few lines that
//! read the request, call the core and shape the answer.

mod catalogs;
mod executions;
mod ops;
mod sessions;
mod templates;

use axum::extract::Request;
use axum::http::{Method, Uri};
use axum::Router;

use super::error::{ApiError, ApiResult, METHOD_NOT_ALLOWED, NOT_FOUND};
use super::extract::BODY_LIMIT;
use super::AppState;

/// Every route of the API (paths relative to `/api/v1`).
pub fn api() -> Router<AppState> {
    Router::new()
        .merge(ops::routes())
        .merge(templates::routes())
        .merge(sessions::routes())
        .merge(executions::routes())
        .merge(catalogs::routes())
        .method_not_allowed_fallback(wrong_method)
        .fallback(unknown_route)
}

/// Reads (and drops) a request's body, so the connection stays usable for the next
/// request after an early answer.
async fn drain(req: Request) -> (Method, Uri) {
    let (parts, body) = req.into_parts();
    let _ = axum::body::to_bytes(body, BODY_LIMIT).await;
    (parts.method, parts.uri)
}

/// `404 NOT_FOUND` for a path no route has.
pub async fn unknown_route(req: Request) -> ApiError {
    let (method, uri) = drain(req).await;
    ApiError::new(
        NOT_FOUND,
        format!(
            "no route for {method} {}; the API lives under /api/v1",
            uri.path()
        ),
    )
}

/// `405 METHOD_NOT_ALLOWED`; the router adds the `Allow` header.
async fn wrong_method(req: Request) -> ApiError {
    let (method, uri) = drain(req).await;
    ApiError::new(
        METHOD_NOT_ALLOWED,
        format!(
            "{method} is not allowed on {}; the Allow header lists the methods that are",
            uri.path()
        ),
    )
}

/// Runs a call that may run JavaScript, wait for a run or touch the disk on a blocking
/// thread, never on an async worker.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new("INTERNAL", format!("a worker thread failed: {e}")))?
}
