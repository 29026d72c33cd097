//! Executions: REPL snippets and file runs (waiting, or `wait: false` → 202 and the run
//! goes on), list, get, events, cancel, and the live event stream.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value};
use vm_system::{Execution, FollowItem, FollowPoll};

use super::blocking;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::{required, uuid, Body, OptionalBody, Params};
use crate::server::{stream, views, AppState};

/// Longest a cancel request waits for the run to end before answering with the record
/// as it is.
const CANCEL_WAIT: Duration = Duration::from_secs(5);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/executions", get(list))
        .route("/executions/repl", post(repl))
        .route("/executions/run-file", post(run_file))
        .route("/executions/{id}", get(detail))
        .route("/executions/{id}/events", get(events))
        .route("/executions/{id}/events/stream", get(stream::events))
        .route("/executions/{id}/cancel", post(cancel))
}

/// 201 with the final record, or 202 with the running one.
fn answer(exec: &Execution, waited: bool) -> (StatusCode, Json<Value>) {
    let status = if waited {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    (status, Json(views::execution(exec)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Repl {
    session_id: Option<String>,
    input: Option<String>,
    wait: Option<bool>,
}

async fn repl(
    State(state): State<AppState>,
    Body(b): Body<Repl>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let session_id = uuid("session_id", &required(b.session_id, "session_id")?)?;
    let input = required(b.input, "input")?;
    let wait = b.wait.unwrap_or(true);
    let vm = state.vm.clone();
    let exec = blocking(move || {
        Ok(if wait {
            vm.repl(&session_id, &input)?
        } else {
            vm.start_repl(&session_id, &input)?
        })
    })
    .await?;
    Ok(answer(&exec, wait))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RunFile {
    session_id: Option<String>,
    path: Option<String>,
    args: Option<Map<String, Value>>,
    env: Option<Map<String, Value>>,
    wait: Option<bool>,
}

async fn run_file(
    State(state): State<AppState>,
    Body(b): Body<RunFile>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let session_id = uuid("session_id", &required(b.session_id, "session_id")?)?;
    let path = required(b.path, "path")?;
    let args = Value::Object(b.args.unwrap_or_default());
    let env = Value::Object(b.env.unwrap_or_default());
    let wait = b.wait.unwrap_or(true);
    let vm = state.vm.clone();
    let exec = blocking(move || {
        Ok(if wait {
            vm.run_file(&session_id, &path, &args, &env)?
        } else {
            vm.start_run_file(&session_id, &path, &args, &env)?
        })
    })
    .await?;
    Ok(answer(&exec, wait))
}

async fn list(State(state): State<AppState>, params: Params) -> ApiResult<Json<Value>> {
    let session_id = params.get("session_id").ok_or_else(|| {
        ApiError::validation("session_id query param is required").detail("field", "session_id")
    })?;
    let session_id = uuid("session_id", session_id)?;
    let limit = match params.get("limit") {
        None => 50,
        Some(raw) => raw.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::validation(format!("limit must be a positive integer, got {raw:?}"))
                .detail("field", "limit")
        })?,
    };
    let vm = state.vm.clone();
    let execs = blocking(move || Ok(vm.list_executions(&session_id, limit)?)).await?;
    Ok(Json(views::list(&execs, views::execution)))
}

async fn detail(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = uuid("execution_id", &id)?;
    let vm = state.vm.clone();
    let exec = blocking(move || Ok(vm.get_execution(&id)?)).await?;
    Ok(Json(views::execution(&exec)))
}

async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult<Json<Vec<vm_system::Event>>> {
    let id = uuid("execution_id", &id)?;
    let after = params.seq("after_seq")?.unwrap_or(0);
    let vm = state.vm.clone();
    let events = blocking(move || Ok(vm.events(&id, after)?)).await?;
    Ok(Json(events))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct NoArguments {}

/// Cancels a running execution and answers with its record once it has ended (an ended
/// execution is returned as it is).
async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    OptionalBody(_): OptionalBody<NoArguments>,
) -> ApiResult<Json<Value>> {
    let id = uuid("execution_id", &id)?;
    let vm = state.vm.clone();
    let exec = blocking(move || {
        vm.cancel_execution(&id)?;
        // Only the end is wanted: start after every possible seq.
        let mut follower = vm.follow(&id, u64::MAX)?;
        let deadline = std::time::Instant::now() + CANCEL_WAIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match follower.next_timeout(left) {
                FollowPoll::Item(FollowItem::End(exec)) => return Ok(*exec),
                FollowPoll::Item(FollowItem::Event(_)) => {}
                FollowPoll::Pending | FollowPoll::Closed => return Ok(vm.get_execution(&id)?),
            }
        }
    })
    .await?;
    Ok(Json(views::execution(&exec)))
}
