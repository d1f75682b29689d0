//! What a guest may use: limits per call and capabilities granted on the
//! command line. Nothing is granted by default.

use std::path::PathBuf;
use std::time::Duration;

use wasmtime_wasi::{FsPerms, WasiCtx};

pub use crate::capabilities::net::NetGrant;

/// Where a task's asset file appears inside the sandbox.
pub const ASSET_DIR: &str = "/asset";

/// Per-call limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall time of one call (instantiation included).
    pub timeout: Duration,
    /// Linear memory of one instance, all memories together.
    pub memory_bytes: usize,
    /// A deterministic instruction budget per call, when set.
    pub fuel: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(120),
            memory_bytes: 1024 << 20,
            fuel: None,
        }
    }
}

/// A host directory made visible to guests.
#[derive(Debug, Clone)]
pub struct DirGrant {
    pub host: PathBuf,
    pub guest: String,
    pub read_only: bool,
}

impl std::str::FromStr for DirGrant {
    type Err = String;
    /// `HOST_PATH:GUEST_PATH[:ro]`
    fn from_str(s: &str) -> Result<DirGrant, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let (host, guest, read_only) = match parts.as_slice() {
            [h, g] => (*h, *g, false),
            [h, g, "ro"] => (*h, *g, true),
            [h, g, "rw"] => (*h, *g, false),
            _ => return Err(format!("--dir `{s}` is not HOST_PATH:GUEST_PATH[:ro]")),
        };
        let host = PathBuf::from(host);
        if !host.is_dir() {
            return Err(format!(
                "--dir `{s}`: `{}` is not a directory",
                host.display()
            ));
        }
        if !guest.starts_with('/') {
            return Err(format!(
                "--dir `{s}`: the guest path must be absolute, e.g. /data"
            ));
        }
        Ok(DirGrant {
            host,
            guest: guest.to_string(),
            read_only,
        })
    }
}

/// Capabilities granted to every guest call.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// Environment variables (name, value) passed in.
    pub env: Vec<(String, String)>,
    pub dirs: Vec<DirGrant>,
    /// Hosts a guest may reach: by HTTP (wasi:http, checked by name and
    /// port) and by TCP (wasi:sockets, checked by resolved address). Shared:
    /// every task's store holds it.
    pub net: std::sync::Arc<[NetGrant]>,
    /// Models the guest may run (`wasi:nn` `load-by-name`); none: ONNX
    /// Runtime is never loaded.
    pub models: Option<std::sync::Arc<crate::nn::Models>>,
}

impl Grants {
    /// `--env NAME`: passes the host's value of NAME (it must be set).
    pub fn env_from_host(names: &[String]) -> Result<Vec<(String, String)>, String> {
        names
            .iter()
            .map(|n| {
                std::env::var(n).map(|v| (n.clone(), v)).map_err(|_| {
                    format!("--env {n}: the variable is not set in runner-host's environment")
                })
            })
            .collect()
    }

    /// A WASI context with exactly these grants: no environment, files or
    /// network beyond them; stdout discarded, stderr captured. A task whose
    /// asset or granted directory cannot be mounted does not run without it.
    pub(crate) fn wasi(
        &self,
        stderr: super::state::StderrTail,
        asset: Option<&std::path::Path>,
    ) -> Result<WasiCtx, String> {
        let mut b = WasiCtx::builder();
        b.stderr(stderr);
        if let Some(dir) = asset {
            // This task's asset only, read-only.
            b.preopened_dir(dir, ASSET_DIR, FsPerms::ReadOnly)
                .map_err(|e| format!("cannot mount the task's asset at {ASSET_DIR}: {e}"))?;
        }
        for (k, v) in &self.env {
            b.env(k, v);
        }
        for d in &self.dirs {
            let perms = if d.read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            b.preopened_dir(&d.host, &d.guest, perms).map_err(|e| {
                format!(
                    "cannot grant --dir `{}` at {}: {e}",
                    d.host.display(),
                    d.guest
                )
            })?;
        }
        crate::capabilities::net::grant_sockets(&mut b, &self.net);
        Ok(b.build())
    }
}

/// Everything that shapes the sandbox.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub limits: Limits,
    pub grants: Grants,
    /// Instances alive at once (sizes the pooling allocator; 0: on demand).
    pub instances: usize,
    /// Task calls one instance may serve (1: a fresh instance per task).
    pub reuse: usize,
    /// Add the guest's backtrace (function names, no paths) to trap reasons.
    pub backtraces: bool,
    /// Where compiled components are cached (none: compile every time).
    pub cache_dir: Option<PathBuf>,
    /// Epoch interruption (the wall-time limit). Only benchmarks turn it off,
    /// to measure what it costs.
    pub interruptible: bool,
    /// Write `/tmp/perf-PID.map`, so `perf` names the agent's functions.
    pub perfmap: bool,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            limits: Limits::default(),
            grants: Grants::default(),
            instances: 0,
            reuse: 1,
            backtraces: false,
            cache_dir: None,
            interruptible: true,
            perfmap: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_whose_asset_cannot_be_mounted_gets_no_sandbox() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let grants = Grants::default();
        let err = grants
            .wasi(Default::default(), Some(&gone))
            .map(|_| ())
            .unwrap_err();
        assert!(
            err.starts_with("cannot mount the task's asset at /asset:"),
            "{err}"
        );
        assert!(grants.wasi(Default::default(), Some(dir.path())).is_ok());
    }

    #[test]
    fn a_granted_directory_that_went_away_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let grants = Grants {
            dirs: vec![DirGrant {
                host: dir.path().join("gone"),
                guest: "/data".into(),
                read_only: true,
            }],
            ..Grants::default()
        };
        let err = grants
            .wasi(Default::default(), None)
            .map(|_| ())
            .unwrap_err();
        assert!(
            err.starts_with("cannot grant --dir `") && err.contains("at /data"),
            "{err}"
        );
    }
}
