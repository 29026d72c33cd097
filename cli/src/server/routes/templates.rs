//! Templates and their sub-resources: settings, capabilities, modules, libraries and
//! startup files.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use vm_system::ENGINE_QUICKJS;

use super::blocking;
use crate::server::error::{ApiError, ApiResult};
use crate::server::extract::{required, uuid, Body};
use crate::server::{views, AppState};

/// The original program's engine name, accepted as an alias of `quickjs`.
const ENGINE_GOJA: &str = "goja";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/templates", get(list).post(create))
        .route("/templates/{id}", get(detail).delete(remove))
        .route(
            "/templates/{id}/settings",
            get(settings).patch(patch_settings),
        )
        .route(
            "/templates/{id}/capabilities",
            get(capabilities).post(add_capability),
        )
        .route("/templates/{id}/modules", get(modules).post(add_module))
        .route("/templates/{id}/modules/{name}", delete(remove_module))
        .route(
            "/templates/{id}/libraries",
            get(libraries).post(add_library),
        )
        .route("/templates/{id}/libraries/{name}", delete(remove_library))
        .route(
            "/templates/{id}/startup-files",
            get(startup_files).post(add_startup_file),
        )
        .route(
            "/templates/{id}/startup-files/{*path}",
            delete(remove_startup_file),
        )
}

type Created = (StatusCode, Json<Value>);

fn template_id(raw: &str) -> ApiResult<String> {
    uuid("template_id", raw)
}

