//! Signed requests to both API families, with Encord's retry rules
//! (`docs/encord-wire.md` §1.7, §2, §4): 413/429/500/502/503 and connection
//! errors are retried with exponential backoff and jitter, honouring
//! `Retry-After`; a 400 never is.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::auth::Credentials;

/// Statuses retried for retryable calls (504 is not, as in the SDK).
const RETRY_STATUSES: [u16; 5] = [413, 429, 500, 502, 503];
/// Statuses that say the request was not processed: repeated even when the
/// call is not idempotent.
pub(crate) const NOT_PROCESSED: [u16; 2] = [429, 503];

pub use crate::retry::RetryPolicy;

/// An error from Encord, mapped as the SDK maps it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach Encord at {domain}: {reason} (check --domain / ENCORD_DOMAIN and the network)")]
    Unreachable { domain: String, reason: String },
    #[error("Encord at {domain} refused the credentials (401): {message}; register this key's public half with the Encord user, or check --domain")]
    Authentication { domain: String, message: String },
    #[error("the Encord user lacks access (403): {0}")]
    Authorisation(String),
    #[error("not found (404): {0}")]
    NotFound(String),
    #[error("rejected by Encord (400): {0}")]
    InvalidArguments(String),
    #[error("Encord kept rate limiting (429) after every retry")]
    RateLimited,
    #[error("Encord answered {status}: {message}")]
    Status { status: u16, message: String },
    #[error("unexpected answer from Encord to {what}: {reason}")]
    BadResponse { what: String, reason: String },
}

/// The HTTP side of the Encord client.
pub struct Http {
    client: reqwest::Client,
    /// The domain as given, trailing `/` removed (legacy calls go to `{domain}/public`).
    domain: String,
    /// scheme://host[:port] (v2 calls ignore a path prefix, as urljoin does).
    origin: String,
    creds: Credentials,
    retry: RetryPolicy,
}

impl Http {
    pub fn new(domain: &str, creds: Credentials, retry: RetryPolicy) -> Result<Http, String> {
        let domain = domain.trim_end_matches('/').to_string();
        let url = url::Url::parse(&domain).map_err(|e| {
            format!("--domain `{domain}` is not a URL ({e}): use e.g. https://api.encord.com")
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "--domain `{domain}` must be an http(s) URL such as https://api.encord.com"
            ));
        }
        let origin = url.origin().ascii_serialization();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .timeout(Duration::from_secs(180))
            .pool_max_idle_per_host(16)
            .user_agent(concat!("runner-host/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Http {
            client,
            domain,
            origin,
            creds,
            retry,
        })
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// A v2 call. `query` pairs are encoded as Python's urlencode does
    /// (lists as repeated keys, booleans as True/False by the caller).
    /// Returns the JSON body, or `Value::Null` for 204.
    pub async fn v2(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        retryable: bool,
    ) -> Result<Value, ApiError> {
        let mut target = format!("/v2/public/{}", path.trim_start_matches('/'))
            .trim_end_matches('/')
            .to_string();
        if !query.is_empty() {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in query {
                ser.append_pair(k, v);
            }
            target = format!("{target}?{}", ser.finish());
        }
        let url = format!("{}{target}", self.origin);
        let bytes = body
            .map(|b| serde_json::to_vec(b).expect("JSON serialises"))
            .unwrap_or_default();
        let what = format!("{method} {}", target.split('?').next().unwrap_or_default());
        let (status, text) = self
            .send(
                method.clone(),
                &url,
                |created| {
                    let mut h = self
                        .creds
                        .v2_headers(method.as_str(), &target, &bytes, created);
                    if body.is_some() {
                        h.push(("content-type", "application/json".into()));
                    }
                    h
                },
                &bytes,
                retryable,
            )
            .await?;
        match status.as_u16() {
            204 => Ok(Value::Null),
            200 => serde_json::from_slice(&text).map_err(|e| ApiError::BadResponse {
                what,
                reason: format!("not JSON: {e}"),
            }),
            code => Err(self.v2_error(code, &text)),
        }
    }

