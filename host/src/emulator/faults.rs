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
    /// Only requests whose path contains one of these (all when empty).
    pub endpoints: Vec<String>,
    /// `Retry-After` seconds sent with 429.
    pub retry_after: u64,
}

impl Faults {
    /// The fault to inject into a request to `path`, if any.
    pub fn pick(&self, path: &str) -> Option<Fault> {
        if self.rate <= 0.0 || self.kinds.is_empty() {
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