async fn list(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let vm = state.vm.clone();
    blocking(move || {
        let mut out = Vec::new();
        // Newest first, as the original lists them.
        for t in vm.list_templates()?.iter().rev() {
            let modules = vm.list_modules(&t.id)?;
            let libraries = vm.list_libraries(&t.id)?;
            out.push(views::template(t, &modules, &libraries));
        }
        Ok(Json(Value::Array(out)))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTemplate {
    name: Option<String>,
    engine: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    Body(b): Body<CreateTemplate>,
) -> ApiResult<Created> {
    let name = required(b.name, "name")?;
    let engine = match b.engine.as_deref() {
        None | Some("") => ENGINE_QUICKJS,
        Some(ENGINE_GOJA) => {
            tracing::info!(template = %name, "engine \"goja\" requested: it is an alias, the template runs on quickjs");
            ENGINE_QUICKJS
        }
        Some(other) => other,
    }
    .to_string();
    let vm = state.vm.clone();
    let t = blocking(move || Ok(vm.create_template(&name, &engine)?)).await?;
    Ok((StatusCode::CREATED, Json(views::template(&t, &[], &[]))))
}

async fn detail(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = template_id(&id)?;
    let vm = state.vm.clone();
    let d = blocking(move || Ok(vm.get_template(&id)?)).await?;
    Ok(Json(views::template_detail(&d)))
}

async fn remove(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = template_id(&id)?;
    let vm = state.vm.clone();
    let tid = id.clone();
    blocking(move || Ok(vm.delete_template(&tid)?)).await?;
    Ok(Json(json!({"status": "ok", "template_id": id})))
}

async fn settings(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let id = template_id(&id)?;
    let vm = state.vm.clone();
    let d = blocking(move || Ok(vm.get_template(&id)?)).await?;
    Ok(Json(views::settings(&d.template.id, &d.settings)))
}

async fn patch_settings(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(patch): Body<Map<String, Value>>,
) -> ApiResult<Json<Value>> {
    let id = template_id(&id)?;
    let vm = state.vm.clone();
    let tid = id.clone();
    let s = blocking(move || {
        vm.update_settings(&tid, &Value::Object(patch))
            .map_err(|e| ApiError::from(e).template(&tid))
    })
    .await?;
    Ok(Json(views::settings(&id, &s)))
}

async fn capabilities(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = template_id(&id)?;
    let vm = state.vm.clone();
    let tid = id.clone();
    let caps = blocking(move || Ok(vm.list_capabilities(&tid)?)).await?;
    Ok(Json(views::list(&caps, |c| views::capability(&id, c))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddCapability {
    kind: Option<String>,
    name: Option<String>,
    enabled: Option<bool>,
    config: Option<Value>,
}

async fn add_capability(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(b): Body<AddCapability>,
) -> ApiResult<Created> {
    let id = template_id(&id)?;
    let kind = required(b.kind, "kind")?;
    let name = required(b.name, "name")?;
    let config = b.config.unwrap_or_else(|| json!({}));
    let vm = state.vm.clone();
    let tid = id.clone();
    let cap = blocking(move || {
        vm.add_capability(&tid, &kind, &name, b.enabled.unwrap_or(true), &config)
            .map_err(|e| ApiError::from(e).template(&tid))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(views::capability(&id, &cap))))
}

/// The two name lists of a template.
#[derive(Clone, Copy)]
enum Names {
    Modules,
    Libraries,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddName {
    name: Option<String>,
}

async fn list_names(state: AppState, id: String, which: Names) -> ApiResult<Json<Vec<String>>> {
    let id = template_id(&id)?;
    let vm = state.vm.clone();
    blocking(move || {
        Ok(Json(match which {
            Names::Modules => vm.list_modules(&id)?,
            Names::Libraries => vm.list_libraries(&id)?,
        }))
    })
    .await
}

async fn add_name(state: AppState, id: String, b: AddName, which: Names) -> ApiResult<Created> {
    let id = template_id(&id)?;
    let name = required(b.name, "name")?;
    let vm = state.vm.clone();
    let (tid, n) = (id.clone(), name.clone());
    blocking(move || {
        match which {
            Names::Modules => vm.add_module(&tid, &n),
            Names::Libraries => vm.add_library(&tid, &n),
        }
        .map_err(|e| ApiError::from(e).template(&tid))
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": name, "template_id": id})),
    ))
}

async fn remove_name(
    state: AppState,
    id: String,
    name: String,
    which: Names,
) -> ApiResult<Json<Value>> {
    let id = template_id(&id)?;
    let vm = state.vm.clone();
    let (tid, n) = (id.clone(), name.clone());
    blocking(move || {
        match which {
            Names::Modules => vm.remove_module(&tid, &n),
            Names::Libraries => vm.remove_library(&tid, &n),
        }
        .map_err(|e| ApiError::from(e).template(&tid))
    })
    .await?;
    Ok(Json(
        json!({"name": name, "status": "ok", "template_id": id}),
    ))
}

async fn modules(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<String>>> {
    list_names(s, id, Names::Modules).await
}

async fn add_module(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(b): Body<AddName>,
) -> ApiResult<Created> {
    add_name(s, id, b, Names::Modules).await
}

async fn remove_module(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    remove_name(s, id, name, Names::Modules).await
}

async fn libraries(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<String>>> {
    list_names(s, id, Names::Libraries).await
}

async fn add_library(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Body(b): Body<AddName>,
) -> ApiResult<Created> {
    add_name(s, id, b, Names::Libraries).await
}

async fn remove_library(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    remove_name(s, id, name, Names::Libraries).await
}

async fn startup_files(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = template_id(&id)?;
    let vm = state.vm.clone();
    let tid = id.clone();
    let files = blocking(move || Ok(vm.list_startup_files(&tid)?)).await?;
    Ok(Json(views::list(&files, |f| views::startup_file(&id, f))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddStartupFile {
    path: Option<String>,
    order_index: Option<i64>,
    mode: Option<String>,
}

async fn add_startup_file(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(b): Body<AddStartupFile>,
) -> ApiResult<Created> {
    let id = template_id(&id)?;
    let path = required(b.path, "path")?;
    let mode = b.mode.unwrap_or_else(|| "eval".to_string());
    let vm = state.vm.clone();
    let tid = id.clone();
    let file = blocking(move || {
        vm.add_startup_file(&tid, &path, b.order_index.unwrap_or(0), &mode)
            .map_err(|e| ApiError::from(e).template(&tid))
    })
    .await?;
    Ok((StatusCode::CREATED, Json(views::startup_file(&id, &file))))
}

async fn remove_startup_file(
    State(state): State<AppState>,
    Path((id, path)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let id = template_id(&id)?;
    let vm = state.vm.clone();
    let (tid, p) = (id.clone(), path.clone());
    blocking(move || {
        vm.remove_startup_file(&tid, &p)
            .map_err(|e| ApiError::from(e).template(&tid))
    })
    .await?;
    Ok(Json(
        json!({"path": path, "status": "ok", "template_id": id}),
    ))
}
