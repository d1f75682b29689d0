//! Reading a component file, with one clear error per way it can be wrong.

use std::path::Path;

use wasmtime::component::Component;
use wasmtime::Engine;

/// The WIT world this host implements.
pub const WORLD: &str = "encord:agent/agent@0.2.0";

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("component file `{0}` not found: check the path, or build the agent with `cargo build --target wasm32-wasip2 --release`")]
    Missing(String),
    #[error("cannot read component `{path}`: {message}")]
    Unreadable { path: String, message: String },
    #[error("`{0}` is not a WebAssembly component (no wasm header): pass the `.wasm` file built for wasm32-wasip2")]
    NotWasm(String),
    #[error("`{0}` is a core WebAssembly module, not a component: build the agent for the wasm32-wasip2 target (not wasm32-unknown-unknown or wasm32-wasip1)")]
    CoreModule(String),
    #[error("`{path}` is not a valid WebAssembly component: {message}")]
    Invalid { path: String, message: String },
    #[error("`{path}` does not implement the {WORLD} world ({detail}): build it with encord-agent-sdk, or against this runner-host's wit/agent.wit")]
    WrongWorld { path: String, detail: String },
    #[error("the WebAssembly engine failed: {0}")]
    Engine(String),
}

/// Reads and compiles the component at `path`; returns it with its SHA-256.
pub(super) fn compile(
    engine: &Engine,
    path: &Path,
    cache_dir: Option<&Path>,
) -> Result<(Component, String), LoadError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LoadError::Missing(shown.clone()),
        _ => LoadError::Unreadable {
            path: shown.clone(),
            message: e.to_string(),
        },
    })?;
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(LoadError::NotWasm(shown));
    }
    // Bytes 4..8: version 1 and layer 0 mark a core module; layer 1 a component.
    if bytes[4..8] == [1, 0, 0, 0] {
        return Err(LoadError::CoreModule(shown));
    }
    let invalid = |e: wasmtime::Error| LoadError::Invalid {
        path: shown.clone(),
        message: format!("{e:#}")
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    let digest = super::cache::digest(&bytes);
    let component = match cache_dir {
        None => Component::from_binary(engine, &bytes).map_err(invalid)?,
        Some(dir) => {
            let (component, source) =
                super::cache::load(engine, &bytes, &digest, dir).map_err(invalid)?;
            tracing::debug!(component = %shown, ?source, "component ready");
            component
        }
    };
    Ok((component, digest))
}

/// Explains why linking or type-checking the exports failed.
pub(super) fn world_error(path: &Path, e: wasmtime::Error) -> LoadError {
    let detail = format!("{e:#}").replace('\n', " ");
    LoadError::WrongWorld {
        path: path.display().to_string(),
        detail,
    }
}
