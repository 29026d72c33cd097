//! `GET /health`, `GET /runtime/summary`.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use vm_system::RuntimeSummary;

use crate::server::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/runtime/summary", get(summary))
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn summary(State(state): State<AppState>) -> Json<RuntimeSummary> {
    Json(state.vm.runtime_summary())
}
