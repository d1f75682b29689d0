//! `encord:agent/http`: one blocking HTTP call for agents whose toolchain
//! has no wasi:http client (Python, JavaScript, C), under the same grants
//! as wasi:http ([`super::net`]): a request to a host and port not granted
//! is refused before anything is sent. Redirects are not followed, the
//! answer's body is capped at the instance's memory limit, and errors never
//! carry the URL (its query may hold a key).

use std::sync::OnceLock;
use std::time::Duration;

use super::net::Net;
use crate::engine::bindings::wit::http::{Error, Host, Request, Response};

/// One client for every call: connections are pooled across tasks.
fn client() -> Result<&'static reqwest::Client, Error> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Failed(format!("the HTTP client could not start: {e}")))
}

fn method(m: &str) -> Result<reqwest::Method, Error> {
    match m.to_ascii_uppercase().as_str() {
        "GET" => Ok(reqwest::Method::GET),
        "POST" => Ok(reqwest::Method::POST),
        "PUT" => Ok(reqwest::Method::PUT),
        "PATCH" => Ok(reqwest::Method::PATCH),
        "DELETE" => Ok(reqwest::Method::DELETE),
        "HEAD" => Ok(reqwest::Method::HEAD),
        other => Err(Error::Failed(format!(
            "method `{other}` is not one of GET, POST, PUT, PATCH, DELETE, HEAD"
        ))),
    }
}

fn failed(e: reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::Timeout
    } else {
        // Without the URL: its query may carry a key.
        let e = e.without_url();
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        Error::Failed(text)
    }
}

impl Host for Net {
    async fn send(&mut self, r: Request) -> Result<Response, Error> {
        let uri: http::Uri = r
            .url
            .parse()
            .ok()
            .filter(|u: &http::Uri| {
                u.host().is_some() && matches!(u.scheme_str(), Some("http" | "https"))
            })
            .ok_or_else(|| Error::InvalidUrl(r.url.clone()))?;
        if !self.allows(&uri) {
            let to = uri.authority().map_or_else(String::new, |a| a.to_string());
            self.log_denied(&to);
            return Err(Error::Denied(to));
        }
        let mut req = client()?.request(method(&r.method)?, r.url.as_str());
        for (name, value) in &r.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        if let Some(secs) = r.timeout {
            if !(secs.is_finite() && secs > 0.0) {
                return Err(Error::Failed(format!(
                    "timeout {secs}: must be a positive number of seconds"
                )));
            }
            req = req.timeout(Duration::from_secs_f64(secs.min(86_400.0)));
        }
        let mut answer = req.body(r.body).send().await.map_err(failed)?;
        let status = answer.status().as_u16();
        let headers = answer
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let cap = self.memory_cap() as u64;
        if answer.content_length().is_some_and(|n| n > cap) {
            return Err(Error::TooLarge(answer.content_length().unwrap_or(cap)));
        }
        let mut body = Vec::new();
        while let Some(chunk) = answer.chunk().await.map_err(failed)? {
            if (body.len() + chunk.len()) as u64 > cap {
                return Err(Error::TooLarge((body.len() + chunk.len()) as u64));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(grants: &[&str], cap: usize) -> Net {
        let specs: Vec<String> = grants.iter().map(|s| s.to_string()).collect();
        Net::new(
            super::super::net::NetGrant::resolve(&specs).unwrap().into(),
            None,
            cap,
        )
    }

    fn get(url: &str) -> Request {
        Request {
            method: "GET".into(),
            url: url.into(),
            headers: vec![],
            body: vec![],
            timeout: Some(5.0),
        }
    }

    /// A one-shot HTTP server on loopback answering `reply`; returns its
    /// port and what it received.
    fn server(reply: &'static [u8]) -> (u16, std::thread::JoinHandle<Vec<u8>>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = vec![0u8; 4096];
            let n = s.read(&mut got).unwrap();
            got.truncate(n);
            s.write_all(reply).unwrap();
            got
        });
        (port, handle)
    }

    #[tokio::test]
    async fn a_denied_host_is_refused_before_anything_is_sent() {
        let (port, _server) = server(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        let mut n = net(&["127.0.0.1:1"], 1 << 20);
        let e = n
            .send(get(&format!("http://127.0.0.1:{port}/x?key=secret")))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::Denied(to) if *to == format!("127.0.0.1:{port}")),
            "{e:?}"
        );
        let e = n.send(get("ftp://example.com/")).await.unwrap_err();
        assert!(matches!(e, Error::InvalidUrl(_)));
    }

    #[tokio::test]
    async fn a_granted_request_is_sent_and_its_answer_read() {
        let (port, server) = server(
            b"HTTP/1.1 201 Created\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello",
        );
        let mut n = net(&[&format!("127.0.0.1:{port}")], 1 << 20);
        let mut r = get(&format!("http://127.0.0.1:{port}/v1/chat"));
        r.method = "post".into();
        r.headers = vec![("x-api-key".into(), "k".into())];
        r.body = b"{}".to_vec();
        let answer = n.send(r).await.unwrap();
        assert_eq!(
            (answer.status, answer.body.as_slice()),
            (201, &b"hello"[..])
        );
        assert!(answer
            .headers
            .contains(&("content-type".into(), "text/plain".into())));
        let got = String::from_utf8(server.join().unwrap()).unwrap();
        assert!(got.starts_with("POST /v1/chat HTTP/1.1\r\n"), "{got}");
        assert!(
            got.contains("x-api-key: k\r\n") && got.ends_with("{}"),
            "{got}"
        );
    }

    #[tokio::test]
    async fn an_answer_over_the_memory_limit_is_refused() {
        let (port, _server) = server(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n");
        let mut n = net(&[&format!("127.0.0.1:{port}")], 10);
        let e = n
            .send(get(&format!("http://127.0.0.1:{port}/")))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::TooLarge(100)), "{e:?}");
    }
}
