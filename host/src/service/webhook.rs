//! Encord's task-ready notifications, verified and read exactly as
//! encord-agents 0.2.10 does (`core.webhooks`): HMAC-SHA256 over
//! `"{timestamp}." + body` in `X-Encord-Signature` (hex), `X-Encord-Timestamp`
//! within 300 s of now, compared in constant time; then the envelope: event
//! `agent_stage_work_available_event`, version 1.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "X-Encord-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Encord-Timestamp";
pub const EVENT: &str = "agent_stage_work_available_event";
pub const VERSION: i64 = 1;
pub const TOLERANCE_SECONDS: u64 = 300;

/// Why a request was not taken as a notification to act on.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum Refusal {
    /// Not shown to come from Encord: answer 401, read nothing.
    #[error("{0}")]
    Unverified(String),
    /// Genuine, another event (a URL may serve several stages): answer 200.
    #[error("expected event `{EVENT}`, got `{0}`")]
    OtherEvent(String),
    /// Genuine, an envelope version this host cannot read: answer 501.
    #[error("notification is version {0}; runner-host reads version {VERSION}: upgrade runner-host to read it")]
    UnsupportedVersion(String),
    /// Genuine, the right event and version, but not its shape: answer 400.
    #[error("the notification does not have the shape of version {VERSION}: {0}")]
    Malformed(String),
}

/// Why Encord sent it. A reason added platform-side is kept as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    BatchSizeReached,
    MaxWaitElapsed,
    Other(String),
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Reason::BatchSizeReached => "batch_size_reached",
            Reason::MaxWaitElapsed => "max_wait_elapsed",
            Reason::Other(s) => s,
        })
    }
}

/// Tasks are waiting at an agent stage (a hint: the stage's queue says what
/// is there now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub uid: String,
    pub project_hash: String,
    pub stage_uuid: String,
    pub pending_count: i64,
    pub reason: Reason,
}

/// A header by name, whatever its case.
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Checks that `body` carries a signature only the holder of `secret`
/// could have made, at a time within the tolerance of `now` (unix seconds).
pub fn verify(
    body: &[u8],
    signature: Option<&str>,
    timestamp: Option<&str>,
    secret: &[u8],
    now: u64,
    tolerance: u64,
) -> Result<(), Refusal> {
    let (signature, timestamp) = match (
        signature.filter(|s| !s.is_empty()),
        timestamp.filter(|s| !s.is_empty()),
    ) {
        (Some(s), Some(t)) => (s, t),
        (s, t) => {
            let missing: Vec<String> = [
                (SIGNATURE_HEADER, s.is_none()),
                (TIMESTAMP_HEADER, t.is_none()),
            ]
            .iter()
            .filter(|(_, m)| *m)
            .map(|(h, _)| format!("`{h}`"))
            .collect();
            return Err(Refusal::Unverified(format!(
                "the request is missing {}: Encord signs every request it makes to a configured URL",
                missing.join(" and ")
            )));
        }
    };
    let signed_at: i64 = timestamp.parse().map_err(|_| {
        Refusal::Unverified(format!("`{TIMESTAMP_HEADER}` is not a unix timestamp"))
    })?;
    let age = (now as i64).abs_diff(signed_at);
    if age > tolerance {
        return Err(Refusal::Unverified(format!(
            "the signed timestamp is {age}s from now, outside the {tolerance}s tolerance"
        )));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    let Ok(given) = hex::decode(signature.trim()) else {
        return Err(Refusal::Unverified(
            "the signature does not match the body".into(),
        ));
    };
    // Constant time (hmac's verify compares with subtle).
    mac.verify_slice(&given).map_err(|_| {
        Refusal::Unverified(
            "the signature does not match the body; the secret or the payload is wrong".into(),
        )
    })
}

#[derive(Deserialize)]
struct Payload {
    project_hash: uuid::Uuid,
    stage_uuid: uuid::Uuid,
    pending_count: i64,
    reason: String,
}

#[derive(Deserialize)]
struct Envelope {
    uid: uuid::Uuid,
    #[allow(dead_code)]
    version: i64,
    #[allow(dead_code)]
    source: String,
    #[allow(dead_code)]
    event_type: String,
    #[allow(dead_code)]
    event_created_timestamp: String,
    payload: Payload,
}

/// Reads a verified body (this trusts what it is given). The event is
/// checked before the version, so another receiver's event is cheap to
/// acknowledge whatever its version.
pub fn parse(body: &[u8]) -> Result<Notification, Refusal> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| Refusal::Malformed(format!("not JSON: {e}")))?;
    let event = value
        .get("event_type")
        .map_or("None".to_string(), |e| match e {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        });
    if event != EVENT {
        return Err(Refusal::OtherEvent(event));
    }
    match value.get("version") {
        Some(v) if v.as_i64() == Some(VERSION) && v.is_i64() => {}
        other => {
            return Err(Refusal::UnsupportedVersion(
                other.map_or("None".to_string(), |v| v.to_string()),
            ))
        }
    }
    let e: Envelope =
        serde_json::from_value(value).map_err(|e| Refusal::Malformed(e.to_string()))?;
    Ok(Notification {
        uid: e.uid.to_string(),
        project_hash: e.payload.project_hash.to_string(),
        stage_uuid: e.payload.stage_uuid.to_string(),
        pending_count: e.payload.pending_count,
        reason: match e.payload.reason.as_str() {
            "batch_size_reached" => Reason::BatchSizeReached,
            "max_wait_elapsed" => Reason::MaxWaitElapsed,
            _ => Reason::Other(e.payload.reason),
        },
    })
}

