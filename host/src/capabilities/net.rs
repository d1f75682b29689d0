//! The network grant: `--allow-net HOST[:PORT]`, checked on every outgoing
//! HTTP request (`wasi:http`, by name and port) and every TCP connection
//! (`wasi:sockets`, by the address the name resolved to when the run
//! started). Nothing else leaves the sandbox; a denial is logged with the
//! authority only (a query string may carry a guest's secrets).

use std::net::SocketAddr;
use std::sync::Arc;

use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_http::{WasiBody, WasiHttpHooks};

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

    /// `--allow-net HOST[:PORT]` (port 443 when omitted; `[::1]:8080` for
    /// an IPv6 address), resolved now.
    pub fn resolve(specs: &[String]) -> Result<Vec<NetGrant>, String> {
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
}

/// Whether a `wasi:sockets` use of `addr` is granted: a TCP connection to
/// a granted host's resolved address, or the implicit bind of an outgoing
/// connection (any local address, ephemeral port). Listening, UDP and
/// anything else are never granted.
pub fn allows_socket(grants: &[NetGrant], addr: SocketAddr, use_: SocketAddrUse) -> bool {
    match use_ {
        SocketAddrUse::TcpConnect => grants.iter().any(|g| g.addrs.contains(&addr)),
        SocketAddrUse::TcpBind => addr.port() == 0,
        _ => false,
    }
}

/// Opens TCP to the granted hosts on a WASI context being built (nothing,
/// when there are none).
pub(crate) fn grant_sockets(b: &mut wasmtime_wasi::WasiCtxBuilder, grants: &Arc<[NetGrant]>) {
    if grants.is_empty() {
        return;
    }
    // The shared grants, not a copy: this runs for every task.
    let grants = grants.clone();
    b.allow_tcp(true);
    b.allow_ip_name_lookup(true);
    b.socket_addr_check(move |addr, use_| {
        let ok = allows_socket(&grants, addr, use_);
        Box::pin(async move { ok })
    });
}

/// The per-call state of outgoing HTTP: the grants, and the task the
/// requests are made for (named in a denial's log line).
pub(crate) struct Net {
    allowed: Arc<[NetGrant]>,
    task: Option<Arc<crate::platform::Task>>,
    /// The instance's memory limit: no answer larger is read in
    /// (`encord:agent/http`).
    memory_cap: usize,
}

impl Net {
    pub(crate) fn new(
        allowed: Arc<[NetGrant]>,
        task: Option<Arc<crate::platform::Task>>,
        memory_cap: usize,
    ) -> Net {
        Net {
            allowed,
            task,
            memory_cap,
        }
    }

    pub(crate) fn memory_cap(&self) -> usize {
        self.memory_cap
    }

    /// The log line of a refused request: the host and port, never the
    /// path or query.
    pub(crate) fn log_denied(&self, to: &str) {
        tracing::warn!(
            task = self.task.as_ref().map_or("-", |t| t.uuid.as_str()),
            "the agent's HTTP request to `{to}` was denied: that host is not granted (--allow-net HOST[:PORT])"
        );
    }

    /// Whether a request to `uri` is granted (scheme, host and port).
    pub(crate) fn allows(&self, uri: &http::Uri) -> bool {
        let (Some(host), Some(scheme)) = (uri.host(), uri.scheme_str()) else {
            return false;
        };
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "http" { 80 } else { 443 });
        self.allowed.iter().any(|g| g.allows(host, port))
    }
}

/// What `WasiHttpHooks::send_request` works with.
type HttpIo = Box<dyn std::future::Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;
type HttpSent = Box<
    dyn std::future::Future<
            Output = Result<(http::Response<WasiBody>, HttpIo), wasmtime_wasi_http::Error>,
        > + Send,
>;

impl WasiHttpHooks for Net {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: HttpIo,
    ) -> HttpSent {
        if !self.allows(request.uri()) {
            let to = request
                .uri()
                .authority()
                .map_or_else(String::new, |a| a.to_string());
            self.log_denied(&to);
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((response.map(BodyExt::boxed_unsync), Box::new(io) as HttpIo))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> NetGrant {
        let mut grants = NetGrant::resolve(&[spec.to_string()]).unwrap();
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
            let err = NetGrant::resolve(&[bad.to_string()]).unwrap_err();
            assert!(
                err.starts_with(&format!("--allow-net `{bad}` is not HOST[:PORT]")),
                "{bad}: {err}"
            );
        }
        let err = NetGrant::resolve(&["no-such-host.invalid".to_string()]).unwrap_err();
        assert!(
            err.starts_with("--allow-net no-such-host.invalid: cannot resolve it"),
            "{err}"
        );
    }

    fn net(specs: &[&str]) -> Net {
        let specs: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        Net::new(NetGrant::resolve(&specs).unwrap().into(), None, 1 << 20)
    }

    #[test]
    fn an_http_request_is_granted_by_scheme_host_and_port() {
        let n = net(&["127.0.0.1:8080", "localhost"]);
        let ok = |uri: &str| n.allows(&uri.parse().unwrap());
        assert!(ok("http://127.0.0.1:8080/v1/x?key=1"));
        assert!(!ok("http://127.0.0.1/v1"), "http defaults to port 80");
        assert!(!ok("https://127.0.0.1:8081/"), "another port");
        assert!(ok("https://localhost/"), "https defaults to 443");
        assert!(!ok("http://localhost/"), "port 80 was not granted");
        assert!(!ok("/relative"), "no host");
        assert!(!net(&[]).allows(&"https://localhost/".parse().unwrap()));
    }

    #[tokio::test]
    async fn a_denied_request_is_refused_before_anything_is_sent() {
        use http_body_util::BodyExt;
        // A listener the request would reach, if it were sent.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut n = net(&["127.0.0.1:1"]);
        let body = http_body_util::Empty::<bytes::Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        let request = http::Request::get(format!("http://127.0.0.1:{port}/?secret=1"))
            .body(body)
            .unwrap();
        let sent = Box::into_pin(n.send_request(request, None, Box::new(async { Ok(()) })));
        let err = match sent.await {
            Err(e) => e,
            Ok(_) => panic!("a request to a port not granted was sent"),
        };
        assert!(
            matches!(err, wasmtime_wasi_http::Error::HttpRequestDenied),
            "{err:?}"
        );
        assert!(
            matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "nothing connected to the listener"
        );
    }

    #[test]
    fn tcp_reaches_only_the_granted_addresses_and_never_listens() {
        let grants = NetGrant::resolve(&["127.0.0.1:8080".to_string()]).unwrap();
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(allows_socket(
            &grants,
            addr("127.0.0.1:8080"),
            SocketAddrUse::TcpConnect
        ));
        assert!(!allows_socket(
            &grants,
            addr("127.0.0.1:8081"),
            SocketAddrUse::TcpConnect
        ));
        assert!(!allows_socket(
            &grants,
            addr("10.0.0.1:8080"),
            SocketAddrUse::TcpConnect
        ));
        assert!(allows_socket(
            &grants,
            addr("0.0.0.0:0"),
            SocketAddrUse::TcpBind
        ));
        assert!(!allows_socket(
            &grants,
            addr("0.0.0.0:8080"),
            SocketAddrUse::TcpBind
        ));
        assert!(!allows_socket(
            &grants,
            addr("127.0.0.1:8080"),
            SocketAddrUse::UdpSend
        ));
        assert!(!allows_socket(
            &grants,
            addr("0.0.0.0:0"),
            SocketAddrUse::TcpListen
        ));
    }
}
