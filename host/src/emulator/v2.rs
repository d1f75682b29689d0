//! The v2 REST endpoints (`/v2/public/...`, camelCase).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::media::signed_url;
use super::{Emulator, Shared};
use crate::local::StorageItem;
use crate::platform::{MoveAction, Platform, PlatformError};

const CREATED: &str = "2024-05-01T10:00:00.000000+00:00";

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"message": message.into()}))).into_response()
}

fn platform_error(e: PlatformError) -> Response {
    match e {
        PlatformError::UnknownProject { .. } | PlatformError::NotFound(_) => {
            error(StatusCode::NOT_FOUND, e.to_string())
        }
        // Encord answers a move of a task that left the stage with a plain
        // 400, like any other invalid request.
        PlatformError::NotInStage { .. } => error(StatusCode::BAD_REQUEST, e.to_string()),
        PlatformError::Rejected(m) => error(StatusCode::BAD_REQUEST, m),
        other => error(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

/// Python's `str(bool)` in query strings.
fn query_flag(q: &HashMap<String, String>, key: &str) -> bool {
    q.get(key).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub(crate) async fn project(State(emu): State<Shared>, Path(project): Path<String>) -> Response {
    let p = match emu.store.project(&project).await {
        Ok(p) => p,
        Err(e) => return platform_error(e),
    };
    let ontology: Value = serde_json::from_str(&p.ontology_json).unwrap_or(json!({}));
    Json(json!({
        "projectHash": p.project_hash, "projectType": "workflow", "status": "inProgress",
        "title": p.title, "description": p.description, "createdAt": CREATED,
        "creatorEmail": "emulator@localhost", "lastEditedAt": CREATED,
        "ontologyHash": p.ontology_hash, "editorOntology": ontology, "userRole": 0,
        "workflowManagerUuid": p.project_hash, "workflow": p.workflow,
    }))
    .into_response()
}

pub(crate) async fn ontology(State(emu): State<Shared>, Path(ontology): Path<String>) -> Response {
    let hashes = match emu.store.project_hashes() {
        Ok(h) => h,
        Err(e) => return platform_error(e),
    };
    for h in hashes {
        if let Ok(p) = emu.store.project(&h).await {
            if p.ontology_hash == ontology {
                let editor: Value = serde_json::from_str(&p.ontology_json).unwrap_or(json!({}));
                return Json(json!({
                    "ontologyUuid": p.ontology_hash, "title": format!("{} ontology", p.title), "description": "",
                    "editor": editor, "createdAt": CREATED, "lastEditedAt": CREATED, "userRole": 0,
                }))
                .into_response();
            }
        }
    }
    error(StatusCode::NOT_FOUND, format!("no ontology `{ontology}`"))
}

pub(crate) async fn tasks(
    State(emu): State<Shared>,
    Path((project, stage)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    match emu.store.project(&project).await {
        Ok(p) if p.workflow.stage(&stage).is_none() => {
            return error(
                StatusCode::NOT_FOUND,
                format!("no stage `{stage}` in project `{project}`'s workflow"),
            )
        }
        Ok(_) => {}
        Err(e) => return platform_error(e),
    }
    let token = q
        .iter()
        .find(|(k, _)| k == "pageToken")
        .map(|(_, v)| v.as_str());
    let data_hashes: Vec<&str> = q
        .iter()
        .filter(|(k, _)| k == "dataHashes")
        .map(|(_, v)| v.as_str())
        .collect();
    let page = match emu.store.task_page(&project, &stage, token, &data_hashes) {
        Ok(p) => p,
        Err(e) => return platform_error(e),
    };
    let results: Vec<Value> = page
        .tasks
        .iter()
        .map(|t| {
            json!({
                "uuid": t.uuid, "createdAt": t.created_at, "updatedAt": t.updated_at, "status": t.status,
                "dataHash": t.data_hash, "dataTitle": t.data_title, "labelBranchName": t.label_branch_name,
                "assignee": t.assignee, "lastActionedBy": t.last_actioned_by,
            })
        })
        .collect();
    Json(json!({"results": results, "nextPageToken": page.next_page_token})).into_response()
}

pub(crate) async fn actions(
    State(emu): State<Shared>,
    Path((project, stage)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let Some(list) = body.as_array() else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body must be a list of actions",
        );
    };
    let workflow = match emu.store.project(&project).await {
        Ok(p) => p.workflow,
        Err(e) => return platform_error(e),
    };
    let Some(st) = workflow.stage(&stage) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("no stage `{stage}` in project `{project}`"),
        );
    };
    let mut moves = Vec::with_capacity(list.len());
    for (i, a) in list.iter().enumerate() {
        let Some(task_uuid) = a.get("taskUuid").and_then(Value::as_str) else {
            return error(
                StatusCode::BAD_REQUEST,
                format!("action {i} has no `taskUuid`"),
            );
        };
        let task_uuid = task_uuid.to_string();
        if a.get("action").and_then(Value::as_str) != Some("PATHWAY_ACTION") {
            return error(
                StatusCode::BAD_REQUEST,
                format!("unsupported action for task `{task_uuid}`"),
            );
        }
        let asked = (
            a.get("pathwayUuid").and_then(Value::as_str),
            a.get("pathwayName").and_then(Value::as_str),
        );
        let pathway = match asked {
            (Some(u), _) => st.pathways().iter().find(|p| p.uuid == u),
            (None, Some(n)) => st.pathways().iter().find(|p| p.name == n),
            (None, None) => None,
        };
        let Some(pathway) = pathway else {
            let names: Vec<&str> = st.pathways().iter().map(|p| p.name.as_str()).collect();
            return error(
                StatusCode::BAD_REQUEST,
                format!(
                    "no pathway `{}` for task `{task_uuid}` in stage `{}` (its pathways: {})",
                    asked.0.or(asked.1).unwrap_or("(none given)"),
                    st.title,
                    names.join(", ")
                ),
            );
        };
        moves.push(MoveAction {
            task_uuid,
            pathway_uuid: pathway.uuid.clone(),
        });
    }
    match emu.store.move_tasks(&project, &stage, &moves).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => platform_error(e),
    }
}

/// `move-tasks`: straight to a stage, as `AgentTask.move` does.
pub(crate) async fn move_tasks(
    State(emu): State<Shared>,
    Path((project, stage)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    let tasks: Vec<String> = body
        .get("taskUuids")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let Some(dest) = body.get("destinationStageUuid").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected {\"taskUuids\": [...], \"destinationStageUuid\": ...}",
        );
    };
    let workflow = match emu.store.project(&project).await {
        Ok(p) => p.workflow,
        Err(e) => return platform_error(e),
    };
    if workflow.stage(dest).is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            format!("no stage `{dest}` in project `{project}`"),
        );
    }
    match emu.store.move_to_stage(&project, &stage, &tasks, dest) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => platform_error(e),
    }
}

