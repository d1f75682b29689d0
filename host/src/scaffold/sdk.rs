//! The SDKs this binary carries (Rust, Python, JavaScript and the WIT world
//! they target), unpacked on first use into the user cache: one folder per
//! release and content, so a project's pinned path keeps the files it was
//! made with and nothing is read from a source tree at run time.
//!
//! Layout (the repository's own, so the SDKs' relative paths hold):
//! `wit/`, `guest-sdk/` (Rust, with `macros/`), `labels/`, `python/`
//! (a pip-installable project), `js/` (an npm package).

use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use sha2::{Digest, Sha256};

use super::ScaffoldError;

static WIT: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../wit");
static RUST_SRC: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../guest-sdk/src");
static MACROS_SRC: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../guest-sdk/macros/src");
static LABELS_SRC: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../labels/src");
static PYTHON: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../guest-sdk/python/encord_agent_sdk");
static JS_NATIVE: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../guest-sdk/js/native");

/// Single files, at their place in the layout.
const FILES: &[(&str, &str)] = &[
    (
        "guest-sdk/Cargo.toml",
        include_str!("../../../guest-sdk/Cargo.toml"),
    ),
    (
        "guest-sdk/macros/Cargo.toml",
        include_str!("../../../guest-sdk/macros/Cargo.toml"),
    ),
    (
        "labels/Cargo.toml",
        include_str!("../../../labels/Cargo.toml"),
    ),
    (
        "python/pyproject.toml",
        include_str!("../../../guest-sdk/python/pyproject.toml"),
    ),
    (
        "js/package.json",
        include_str!("../../../guest-sdk/js/package.json"),
    ),
    (
        "js/encord-agent.js",
        include_str!("../../../guest-sdk/js/encord-agent.js"),
    ),
    (
        "js/encord-agent.d.ts",
        include_str!("../../../guest-sdk/js/encord-agent.d.ts"),
    ),
];

/// The workspace's lock file: a new Rust project starts from the versions
/// this release was built and tested with.
pub const CARGO_LOCK: &str = include_str!("../../../Cargo.lock");

/// Keys the SDK crates inherit from this repository's workspace, made
/// explicit for a crate that lives outside it.
const WORKSPACE_KEYS: &[(&str, &str)] = &[
    (
        "version.workspace = true",
        concat!("version = \"", env!("CARGO_PKG_VERSION"), "\""),
    ),
    ("edition.workspace = true", "edition = \"2021\""),
    ("license.workspace = true", "license = \"Apache-2.0\""),
    (
        "serde.workspace = true",
        "serde = { version = \"1\", features = [\"derive\"] }",
    ),
    (
        "serde_json.workspace = true",
        "serde_json = { version = \"1\", features = [\"preserve_order\", \"float_roundtrip\"] }",
    ),
    ("thiserror.workspace = true", "thiserror = \"2\""),
];

/// A Cargo.toml of the workspace as a crate of its own.
pub fn standalone(manifest: &str) -> String {
    let mut out = manifest.to_string();
    for (from, to) in WORKSPACE_KEYS {
        out = out.replace(from, to);
    }
    out
}

/// Every file of the SDKs: (path in the layout, contents). Python caches
/// and editor leftovers that happened to be in the tree are not carried.
pub fn files() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (prefix, dir) in [
        ("wit", &WIT),
        ("guest-sdk/src", &RUST_SRC),
        ("guest-sdk/macros/src", &MACROS_SRC),
        ("labels/src", &LABELS_SRC),
        ("python/encord_agent_sdk", &PYTHON),
        ("js/native", &JS_NATIVE),
    ] {
        walk(dir, prefix, &mut out);
    }
    for (path, text) in FILES {
        let text = if path.ends_with("Cargo.toml") {
            standalone(text)
        } else {
            text.to_string()
        };
        out.push((path.to_string(), text.into_bytes()));
    }
    out.sort();
    out
}

fn walk(dir: &Dir<'_>, prefix: &str, out: &mut Vec<(String, Vec<u8>)>) {
    for f in dir.files() {
        let rel = f.path().to_string_lossy();
        if rel.contains("__pycache__") || rel.ends_with(".pyc") || rel.ends_with('~') {
            continue;
        }
        out.push((format!("{prefix}/{rel}"), f.contents().to_vec()));
    }
    for d in dir.dirs() {
        walk(d, prefix, out);
    }
}

/// Where this release's SDKs are (or go) under `cache`: named by the
/// release and a digest of the files, so a binary with other SDK files
/// never uses these.
pub fn root(cache: &Path, files: &[(String, Vec<u8>)]) -> PathBuf {
    let mut h = Sha256::new();
    for (path, bytes) in files {
        h.update(path.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let digest = hex::encode(h.finalize());
    cache
        .join("sdk")
        .join(format!("{}-{}", env!("CARGO_PKG_VERSION"), &digest[..12]))
}

/// The unpacked SDKs under `cache`, written now unless already there.
/// Written into a temporary folder and renamed into place, so a crash
/// leaves nothing half-written where a project points.
pub fn unpack(cache: &Path) -> Result<PathBuf, ScaffoldError> {
    let files = files();
    let root = root(cache, &files);
    if root.join(".complete").exists() {
        return Ok(root);
    }
    let parent = root.parent().expect("the root is under cache/sdk");
    let io = |what: &str, path: &Path, e: std::io::Error| ScaffoldError::Io {
        what: format!("{what} {}", path.display()),
        source: e,
    };
    std::fs::create_dir_all(parent).map_err(|e| io("cannot create", parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".unpacking-")
        .tempdir_in(parent)
        .map_err(|e| io("cannot create a folder in", parent, e))?;
    for (rel, bytes) in &files {
        let path = tmp.path().join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| io("cannot write", &path, e))?;
    }
    std::fs::write(tmp.path().join(".complete"), "")
        .map_err(|e| io("cannot write in", tmp.path(), e))?;
    let tmp = tmp.keep();
    match std::fs::rename(&tmp, &root) {
        Ok(()) => {}
        // Another process unpacked the same files first.
        Err(_) if root.join(".complete").exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Err(e) => return Err(io("cannot move the SDKs into", &root, e)),
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_manifests_stand_alone() {
        for (path, text) in FILES.iter().filter(|(p, _)| p.ends_with("Cargo.toml")) {
            let s = standalone(text);
            assert!(
                !s.contains("workspace"),
                "{path} still inherits from the workspace:\n{s}"
            );
        }
    }

    #[test]
    fn every_sdk_is_carried() {
        let files = files();
        let has = |p: &str| files.iter().any(|(f, _)| f == p);
        for p in [
            "wit/agent.wit",
            "wit/deps/wasi-nn/wasi-nn.wit",
            "guest-sdk/src/lib.rs",
            "guest-sdk/macros/src/lib.rs",
            "labels/src/lib.rs",
            "python/pyproject.toml",
            "python/encord_agent_sdk/__init__.py",
            "python/encord_agent_sdk/testing.py",
            "python/encord_agent_sdk/wit/agent.wit",
            "js/encord-agent.js",
            "js/native/register.mjs",
        ] {
            assert!(has(p), "{p} is not carried");
        }
        assert!(!files.iter().any(|(f, _)| f.contains("__pycache__")));
    }

    #[test]
    fn unpacking_twice_reuses_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let a = unpack(dir.path()).unwrap();
        let b = unpack(dir.path()).unwrap();
        assert_eq!(a, b);
        assert!(a.join("guest-sdk/Cargo.toml").is_file());
        let leftovers: Vec<_> = std::fs::read_dir(a.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }
}