/// Verifies and reads a request, as `verify_and_parse_notification` does:
/// a request with only a newer signature header this version cannot read
/// says so (upgrade), rather than reading as unsigned.
pub fn verify_and_parse(
    body: &[u8],
    headers: &[(String, String)],
    secret: &[u8],
    now: u64,
) -> Result<Notification, Refusal> {
    let signature = header(headers, SIGNATURE_HEADER);
    if signature.is_none() {
        let known = SIGNATURE_HEADER.to_ascii_lowercase();
        let mut newer: Vec<&str> = headers
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| {
                let k = k.to_ascii_lowercase();
                k.starts_with(&known) && k != known
            })
            .collect();
        newer.sort_unstable();
        if !newer.is_empty() {
            let names: Vec<String> = newer.iter().map(|h| format!("`{h}`")).collect();
            return Err(Refusal::Unverified(format!(
                "the request carries {} but not `{SIGNATURE_HEADER}`, the signature this runner-host reads: upgrade runner-host to verify against the newer header",
                names.join(", ")
            )));
        }
    }
    verify(
        body,
        signature,
        header(headers, TIMESTAMP_HEADER),
        secret,
        now,
        TOLERANCE_SECONDS,
    )?;
    parse(body)
}

/// The contract of encord-agents 0.2.10's `tests/test_webhooks.py`, case by
/// case: the signature is made here as the platform makes it, not with the
/// code under test.
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const SECRET: &[u8] = b"5cbf0f7d3a1e4b2c9f8a6d5e4c3b2a1908f7e6d5c4b3a2910f8e7d6c5b4a3921";
    const PROJECT: &str = "11111111-1111-1111-1111-111111111111";
    const STAGE: &str = "22222222-2222-2222-2222-222222222222";
    const NOW: u64 = 1_790_000_000;

    fn envelope() -> Value {
        json!({
            "uid": "33333333-3333-3333-3333-333333333333",
            "version": 1,
            "source": "encord",
            "event_type": "agent_stage_work_available_event",
            "event_created_timestamp": "2026-09-01T12:00:00+00:00",
            "payload": {"project_hash": PROJECT, "stage_uuid": STAGE, "pending_count": 7, "reason": "batch_size_reached"},
        })
    }

    fn body(v: &Value) -> Vec<u8> {
        serde_json::to_vec(v).unwrap()
    }

    fn sign_with(body: &[u8], secret: &[u8], at: u64) -> Vec<(String, String)> {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{at}.").as_bytes());
        mac.update(body);
        vec![
            (
                SIGNATURE_HEADER.into(),
                hex::encode(mac.finalize().into_bytes()),
            ),
            (TIMESTAMP_HEADER.into(), at.to_string()),
        ]
    }

    fn sign(body: &[u8]) -> Vec<(String, String)> {
        sign_with(body, SECRET, NOW)
    }

    fn unverified(r: Result<Notification, Refusal>, says: &str) {
        match r {
            Err(Refusal::Unverified(m)) => assert!(m.contains(says), "{m}"),
            other => panic!("expected unverified ({says}), got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_genuine_request() {
        let b = body(&envelope());
        let n = verify_and_parse(&b, &sign(&b), SECRET, NOW).unwrap();
        assert_eq!(n.project_hash, PROJECT);
        assert_eq!(n.stage_uuid, STAGE);
        assert_eq!(n.pending_count, 7);
        assert_eq!(n.reason, Reason::BatchSizeReached);
    }

    #[test]
    fn reads_headers_regardless_of_case() {
        let b = body(&envelope());
        for recase in [str::to_lowercase, str::to_uppercase] {
            let h: Vec<_> = sign(&b).into_iter().map(|(k, v)| (recase(&k), v)).collect();
            assert!(verify_and_parse(&b, &h, SECRET, NOW).is_ok());
        }
    }

    #[test]
    fn rejects_a_signature_that_is_not_ascii() {
        let b = body(&envelope());
        let mut h = sign(&b);
        h[0].1 = "é".repeat(32);
        unverified(verify_and_parse(&b, &h, SECRET, NOW), "does not match");
    }

    #[test]
    fn rejects_a_body_changed_after_signing() {
        let b = body(&envelope());
        let h = sign(&b);
        let mut changed = envelope();
        changed["payload"]["pending_count"] = json!(8);
        unverified(
            verify_and_parse(&body(&changed), &h, SECRET, NOW),
            "does not match",
        );
    }

    #[test]
    fn rejects_a_body_that_was_re_serialized() {
        let b = body(&envelope());
        let h = sign(&b);
        let pretty = serde_json::to_vec_pretty(&envelope()).unwrap();
        unverified(verify_and_parse(&pretty, &h, SECRET, NOW), "does not match");
    }

    #[test]
    fn rejects_another_secret() {
        let b = body(&envelope());
        unverified(
            verify_and_parse(&b, &sign_with(&b, b"nope", NOW), SECRET, NOW),
            "does not match",
        );
    }

    #[test]
    fn rejects_a_request_without_the_headers() {
        let b = body(&envelope());
        for missing in [SIGNATURE_HEADER, TIMESTAMP_HEADER] {
            let h: Vec<_> = sign(&b).into_iter().filter(|(k, _)| k != missing).collect();
            unverified(
                verify_and_parse(&b, &h, SECRET, NOW),
                &format!("missing `{missing}`"),
            );
        }
        unverified(verify_and_parse(&b, &[], SECRET, NOW), "and");
    }

    #[test]
    fn rejects_a_timestamp_that_is_not_a_number() {
        let b = body(&envelope());
        let mut h = sign(&b);
        h[1].1 = "yesterday".into();
        unverified(
            verify_and_parse(&b, &h, SECRET, NOW),
            "not a unix timestamp",
        );
    }

    #[test]
    fn rejects_a_timestamp_outside_the_tolerance() {
        let b = body(&envelope());
        for at in [NOW - 301, NOW + 301] {
            unverified(
                verify_and_parse(&b, &sign_with(&b, SECRET, at), SECRET, NOW),
                "outside the 300s tolerance",
            );
        }
        assert!(verify_and_parse(&b, &sign_with(&b, SECRET, NOW - 300), SECRET, NOW).is_ok());
    }

    #[test]
    fn accepts_a_timestamp_inside_a_widened_tolerance() {
        let b = body(&envelope());
        let h = sign_with(&b, SECRET, NOW - 600);
        assert!(verify(&b, Some(&h[0].1), Some(&h[1].1), SECRET, NOW, 900).is_ok());
    }

    #[test]
    fn passes_on_events_meant_for_another_receiver() {
        let mut e = envelope();
        e["event_type"] = json!("task_submitted_event");
        let b = body(&e);
        assert_eq!(
            verify_and_parse(&b, &sign(&b), SECRET, NOW),
            Err(Refusal::OtherEvent("task_submitted_event".into()))
        );
    }

    #[test]
    fn tolerates_fields_added_platform_side() {
        let mut e = envelope();
        e["added"] = json!({"x": 1});
        e["payload"]["also_added"] = json!(true);
        let b = body(&e);
        assert!(verify_and_parse(&b, &sign(&b), SECRET, NOW).is_ok());
    }

    #[test]
    fn tolerates_a_reason_added_platform_side() {
        let mut e = envelope();
        e["payload"]["reason"] = json!("operator_requested");
        let b = body(&e);
        let n = verify_and_parse(&b, &sign(&b), SECRET, NOW).unwrap();
        assert_eq!(n.reason, Reason::Other("operator_requested".into()));
        assert_eq!(n.reason.to_string(), "operator_requested");
    }

    #[test]
    fn a_known_reason_formats_as_the_wire_value() {
        assert_eq!(Reason::MaxWaitElapsed.to_string(), "max_wait_elapsed");
        assert_eq!(Reason::BatchSizeReached.to_string(), "batch_size_reached");
    }

    #[test]
    fn refuses_an_envelope_version_it_cannot_read() {
        let mut e = envelope();
        e["version"] = json!(2);
        let b = body(&e);
        let r = verify_and_parse(&b, &sign(&b), SECRET, NOW);
        assert_eq!(r, Err(Refusal::UnsupportedVersion("2".into())));
        assert!(r.unwrap_err().to_string().contains("upgrade runner-host"));
    }

    #[test]
    fn passes_on_another_receivers_event_whatever_its_version() {
        let mut e = envelope();
        e["event_type"] = json!("task_submitted_event");
        e["version"] = json!(9);
        assert_eq!(
            parse(&body(&e)),
            Err(Refusal::OtherEvent("task_submitted_event".into()))
        );
    }

    #[test]
    fn parses_a_notification_without_verifying() {
        assert_eq!(parse(&body(&envelope())).unwrap().stage_uuid, STAGE);
    }

    #[test]
    fn a_notification_of_the_wrong_shape_is_malformed() {
        let mut e = envelope();
        e["payload"]["stage_uuid"] = json!("not a uuid");
        assert!(matches!(parse(&body(&e)), Err(Refusal::Malformed(_))));
    }

    #[test]
    fn names_a_signature_header_this_version_cannot_read() {
        let b = body(&envelope());
        for name in ["X-Encord-Signature-V2", "x-encord-signature-v2"] {
            let h: Vec<_> = sign(&b)
                .into_iter()
                .map(|(k, v)| {
                    if k == SIGNATURE_HEADER {
                        (name.to_string(), v)
                    } else {
                        (k, v)
                    }
                })
                .collect();
            unverified(
                verify_and_parse(&b, &h, SECRET, NOW),
                &format!("carries `{name}`"),
            );
        }
    }

    #[test]
    fn verifies_against_the_known_header_when_a_newer_one_is_also_sent() {
        let b = body(&envelope());
        let mut h = sign(&b);
        h.push(("X-Encord-Signature-V2".into(), "whatever".into()));
        assert!(verify_and_parse(&b, &h, SECRET, NOW).is_ok());
    }

    #[test]
    fn an_unsigned_request_still_reads_as_unsigned() {
        let b = body(&envelope());
        let h = vec![(TIMESTAMP_HEADER.to_string(), NOW.to_string())];
        unverified(
            verify_and_parse(&b, &h, SECRET, NOW),
            "missing `X-Encord-Signature`",
        );
    }
}