pub(crate) async fn priorities(
    State(emu): State<Shared>,
    Path(project): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let Some(list) = body.get("priorities").and_then(Value::as_array) else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected {\"priorities\": [[data_hash, priority], ...]}",
        );
    };
    let mut out = Vec::with_capacity(list.len());
    for entry in list {
        match (
            entry.get(0).and_then(Value::as_str),
            entry.get(1).and_then(Value::as_f64),
        ) {
            (Some(h), Some(p)) if (0.0..=1.0).contains(&p) => out.push((h.to_string(), p as f32)),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("bad priority entry {entry}"),
                )
            }
        }
    }
    match emu.store.set_priorities(&project, &out).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => platform_error(e),
    }
}

/// A storage item in the SDK's shape: every nullable key present.
fn item_json(emu: &Emulator, item: &StorageItem, sign: bool) -> Value {
    let has_bytes = item.file.as_deref().is_some_and(|f| !f.is_empty());
    let duration = match (item.frames, item.fps) {
        (Some(n), Some(f)) if f > 0.0 => Some(n as f64 / f),
        _ => None,
    };
    json!({
        "uuid": item.uuid, "parent": item.folder_uuid, "itemType": item.item_type, "name": item.name,
        "description": "", "clientMetadata": item.client_metadata, "owner": "emulator@localhost",
        "createdAt": item.created_at, "lastEditedAt": item.created_at, "isTombstone": false,
        "isPlaceholder": false, "backedDataUnitsCount": 1, "storageLocation": "encord",
        "integrationHash": null, "url": item.file.as_ref().map(|f| format!("media/{f}")),
        "signedUrl": if sign && has_bytes { Value::String(signed_url(emu, &item.uuid)) } else { Value::Null },
        "fileSize": item.file_size, "mimeType": item.mime_type, "duration": duration,
        "fps": item.fps, "height": item.height, "width": item.width,
        "dicomInstanceUid": null, "dicomStudyUid": null, "dicomSeriesUid": null,
        "frameCount": if item.item_type == "video" { json!(item.frames) } else { Value::Null },
        "audioSampleRate": null, "audioBitDepth": null, "audioCodec": null, "audioNumChannels": null,
    })
}

