//! Injected latency and failures, for tests of the client's resilience.

use std::time::Duration;

/// One kind of injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After`.
    TooManyRequests,
    InternalError,
    Unavailable,
    /// The connection is dropped without an answer.
    Reset,
    /// 400: a request Encord refuses (never to be retried).
    BadRequest,
}

impl std::str::FromStr for Fault {
    type Err = String;
    fn from_str(s: &str) -> Result<Fault, String> {
        match s.trim() {
            "429" => Ok(Fault::TooManyRequests),
            "500" => Ok(Fault::InternalError),
            "503" => Ok(Fault::Unavailable),
            "reset" => Ok(Fault::Reset),
            "400" => Ok(Fault::BadRequest),
            other => Err(format!(
                "unknown fault `{other}`: use 400, 429, 500, 503 or reset"
            )),
        }
    }
}

/// What to inject, and where.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Added to every API request.
    pub latency: Duration,
    /// Probability in [0, 1] that a request fails.
    pub rate: f64,
    pub kinds: Vec<Fault>,
    /// Only requests whose path, or legacy query (`labelrow/PUT`), contains
    /// one of these (all when empty).
    pub endpoints: Vec<String>,
    /// `Retry-After` seconds sent with 429.
    pub retry_after: u64,
}

impl Faults {
    /// Whether failures are injected at all.
    fn active(&self) -> bool {
        self.rate > 0.0 && !self.kinds.is_empty()
    }

    /// Whether a legacy request's query must be read to choose its fault:
    /// every legacy call goes to `/public`, so only its body says which it is.
    pub fn by_legacy_query(&self, path: &str) -> bool {
        path == "/public" && self.active() && !self.endpoints.is_empty()
    }

    /// The fault to inject into a request to `path` (for a legacy call, when
    /// `by_legacy_query`, `/public` and its query: `/public labelrow/PUT`),
    /// if any.
    pub fn pick(&self, path: &str) -> Option<Fault> {
        if !self.active() {
            return None;
        }
        // Media is hit only when named: by default faults go to the API.
        let named = self.endpoints.iter().any(|e| path.contains(e.as_str()));
        if (self.endpoints.is_empty() && path.starts_with("/media/"))
            || (!self.endpoints.is_empty() && !named)
        {
            return None;
        }
        if rand::random::<f64>() >= self.rate {
            return None;
        }
        Some(self.kinds[rand::random_range(0..self.kinds.len())])
    }
}
