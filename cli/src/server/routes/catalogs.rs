//! `GET /modules`, `GET /libraries` (with `installed`), `POST /libraries/{name}/install`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use vm_system::{InstalledLibrary, ModuleInfo};

use super::blocking;
use crate::server::error::ApiResult;
use crate::server::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/modules", get(modules))
        .route("/libraries", get(libraries))
        .route("/libraries/{name}/install", post(install))
}

async fn modules(State(state): State<AppState>) -> Json<Vec<ModuleInfo>> {
    Json(state.vm.available_modules())
}

async fn libraries(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let vm = state.vm.clone();
    let installed = blocking(move || Ok(vm.installed_libraries()?)).await?;
    let catalog = state
        .vm
        .available_libraries()
        .into_iter()
        .map(|info| {
            let here = installed.iter().any(|i| i.name == info.name);
            let mut v = json!(info);
            v["installed"] = json!(here);
            v
        })
        .collect();
    Ok(Json(Value::Array(catalog)))
}

async fn install(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<Json<InstalledLibrary>> {
    let vm = state.vm.clone();
    let done = blocking(move || Ok(vm.install_library(&name, None)?)).await?;
    tracing::info!(library = %done.name, path = %done.path, "library installed");
    Ok(Json(done))
}
