//! Sessions: create (startup files run on a blocking thread), list, get, close.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use vm_system::SessionStatus;

use super::blocking;
use crate::server::error::ApiResult;
use crate::server::extract::{required, uuid, Body, OptionalBody, Params};
use crate::server::{views, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sessions", get(list).post(create))
        .route("/sessions/{id}", get(detail).delete(close))
        .route("/sessions/{id}/close", post(close_with_body))
}

async fn list(State(state): State<AppState>, params: Params) -> ApiResult<Json<Value>> {
    let status = params.get("status").map(SessionStatus::parse).transpose()?;
    let vm = state.vm.clone();
    let sessions = blocking(move || Ok(vm.list_sessions(status)?)).await?;
    // Newest first, as the original lists them.
    let newest_first: Vec<Value> = sessions.iter().rev().map(views::session).collect();
    Ok(Json(Value::Array(newest_first)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSession {
    template_id: Option<String>,
    workspace_id: Option<String>,
    base_commit_oid: Option<String>,
    worktree_path: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    Body(b): Body<CreateSession>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let template_id = required(b.template_id, "template_id")?;
    let workspace_id = required(b.workspace_id, "workspace_id")?;
    let base_commit_oid = required(b.base_commit_oid, "base_commit_oid")?;
    let worktree_path = required(b.worktree_path, "worktree_path")?;
    let template_id = uuid("template_id", &template_id)?;
    let vm = state.vm.clone();
    let session = blocking(move || {
        Ok(vm.create_session(
            &template_id,
            &workspace_id,
            &base_commit_oid,
            &worktree_path,
        )?)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(views::session(&session))))
}

async fn detail(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = uuid("session_id", &id)?;
    let vm = state.vm.clone();
    let session = blocking(move || Ok(vm.get_session(&id)?)).await?;
    Ok(Json(views::session(&session)))
}

/// The close routes take no arguments; `{}` (what the original's clients send) is fine.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NoArguments {}

async fn close_with_body(
    state: State<AppState>,
    id: Path<String>,
    OptionalBody(_): OptionalBody<NoArguments>,
) -> ApiResult<Json<Value>> {
    close(state, id).await
}

async fn close(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = uuid("session_id", &id)?;
    let vm = state.vm.clone();
    // Closing interrupts a running execution and waits for it to end: a blocking wait.
    let session = blocking(move || Ok(vm.close_session(&id)?)).await?;
    Ok(Json(views::session(&session)))
}