    fn v2_error(&self, code: u16, body: &[u8]) -> ApiError {
        let message = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| {
                v.get("message").or_else(|| v.get("detail")).map(|m| {
                    m.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| m.to_string())
                })
            })
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
        match code {
            400 => ApiError::InvalidArguments(message),
            401 => ApiError::Authentication {
                domain: self.domain.clone(),
                message,
            },
            403 => ApiError::Authorisation(message),
            404 => ApiError::NotFound(message),
            429 => ApiError::RateLimited,
            status => ApiError::Status { status, message },
        }
    }

    /// A legacy RPC call: `POST {domain}/public` with the envelope; returns
    /// `response` of a status-200 envelope read as a `T` (a missing or null
    /// one as `T::default()`): a `Value`, or for label rows
    /// `Vec<Box<RawValue>>`, each row kept as its JSON text so that no tree of
    /// it is built only to be written out again for the agent. Any other
    /// answer is mapped to its error.
    pub async fn legacy<T: serde::de::DeserializeOwned + Default>(
        &self,
        project_hash: &str,
        query_type: &str,
        query_method: &str,
        uid: Value,
        payload: impl serde::Serialize,
        retryable: bool,
    ) -> Result<T, ApiError> {
        #[derive(serde::Deserialize)]
        struct Answer<T> {
            status: Option<i64>,
            response: Option<T>,
        }
        // Serialised straight from the payload (label rows to save may be
        // raw JSON text), not through a `Value` copy of it.
        #[derive(serde::Serialize)]
        struct Envelope<'a, P> {
            query_type: &'a str,
            query_method: &'a str,
            values: Values<P>,
        }
        #[derive(serde::Serialize)]
        struct Values<P> {
            uid: Value,
            payload: P,
        }
        let envelope = Envelope {
            query_type,
            query_method,
            values: Values { uid, payload },
        };
        let bytes = serde_json::to_vec(&envelope).expect("JSON serialises");
        let url = format!("{}/public", self.domain);
        let project = project_hash.to_string();
        let (status, text) = self
            .send(
                Method::POST,
                &url,
                |_| {
                    vec![
                        ("authorization", self.creds.legacy_authorization(&bytes)),
                        ("content-type", "application/json".into()),
                        ("accept", "application/json".into()),
                        ("resourcetype", "project".into()),
                        ("resourceid", project.clone()),
                    ]
                },
                &bytes,
                retryable,
            )
            .await?;
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(ApiError::RateLimited);
        }
        let typed = serde_json::from_slice::<Answer<T>>(&text);
        if let Ok(Answer {
            status: Some(200),
            response,
        }) = typed
        {
            return Ok(response.unwrap_or_default());
        }
        let bad = |reason: String| ApiError::BadResponse {
            what: format!("{query_type}/{query_method}"),
            reason,
        };
        let v: Value = serde_json::from_slice(&text)
            .map_err(|e| bad(format!("not JSON (HTTP {status}): {e}")))?;
        if v.get("status").and_then(Value::as_i64) == Some(200) {
            let why = typed.err().map_or_else(String::new, |e| e.to_string());
            return Err(bad(format!("unexpected response: {why}")));
        }
        Err(self.legacy_error(status, &v))
    }

    /// The error a legacy answer that is not a status-200 envelope stands for.
    fn legacy_error(&self, status: StatusCode, v: &Value) -> ApiError {
        if v.get("status").is_none() {
            // Not an envelope: an error from in front of the API (a proxy, a 5xx page).
            let message = v
                .get("message")
                .or_else(|| v.get("detail"))
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .to_string();
            return ApiError::Status {
                status: status.as_u16(),
                message,
            };
        }
        let code = v
            .pointer("/response/0")
            .and_then(Value::as_str)
            .unwrap_or("UNKNOWN_ERROR");
        let message = match v.get("payload") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => code.to_string(),
            Some(other) => other.to_string(),
        };
        match code {
            "AUTHENTICATION_ERROR" | "SSH_KEY_NOT_FOUND_ERROR" => ApiError::Authentication {
                domain: self.domain.clone(),
                message,
            },
            "AUTHORISATION_ERROR" => ApiError::Authorisation(message),
            "RESOURCE_NOT_FOUND_ERROR" => ApiError::NotFound(message),
            "INVALID_ARGUMENTS_ERROR" => ApiError::InvalidArguments(message),
            "RATE_LIMIT_ERROR" => ApiError::RateLimited,
            _ => ApiError::Status {
                status: v.get("status").and_then(Value::as_u64).unwrap_or(0) as u16,
                message: format!("{code}: {message}"),
            },
        }
    }

    /// Sends with retries; headers are made per attempt (fresh `created`).
    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: impl Fn(u64) -> Vec<(&'static str, String)>,
        body: &[u8],
        retryable: bool,
    ) -> Result<(StatusCode, bytes::Bytes), ApiError> {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let created = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let mut req = self.client.request(method.clone(), url);
            for (k, v) in headers(created) {
                req = req.header(k, v);
            }
            if !body.is_empty() {
                req = req.body(body.to_vec());
            }
            let result = match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    match resp.bytes().await {
                        Ok(b) => Ok((status, b, retry_after)),
                        Err(e) => Err(e),
                    }
                }
                Err(e) => Err(e),
            };
            let can_retry = self.retry.allows_retry(attempt);
            match result {
                Ok((status, b, retry_after)) => {
                    let not_processed = NOT_PROCESSED.contains(&status.as_u16());
                    if can_retry
                        && (not_processed
                            || (retryable && RETRY_STATUSES.contains(&status.as_u16())))
                    {
                        let wait = self.retry.after(attempt, retry_after);
                        tracing::debug!(%url, %status, ?wait, "retrying");
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Ok((status, b));
                }
                Err(e) => {
                    // A failed connect never reached the server; other transport
                    // errors are retried only where repeating is harmless.
                    if can_retry && (retryable || e.is_connect()) {
                        tracing::debug!(%url, "retrying after a transport error: {e}");
                        tokio::time::sleep(self.retry.backoff(attempt)).await;
                        continue;
                    }
                    let mut reason = e.to_string();
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        reason = format!("{reason}: {s}");
                        source = s.source();
                    }
                    return Err(ApiError::Unreachable {
                        domain: self.domain.clone(),
                        reason,
                    });
                }
            }
        }
    }

    /// Downloads a signed media URL to `dest`, streaming (never the whole
    /// file in memory), with the client's timeouts and retries; no
    /// credentials are sent. Returns the number of bytes written. A partial
    /// file is removed.
    pub async fn download(&self, url: &str, dest: &std::path::Path) -> Result<u64, ApiError> {
        use futures::StreamExt;
        use tokio::io::AsyncWriteExt;
        let shown = url.split('?').next().unwrap_or(url).to_string();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let result: Result<u64, (bool, String)> = async {
                let resp = self
                    .client
                    .get(url)
                    .send()
                    .await
                    .map_err(|e| (true, e.to_string()))?;
                let status = resp.status();
                if !status.is_success() {
                    let retry = RETRY_STATUSES.contains(&status.as_u16()) || status.as_u16() == 504;
                    return Err((retry, format!("HTTP {status}")));
                }
                let mut file = tokio::fs::File::create(dest)
                    .await
                    .map_err(|e| (false, format!("cannot write {}: {e}", dest.display())))?;
                let mut stream = resp.bytes_stream();
                let mut written = 0u64;
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(|e| (true, e.to_string()))?;
                    file.write_all(&chunk)
                        .await
                        .map_err(|e| (false, e.to_string()))?;
                    written += chunk.len() as u64;
                }
                file.flush().await.map_err(|e| (false, e.to_string()))?;
                Ok(written)
            }
            .await;
            match result {
                Ok(n) => return Ok(n),
                Err((retry, reason)) => {
                    let _ = tokio::fs::remove_file(dest).await;
                    if retry && self.retry.allows_retry(attempt) {
                        tokio::time::sleep(self.retry.backoff(attempt)).await;
                        continue;
                    }
                    return Err(ApiError::BadResponse {
                        what: format!("downloading {shown}"),
                        reason,
                    });
                }
            }
        }
    }

    /// The retry policy this client was made with.
    pub(crate) fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }
}
