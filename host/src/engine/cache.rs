//! The compiled-component cache: a component is compiled once and its
//! machine code kept on disk, keyed by the component's SHA-256 and the
//! engine's compatibility hash. Each entry carries a checksum checked before
//! it is loaded; a corrupt or stale entry is rebuilt, never trusted.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::Engine;

/// The default cache: `$XDG_CACHE_HOME/runner-host`, else `~/.cache/runner-host`.
pub fn default_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|d| d.join("runner-host"))
}

/// The component's SHA-256, hex: what names it in the cache and in the
/// failed-task record.
pub fn digest(wasm: &[u8]) -> String {
    hex::encode(Sha256::digest(wasm))
}

/// Where the entry for the component with SHA-256 `digest` lives in `dir`.
pub fn entry(dir: &Path, engine: &Engine, digest: &str) -> PathBuf {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let key = format!("{digest}-{:016x}", h.finish());
    dir.join(format!("{key}.cwasm"))
}

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Compiled,
    Cached,
    /// The entry was corrupt or stale: recompiled and rewritten.
    Rebuilt,
}

/// Loads `wasm` (SHA-256 `digest`) from the cache in `dir`, or compiles it
/// and stores it.
pub fn load(
    engine: &Engine,
    wasm: &[u8],
    digest: &str,
    dir: &Path,
) -> wasmtime::Result<(Component, Source)> {
    let path = entry(dir, engine, digest);
    let sum = path.with_extension("sha256");
    let mut source = Source::Compiled;
    if path.exists() {
        match verified(&path, &sum) {
            Ok(()) => {
                // SAFETY: the file was written by this cache from wasmtime's own
                // output and its checksum matches; wasmtime checks the version.
                match unsafe { Component::deserialize_file(engine, &path) } {
                    Ok(c) => return Ok((c, Source::Cached)),
                    Err(e) => tracing::warn!(
                        "cached component `{}` is unusable ({e}); recompiling",
                        path.display()
                    ),
                }
            }
            Err(why) => tracing::warn!("cached component `{}` {why}; recompiling", path.display()),
        }
        source = Source::Rebuilt;
    }
    let component = Component::from_binary(engine, wasm)?;
    if let Err(e) = store(&component, &path, &sum) {
        tracing::warn!(
            "cannot write the compiled-component cache `{}`: {e}",
            dir.display()
        );
    }
    Ok((component, source))
}

fn verified(path: &Path, sum: &Path) -> Result<(), String> {
    let expected = std::fs::read_to_string(sum).map_err(|_| "has no checksum".to_string())?;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot be read ({e})"))?;
    if hex::encode(Sha256::digest(&bytes)) != expected.trim() {
        return Err("does not match its checksum".into());
    }
    Ok(())
}

/// Writes the entry atomically: a temporary file renamed into place, then
/// its checksum.
fn store(component: &Component, path: &Path, sum: &Path) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize().map_err(std::io::Error::other)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, path)?;
    std::fs::write(sum, hex::encode(Sha256::digest(&bytes)))
}
