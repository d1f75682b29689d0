//! Reading a component file, with one clear error per way it can be wrong.

use std::path::Path;

use wasmtime::component::Component;
use wasmtime::Engine;

pub use super::bindings::WORLD;

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
    #[error("`{path}` was built against encord:agent@{found}, and this runner-host serves encord:agent@{serves} (`runner-host --version`): rebuild the agent with this runner-host's SDK (encord-agent-sdk, encord_agent_sdk, encord-agent) or its wit/agent.wit, or run it with a runner-host that serves {found}")]
    WrongVersion {
        path: String,
        found: String,
        serves: String,
    },
    #[error("the WebAssembly engine failed: {0}")]
    Engine(String),
}

/// The custom section in which a component states defaults for the
/// runner's options (encord-agent-build writes it from a Python agent's
/// module-level `runner(...)` call).
pub const DEFAULTS_SECTION: &str = "encord-agent:runner-defaults";

/// Defaults a component states for the runner's options of the same names;
/// the command line wins. `Some(None)` states "none" (no polling, no cap).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunnerDefaults {
    #[serde(default, deserialize_with = "stated")]
    pub refresh_every: Option<Option<u64>>,
    pub num_retries: Option<u32>,
    pub task_batch_size: Option<usize>,
    #[serde(default, deserialize_with = "stated")]
    pub max_tasks_per_stage: Option<Option<usize>>,
    /// `--reuse-instance`: the Python SDK states 100 (see the README's
    /// "Instances" section for why).
    pub reuse_instance: Option<usize>,
}

/// A key that is present, its value possibly null.
fn stated<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// The component's stated runner defaults: its top-level custom section
/// [`DEFAULTS_SECTION`], if it has one (nested modules are skipped unread).
pub(super) fn runner_defaults(path: &str, bytes: &[u8]) -> Result<RunnerDefaults, LoadError> {
    use wasmparser::{Chunk, Parser, Payload};
    let invalid = |message: String| LoadError::Invalid {
        path: path.to_string(),
        message,
    };
    let mut parser = Parser::new(0);
    let mut rest = bytes;
    loop {
        let (consumed, payload) = match parser.parse(rest, true) {
            Ok(Chunk::Parsed { consumed, payload }) => (consumed, payload),
            // The whole file is given: more data is never needed.
            Ok(Chunk::NeedMoreData(_)) => return Ok(RunnerDefaults::default()),
            Err(e) => return Err(invalid(e.to_string())),
        };
        rest = &rest[consumed..];
        match payload {
            Payload::CustomSection(c) if c.name() == DEFAULTS_SECTION => {
                return serde_json::from_slice(c.data()).map_err(|e| {
                    invalid(format!(
                        "its `{DEFAULTS_SECTION}` section is not runner defaults: {e}"
                    ))
                });
            }
            // The parser has stepped over a nested module or component;
            // the bytes must too (bounds checked: the range is not).
            Payload::ModuleSection {
                unchecked_range, ..
            }
            | Payload::ComponentSection {
                unchecked_range, ..
            } => {
                rest = bytes.get(unchecked_range.end..).ok_or_else(|| {
                    invalid("a nested module runs past the end of the file".into())
                })?;
            }
            Payload::End(_) => return Ok(RunnerDefaults::default()),
            _ => {}
        }
    }
}

/// Reads and compiles the component at `path`; returns it with its SHA-256
/// and the runner defaults it states.
pub(super) fn compile(
    engine: &Engine,
    path: &Path,
    cache_dir: Option<&Path>,
) -> Result<(Component, String, RunnerDefaults), LoadError> {
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
    let defaults = runner_defaults(&shown, &bytes)?;
    let component = match cache_dir {
        None => Component::from_binary(engine, &bytes).map_err(invalid)?,
        Some(dir) => {
            let (component, source) =
                super::cache::load(engine, &bytes, &digest, dir).map_err(invalid)?;
            tracing::debug!(component = %shown, ?source, "component ready");
            component
        }
    };
    Ok((component, digest, defaults))
}

/// Explains why linking or type-checking the exports failed: a component
/// of another version of this package is told which version it has and
/// which one this host serves; anything else is another world.
pub(super) fn world_error(
    path: &Path,
    engine: &Engine,
    component: &Component,
    e: wasmtime::Error,
) -> LoadError {
    let serves = super::bindings::WORLD
        .rsplit_once('@')
        .map_or("", |(_, v)| v)
        .to_string();
    let ty = component.component_type();
    let names = ty
        .imports(engine)
        .map(|(n, _)| n.to_string())
        .chain(ty.exports(engine).map(|(n, _)| n.to_string()));
    let found = names
        .filter_map(|n| {
            n.strip_prefix("encord:agent/")
                .and_then(|rest| rest.rsplit_once('@'))
                .map(|(_, v)| v.to_string())
        })
        .find(|v| *v != serves);
    if let Some(found) = found {
        return LoadError::WrongVersion {
            path: path.display().to_string(),
            found,
            serves,
        };
    }
    let detail = format!("{e:#}").replace('\n', " ");
    LoadError::WrongWorld {
        path: path.display().to_string(),
        detail,
    }
}