pub(crate) async fn items_bulk(State(emu): State<Shared>, Json(body): Json<Value>) -> Response {
    let uuids: Vec<String> = body
        .get("itemUuids")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|u| u.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let sign = body
        .get("signUrls")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    match emu.store.storage_items(&uuids) {
        Ok(items) => {
            if let Some(missing) = uuids.iter().zip(&items).find(|(_, i)| i.is_none()) {
                return error(
                    StatusCode::NOT_FOUND,
                    format!("no storage item `{}`", missing.0),
                );
            }
            let results: Vec<Value> = items
                .iter()
                .flatten()
                .map(|i| item_json(&emu, i, sign))
                .collect();
            Json(json!({"results": results})).into_response()
        }
        Err(e) => platform_error(e),
    }
}

pub(crate) async fn item(
    State(emu): State<Shared>,
    Path(item): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match emu.store.storage_items(std::slice::from_ref(&item)) {
        Ok(items) => match items.into_iter().next().flatten() {
            Some(i) => Json(item_json(&emu, &i, query_flag(&q, "signUrl"))).into_response(),
            None => error(StatusCode::NOT_FOUND, format!("no storage item `{item}`")),
        },
        Err(e) => platform_error(e),
    }
}

pub(crate) async fn child_items(
    State(emu): State<Shared>,
    Path((_folder, item)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let sign = query_flag(&q, "signUrls");
    match emu.store.child_items(&item) {
        Ok(children) => {
            let results: Vec<Value> = children.iter().map(|c| item_json(&emu, c, sign)).collect();
            Json(json!({"results": results})).into_response()
        }
        Err(e) => platform_error(e),
    }
}

async fn patch_one(emu: &Emulator, item: &str, patch: &Value) -> Result<Value, Response> {
    if let Some(meta) = patch.get("clientMetadata") {
        if !meta.is_object() {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "clientMetadata must be a JSON object",
            ));
        }
        match emu.store.set_client_metadata(item, meta) {
            Ok(true) => {}
            Ok(false) => {
                return Err(error(
                    StatusCode::NOT_FOUND,
                    format!("no storage item `{item}`"),
                ))
            }
            Err(e) => return Err(platform_error(e)),
        }
    }
    match emu.store.storage_items(&[item.to_string()]) {
        Ok(v) => match v.into_iter().next().flatten() {
            Some(i) => Ok(item_json(emu, &i, false)),
            None => Err(error(
                StatusCode::NOT_FOUND,
                format!("no storage item `{item}`"),
            )),
        },
        Err(e) => Err(platform_error(e)),
    }
}

pub(crate) async fn patch_item(
    State(emu): State<Shared>,
    Path((_folder, item)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    match patch_one(&emu, &item, &body).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

pub(crate) async fn patch_bulk(State(emu): State<Shared>, Json(body): Json<Value>) -> Response {
    let Some(patches) = body.get("itemPatches").and_then(Value::as_object) else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected {\"itemPatches\": {uuid: patch}}",
        );
    };
    let mut results = Vec::with_capacity(patches.len());
    for (uuid, patch) in patches {
        match patch_one(&emu, uuid, patch).await {
            Ok(v) => results.push(v),
            Err(r) => return r,
        }
    }
    Json(json!({"results": results})).into_response()
}
