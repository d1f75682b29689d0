//! Media under signed URLs: `GET /media/{item}?expires=..&sig=..`, no
//! request signature (as the SDK fetches signed URLs), streamed from disk.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{Emulator, Shared};

/// How long a signed URL stays valid.
const VALID_SECS: u64 = 3600;

fn signature(emu: &Emulator, item: &str, expires: u64) -> String {
    let mut h = Sha256::new();
    h.update(emu.media_secret);
    h.update(item.as_bytes());
    h.update(expires.to_le_bytes());
    hex::encode(h.finalize())
}

/// A signed URL for an item's bytes.
pub(crate) fn signed_url(emu: &Emulator, item: &str) -> String {
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + VALID_SECS;
    format!(
        "{}/media/{item}?expires={expires}&sig={}",
        emu.base_url,
        signature(emu, item, expires)
    )
}

#[derive(Deserialize)]
pub(crate) struct Signed {
    expires: u64,
    sig: String,
}

pub(crate) async fn serve(
    State(emu): State<Shared>,
    Path(item): Path<String>,
    Query(q): Query<Signed>,
) -> Response {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if q.expires < now || q.sig != signature(&emu, &item, q.expires) {
        return (
            StatusCode::FORBIDDEN,
            "the signed URL is invalid or expired",
        )
            .into_response();
    }
    let found = emu
        .store
        .storage_items(std::slice::from_ref(&item))
        .ok()
        .and_then(|v| v.into_iter().next().flatten());
    let Some(found) = found else {
        return (StatusCode::NOT_FOUND, "no such item").into_response();
    };
    let Some(file) = found.file.filter(|f| !f.is_empty()) else {
        return (
            StatusCode::NOT_FOUND,
            "this item has no bytes of its own (a group?)",
        )
            .into_response();
    };
    match tokio::fs::File::open(emu.store.media_dir().join(&file)).await {
        Ok(f) => {
            let stream = tokio_util::io::ReaderStream::new(f);
            (
                [(
                    header::CONTENT_TYPE,
                    found
                        .mime_type
                        .unwrap_or_else(|| "application/octet-stream".into()),
                )],
                Body::from_stream(stream),
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot read the media file: {e}"),
        )
            .into_response(),
    }
}
