//! Outgoing HTTP from an agent (wasi:http), e.g. to call a model's API.
//!
//! The host sends a request only to the hosts its operator granted with
//! `runner-host --allow-net HOST[:PORT]`; any other is refused with
//! [`HttpError::Denied`] before anything leaves the machine. Calls block the
//! handler until the answer has arrived; the task's `--task-timeout` bounds
//! them like any other work.
//!
//! ```no_run
//! use encord_agent_sdk::http;
//! use encord_agent_sdk::prelude::*;
//!
//! #[stage("pre-label")]
//! fn pre_label(task: Task) -> Result<Outcome, AgentError> {
//!     let answer = http::Request::post("https://models.example.com/v1/classify")
//!         .json(&serde_json::json!({ "title": task.data_title }))
//!         .send()?
//!         .error_for_status()?;
//!     let verdict: serde_json::Value = answer.json()?;
//!     Ok(if verdict["blurry"] == true { Outcome::pathway("reject") } else { Outcome::pathway("accept") })
//! }
//! # export_agent!(pre_label);
//! ```

use std::fmt;

/// Why a request got no answer, or (from [`Response::error_for_status`]) a
/// failure status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// The URL is not `http://` or `https://` followed by a host.
    InvalidUrl(String),
    /// The host was not granted with `--allow-net`.
    Denied(String),
    /// The answer's status was 4xx or 5xx.
    Status(u16, String),
    /// Anything else: DNS, connection, TLS, protocol, a bad header.
    Failed(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::InvalidUrl(url) => write!(
                f,
                "`{url}` is not an http:// or https:// URL with a host"
            ),
            HttpError::Denied(authority) => write!(
                f,
                "HTTP request to `{authority}` denied: the host is not granted (runner-host --allow-net HOST[:PORT])"
            ),
            HttpError::Status(status, url) => write!(f, "HTTP {status} from {url}"),
            HttpError::Failed(why) => write!(f, "HTTP request failed: {why}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// An HTTP request, sent with [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Request {
    /// A request with this method (`GET`, `POST`, …) to `url`.
    pub fn new(method: &str, url: impl Into<String>) -> Request {
        Request {
            method: method.to_ascii_uppercase(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(url: impl Into<String>) -> Request {
        Request::new("GET", url)
    }

    pub fn post(url: impl Into<String>) -> Request {
        Request::new("POST", url)
    }

    /// Adds a header (repeatable).
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Request {
        self.headers
            .push((name.to_ascii_lowercase(), value.as_ref().to_vec()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json(self, value: &serde_json::Value) -> Request {
        self.header("content-type", "application/json")
            .body(value.to_string())
    }

    /// The method, upper-case.
    pub fn method(&self) -> &str {
        &self.method
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends the request and reads the whole answer.
    pub fn send(self) -> Result<Response, HttpError> {
        let url = Url::parse(&self.url)?;
        imp::send(&self, &url)
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, HttpError> {
    Request::get(url).send()
}

/// An answer, read in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Header names are lower-case.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    url: String,
}

impl Response {
    /// The first value of header `name` (any case), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> Result<&str, HttpError> {
        std::str::from_utf8(&self.body)
            .map_err(|e| HttpError::Failed(format!("the body from {} is not UTF-8: {e}", self.url)))
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            HttpError::Failed(format!(
                "the body from {} is not the JSON expected: {e}",
                self.url
            ))
        })
    }

    /// This response, or [`HttpError::Status`] when its status is 4xx or 5xx.
    pub fn error_for_status(self) -> Result<Response, HttpError> {
        if self.status >= 400 {
            Err(HttpError::Status(self.status, self.url))
        } else {
            Ok(self)
        }
    }
}

/// The parts of a URL that wasi:http takes.
#[derive(Debug, PartialEq, Eq)]
struct Url {
    https: bool,
    authority: String,
    path_with_query: String,
}

impl Url {
    fn parse(url: &str) -> Result<Url, HttpError> {
        let invalid = || HttpError::InvalidUrl(url.to_string());
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(invalid());
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.is_empty() || authority.contains('@') {
            return Err(invalid());
        }
        let path = path.split('#').next().unwrap_or_default();
        let path_with_query = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Ok(Url {
            https,
            authority: authority.to_string(),
            path_with_query,
        })
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{HttpError, Request, Response, Url};
    use wasip2::http::outgoing_handler;
    use wasip2::http::types::{
        ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
    };
    use wasip2::io::streams::StreamError;

    fn failed(e: ErrorCode, authority: &str) -> HttpError {
        match e {
            ErrorCode::HttpRequestDenied => HttpError::Denied(authority.to_string()),
            e => HttpError::Failed(format!("{e:?}")),
        }
    }

    pub(super) fn send(req: &Request, url: &Url) -> Result<Response, HttpError> {
        let headers = Fields::new();
        for (name, value) in &req.headers {
            headers
                .append(name, value)
                .map_err(|e| HttpError::Failed(format!("header `{name}`: {e:?}")))?;
        }
        let outgoing = OutgoingRequest::new(headers);
        let method = match req.method.as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_string()),
        };
        let invalid = || HttpError::InvalidUrl(req.url.clone());
        outgoing
            .set_method(&method)
            .map_err(|()| HttpError::Failed(format!("method `{}`", req.method)))?;
        let scheme = if url.https {
            Scheme::Https
        } else {
            Scheme::Http
        };
        outgoing.set_scheme(Some(&scheme)).map_err(|()| invalid())?;
        outgoing
            .set_authority(Some(&url.authority))
            .map_err(|()| invalid())?;
        outgoing
            .set_path_with_query(Some(&url.path_with_query))
            .map_err(|()| invalid())?;
        let body = outgoing
            .body()
            .map_err(|()| HttpError::Failed("no request body".into()))?;

        // Send first, then stream the body: the host reads it as it goes.
        let pending =
            outgoing_handler::handle(outgoing, None).map_err(|e| failed(e, &url.authority))?;
        {
            let out = body
                .write()
                .map_err(|()| HttpError::Failed("no request body stream".into()))?;
            for chunk in req.body.chunks(4096) {
                out.blocking_write_and_flush(chunk)
                    .map_err(|e| HttpError::Failed(format!("sending the body: {e:?}")))?;
            }
        }
        OutgoingBody::finish(body, None).map_err(|e| failed(e, &url.authority))?;

        let response = loop {
            match pending.get() {
                Some(answer) => break answer,
                None => pending.subscribe().block(),
            }
        };
        let response = response
            .map_err(|()| HttpError::Failed("the answer was taken twice".into()))?
            .map_err(|e| failed(e, &url.authority))?;
        let status = response.status();
        let headers = response.headers().entries();
        let incoming = response
            .consume()
            .map_err(|()| HttpError::Failed("no response body".into()))?;
        let mut bytes = Vec::new();
        {
            let stream = incoming
                .stream()
                .map_err(|()| HttpError::Failed("no response body stream".into()))?;
            loop {
                match stream.blocking_read(64 << 10) {
                    Ok(chunk) => bytes.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(e)) => {
                        return Err(HttpError::Failed(format!(
                            "reading the answer: {}",
                            e.to_debug_string()
                        )))
                    }
                }
            }
        }
        drop(IncomingBody::finish(incoming));
        Ok(Response {
            status,
            headers,
            body: bytes,
            url: req.url.clone(),
        })
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{HttpError, Request, Response, Url};

    /// Natively (unit tests) there is no host to send through.
    pub(super) fn send(_req: &Request, url: &Url) -> Result<Response, HttpError> {
        Err(HttpError::Failed(format!(
            "no HTTP outside runner-host: build the agent for wasm32-wasip2 to reach {}",
            url.authority
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        assert_eq!(
            Url::parse("https://api.example.com:8443/v1/x?q=1#frag").unwrap(),
            Url {
                https: true,
                authority: "api.example.com:8443".into(),
                path_with_query: "/v1/x?q=1".into()
            }
        );
        assert_eq!(
            Url::parse("http://127.0.0.1:8080").unwrap().path_with_query,
            "/"
        );
        assert_eq!(
            Url::parse("http://host?q=1").unwrap().path_with_query,
            "/?q=1"
        );
        for bad in [
            "ftp://x/",
            "api.example.com/v1",
            "https:///path",
            "http://user@host/",
        ] {
            assert_eq!(
                Url::parse(bad),
                Err(HttpError::InvalidUrl(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_failure_status_is_an_error_that_names_it() {
        let answer = Response {
            status: 503,
            headers: vec![("retry-after".into(), b"5".to_vec())],
            body: b"{\"busy\":true}".to_vec(),
            url: "https://m.example.com/v1".into(),
        };
        assert_eq!(answer.header("Retry-After"), Some("5"));
        assert_eq!(
            answer.json::<serde_json::Value>().unwrap()["busy"],
            serde_json::json!(true)
        );
        assert_eq!(
            answer.error_for_status().unwrap_err().to_string(),
            "HTTP 503 from https://m.example.com/v1"
        );
    }
}
