//! What a guest may use: limits per call and capabilities granted on the
//! command line. Nothing is granted by default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtx};

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
}

/// One `--allow-net HOST[:PORT]` grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetGrant {
    /// The host as given, lower-cased (a name or an IP address).
    pub host: String,
    pub port: u16,
    /// What `host` resolved to when the run started (TCP connections).
    pub addrs: Vec<SocketAddr>,
}

impl NetGrant {
    /// Whether an HTTP request to `host:port` is granted: the same name, or
    /// an IP address the granted name resolved to, and the same port.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        if port != self.port {
            return false;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.eq_ignore_ascii_case(&self.host) {
            return true;
        }
        host.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| self.addrs.contains(&SocketAddr::new(ip, port)))
    }
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

    /// `--allow-net HOST[:PORT]` (port 443 when omitted; `[::1]:8080` for
    /// an IPv6 address), resolved now.
    pub fn resolve_net(specs: &[String]) -> Result<Vec<NetGrant>, String> {
        use std::net::ToSocketAddrs;
        specs
            .iter()
            .map(|spec| {
                let bad = || {
                    format!(
                        "--allow-net `{spec}` is not HOST[:PORT] (e.g. api.example.com or 127.0.0.1:8080)"
                    )
                };
                if spec.contains('/') || spec.trim().is_empty() {
                    return Err(bad());
                }
                let (host, port) = match spec.rsplit_once(':') {
                    Some((h, p)) if !h.is_empty() && (!h.contains(':') || h.ends_with(']')) => {
                        (h, p.parse::<u16>().map_err(|_| bad())?)
                    }
                    _ => (spec.as_str(), 443),
                };
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let addrs: Vec<SocketAddr> = (host, port)
                    .to_socket_addrs()
                    .map_err(|e| format!("--allow-net {spec}: cannot resolve it ({e})"))?
                    .collect();
                Ok(NetGrant {
                    host: host.to_ascii_lowercase(),
                    port,
                    addrs,
                })
            })
            .collect()
    }

    /// A WASI context with exactly these grants: no environment, files or
    /// network beyond them; stdout discarded, stderr captured.
    pub(crate) fn wasi(
        &self,
        stderr: super::state::StderrTail,
        asset: Option<&std::path::Path>,
    ) -> WasiCtx {
        let mut b = WasiCtx::builder();
        b.stderr(stderr);
        if let Some(dir) = asset {
            // This task's asset only, read-only.
            if let Err(e) = b.preopened_dir(dir, ASSET_DIR, FsPerms::ReadOnly) {
                tracing::error!("cannot mount the task's asset: {e}");
            }
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
            if let Err(e) = b.preopened_dir(&d.host, &d.guest, perms) {
                tracing::error!("cannot grant `{}`: {e}", d.host.display());
            }
        }
        if !self.net.is_empty() {
            // The shared grants, not a copy: this runs for every task.
            let grants = self.net.clone();
            b.allow_tcp(true);
            b.allow_ip_name_lookup(true);
            b.socket_addr_check(move |addr, use_| {
                let ok = match use_ {
                    SocketAddrUse::TcpConnect => grants.iter().any(|g| g.addrs.contains(&addr)),
                    // The implicit bind of an outgoing connection: any local
                    // address, ephemeral port. Listening is never granted.
                    SocketAddrUse::TcpBind => addr.port() == 0,
                    _ => false,
                };
                Box::pin(async move { ok })
            });
        }
        b.build()
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

    fn one(spec: &str) -> NetGrant {
        let mut grants = Grants::resolve_net(&[spec.to_string()]).unwrap();
        assert_eq!(grants.len(), 1);
        grants.remove(0)
    }

    #[test]
    fn a_net_grant_names_a_host_and_port_443_unless_given() {
        let g = one("127.0.0.1:8080");
        assert_eq!((g.host.as_str(), g.port), ("127.0.0.1", 8080));
        assert_eq!(g.addrs, vec!["127.0.0.1:8080".parse().unwrap()]);
        assert!(g.allows("127.0.0.1", 8080));
        assert!(!g.allows("127.0.0.1", 8081), "another port");
        assert!(!g.allows("127.0.0.2", 8080), "another host");

        let g = one("LocalHost");
        assert_eq!((g.host.as_str(), g.port), ("localhost", 443));
        assert!(g.allows("localhost", 443));
        assert!(g.allows("LOCALHOST", 443), "names compare without case");
        assert!(!g.allows("localhost", 80));
        assert!(
            g.addrs.iter().any(|a| a.ip().is_loopback()),
            "resolved: {:?}",
            g.addrs
        );
        // An address the granted name resolved to is the same host.
        let ip = g.addrs[0].ip();
        assert!(g.allows(&ip.to_string(), 443));

        let g = one("[::1]:9000");
        assert_eq!((g.host.as_str(), g.port), ("::1", 9000));
        assert!(g.allows("[::1]", 9000));
        assert_eq!(one("::1").port, 443);
    }

    #[test]
    fn a_bad_net_grant_is_refused_with_the_form_it_needs() {
        for bad in [
            "http://api.example.com",
            "api.example.com:http",
            "",
            "host:99999",
        ] {
            let err = Grants::resolve_net(&[bad.to_string()]).unwrap_err();
            assert!(
                err.starts_with(&format!("--allow-net `{bad}` is not HOST[:PORT]")),
                "{bad}: {err}"
            );
        }
        let err = Grants::resolve_net(&["no-such-host.invalid".to_string()]).unwrap_err();
        assert!(
            err.starts_with("--allow-net no-such-host.invalid: cannot resolve it"),
            "{err}"
        );
    }
}
