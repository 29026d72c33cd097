//! `GET /health`, `GET /runtime/summary`, `GET /daemons`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use vm_system::RuntimeSummary;

use super::blocking;
use crate::server::error::ApiResult;
use crate::server::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/runtime/summary", get(summary))
        .route("/daemons", get(daemons))
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn summary(State(state): State<AppState>) -> Json<RuntimeSummary> {
    Json(state.vm.runtime_summary())
}

/// The daemons on this daemon's store (alone on a SQLite file), oldest first, and which one
/// answered.
async fn daemons(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let vm = state.vm.clone();
    let (members, me) = blocking(move || Ok((vm.daemons()?, vm.daemon_id().to_string()))).await?;
    Ok(Json(json!({"daemons": members, "self": me})))
}
