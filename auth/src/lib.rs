//! Encord request authentication (its own crate, so that it is fuzzed
//! without the rest of runner-host): Ed25519 signing of both API families
//! from an OpenSSH private key, or a bearer token (`docs/encord-wire.md` §1).
//!
//! The key never appears in `Debug` output, logs or errors.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// How requests are authenticated.
pub enum Credentials {
    SshKey(SigningKey),
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::SshKey(k) => write!(
                f,
                "SshKey(public {})",
                hex::encode(k.verifying_key().as_bytes())
            ),
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no Encord credentials: set ENCORD_SSH_KEY_FILE (a path) or ENCORD_SSH_KEY (the key itself), or pass --ssh-key-file")]
    Missing,
    #[error("the SSH key file `{0}` does not exist or is not a file: pass the path of an OpenSSH Ed25519 private key")]
    NotAFile(String),
    #[error("cannot read the SSH key file `{path}`: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("ENCORD_SSH_KEY holds a file path: put the path in ENCORD_SSH_KEY_FILE instead, or the key's content in ENCORD_SSH_KEY")]
    PathInContent,
    #[error("the SSH key {0} is not an OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----): create one with `ssh-keygen -t ed25519`")]
    NotOpenSsh(String),
    #[error("the SSH key {0} is encrypted with a passphrase: Encord agents need an unencrypted Ed25519 key")]
    Encrypted(String),
    #[error("the SSH key {what} is a {algorithm} key: Encord needs an Ed25519 key (`ssh-keygen -t ed25519`)")]
    NotEd25519 { what: String, algorithm: String },
}

impl Credentials {
    /// Parses an OpenSSH Ed25519 private key; `what` names it in errors
    /// (e.g. "in file `x`"), never its content.
    pub fn from_openssh(text: &str, what: &str) -> Result<Credentials, AuthError> {
        let key =
            ssh_key::PrivateKey::from_openssh(rewrap(text)).map_err(|_| {
                match other_algorithm(text) {
                    Some(algorithm) => AuthError::NotEd25519 {
                        what: what.to_string(),
                        algorithm,
                    },
                    None => AuthError::NotOpenSsh(what.to_string()),
                }
            })?;
        if key.is_encrypted() {
            return Err(AuthError::Encrypted(what.to_string()));
        }
        match key.key_data() {
            ssh_key::private::KeypairData::Ed25519(kp) => Ok(Credentials::SshKey(
                SigningKey::from_bytes(&kp.private.to_bytes()),
            )),
            other => Err(AuthError::NotEd25519 {
                what: what.to_string(),
                algorithm: other
                    .algorithm()
                    .map(|a| a.to_string())
                    .unwrap_or_else(|_| "unknown".into()),
            }),
        }
    }

    /// Reads a key file.
    pub fn from_file(path: &Path) -> Result<Credentials, AuthError> {
        let shown = path.display().to_string();
        if !path.is_file() {
            return Err(AuthError::NotAFile(shown));
        }
        let text = std::fs::read_to_string(path).map_err(|e| AuthError::Unreadable {
            path: shown.clone(),
            reason: e.kind().to_string(),
        })?;
        Credentials::from_openssh(&text, &format!("in `{shown}`"))
    }

    /// The credentials to use, as encord-agents finds them: an explicit key
    /// file first, then a bearer token, then `ENCORD_SSH_KEY` (content),
    /// then `ENCORD_SSH_KEY_FILE` (path).
    pub fn resolve(
        key_file: Option<&Path>,
        bearer: Option<String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials, AuthError> {
        if let Some(path) = key_file {
            return Credentials::from_file(path);
        }
        if let Some(token) = bearer.filter(|t| !t.is_empty()) {
            return Ok(Credentials::Bearer(token));
        }
        let content = env("ENCORD_SSH_KEY").filter(|v| !v.trim().is_empty());
        let file = env("ENCORD_SSH_KEY_FILE").filter(|v| !v.trim().is_empty());
        if let Some(content) = content {
            if file.is_some() {
                tracing::warn!(
                    "both ENCORD_SSH_KEY and ENCORD_SSH_KEY_FILE are set; using ENCORD_SSH_KEY"
                );
            }
            if !content.contains("-----BEGIN") && Path::new(content.trim()).is_file() {
                return Err(AuthError::PathInContent);
            }
            return Credentials::from_openssh(&content, "in ENCORD_SSH_KEY");
        }
        if let Some(file) = file {
            return Credentials::from_file(Path::new(&file));
        }
        Err(AuthError::Missing)
    }

    /// The lowercase hex of the raw public key (`keyid`).
    pub fn key_id(&self) -> Option<String> {
        match self {
            Credentials::SshKey(k) => Some(hex::encode(k.verifying_key().as_bytes())),
            Credentials::Bearer(_) => None,
        }
    }

    /// Headers for a v2 request: `Content-Digest`, `Signature-Input`,
    /// `Signature` (or `Authorization: Bearer`).
    pub fn v2_headers(
        &self,
        method: &str,
        request_target: &str,
        body: &[u8],
        created: u64,
    ) -> Vec<(&'static str, String)> {
        match self {
            Credentials::Bearer(t) => vec![("authorization", format!("Bearer {t}"))],
            Credentials::SshKey(key) => {
                let digest = content_digest(body);
                let key_id = hex::encode(key.verifying_key().as_bytes());
                let params = signature_params(created, &key_id);
                let base = signature_base(method, request_target, &digest, &params);
                let sig = key.sign(base.as_bytes());
                vec![
                    ("content-digest", digest),
                    ("signature-input", format!("encord-sig={params}")),
                    (
                        "signature",
                        format!("encord-sig=:{}:", B64.encode(sig.to_bytes())),
                    ),
                ]
            }
        }
    }

    /// The `Authorization` header of a legacy (`POST /public`) request.
    pub fn legacy_authorization(&self, body: &[u8]) -> String {
        match self {
            Credentials::Bearer(t) => format!("Bearer {t}"),
            Credentials::SshKey(key) => {
                let hash = Sha256::digest(body);
                let sig = key.sign(&hash);
                format!(
                    "{}:{}",
                    hex::encode(key.verifying_key().as_bytes()),
                    hex::encode(sig.to_bytes())
                )
            }
        }
    }
}

/// The key re-wrapped at 70 columns: keys wrapped at other widths (64 is
/// common) are valid OpenSSH, but the PEM parser insists on 70.
fn rewrap(text: &str) -> String {
    let body: String = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(70)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// The algorithm of an OpenSSH private key this build cannot parse (RSA,
/// ECDSA, ...), read from the key's public header; never its secret part.
fn other_algorithm(text: &str) -> Option<String> {
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let bytes = B64.decode(body).ok()?;
    let header = bytes.get(..bytes.len().min(160))?;
    let header = String::from_utf8_lossy(header);
    [
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "ssh-dss",
        "sk-ssh-ed25519",
        "sk-ecdsa",
    ]
    .into_iter()
    .find(|a| header.contains(a))
    .map(str::to_string)
}

/// `sha-256=:<base64(sha256(body))>:`
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", B64.encode(Sha256::digest(body)))
}

fn signature_params(created: u64, key_id: &str) -> String {
    format!(
        r#"("@method" "@request-target" "content-digest");created={created};keyid="{key_id}";alg="ed25519""#
    )
}

/// The four-line signature base (no trailing newline).
pub fn signature_base(method: &str, request_target: &str, digest: &str, params: &str) -> String {
    format!(
        "\"@method\": {method}\n\"@request-target\": {request_target}\n\"content-digest\": {digest}\n\"@signature-params\": {params}"
    )
}

/// Parses an OpenSSH Ed25519 public key (`ssh-ed25519 AAAA... comment`).
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let key = ssh_key::PublicKey::from_openssh(text.trim())
        .map_err(|e| format!("not an OpenSSH public key ({e})"))?;
    match key.key_data() {
        ssh_key::public::KeyData::Ed25519(pk) => {
            VerifyingKey::from_bytes(&pk.0).map_err(|e| format!("not a valid Ed25519 key ({e})"))
        }
        other => Err(format!("a {} key, not ssh-ed25519", other.algorithm())),
    }
}

/// Verifies a v2 request's headers against `keys`; returns the key id used.
pub fn verify_v2(
    keys: &[VerifyingKey],
    method: &str,
    request_target: &str,
    body: &[u8],
    digest_header: Option<&str>,
    input_header: Option<&str>,
    signature_header: Option<&str>,
) -> Result<String, String> {
    let digest = digest_header.ok_or("missing Content-Digest")?;
    if digest != content_digest(body) {
        return Err("Content-Digest does not match the body".into());
    }
    let input = input_header.ok_or("missing Signature-Input")?;
    let params = input
        .strip_prefix("encord-sig=")
        .ok_or("Signature-Input is not encord-sig")?;
    let key_id = params
        .split(';')
        .find_map(|p| p.strip_prefix("keyid=\""))
        .and_then(|p| p.strip_suffix('"'))
        .ok_or("Signature-Input has no keyid")?;
    let sig = signature_header
        .and_then(|s| s.strip_prefix("encord-sig=:"))
        .and_then(|s| s.strip_suffix(':'))
        .ok_or("missing or malformed Signature")?;
    let sig = B64.decode(sig).map_err(|_| "Signature is not base64")?;
    let sig = ed25519_dalek::Signature::from_slice(&sig)
        .map_err(|_| "Signature is not an Ed25519 signature")?;
    let key = keys
        .iter()
        .find(|k| hex::encode(k.as_bytes()) == key_id)
        .ok_or("the signing key is not registered")?;
    let base = signature_base(method, request_target, digest, params);
    key.verify(base.as_bytes(), &sig)
        .map_err(|_| "bad signature")?;
    Ok(key_id.to_string())
}

/// Verifies a legacy `Authorization: <keyhex>:<sighex>` over the raw body.
pub fn verify_legacy(
    keys: &[VerifyingKey],
    body: &[u8],
    authorization: Option<&str>,
) -> Result<String, String> {
    let auth = authorization.ok_or("missing Authorization")?;
    let (key_id, sig) = auth
        .split_once(':')
        .ok_or("Authorization is not <key>:<signature>")?;
    let sig = hex::decode(sig).map_err(|_| "signature is not hex")?;
    let sig = ed25519_dalek::Signature::from_slice(&sig).map_err(|_| "not an Ed25519 signature")?;
    let key = keys
        .iter()
        .find(|k| hex::encode(k.as_bytes()) == key_id)
        .ok_or("the signing key is not registered")?;
    key.verify(&Sha256::digest(body), &sig)
        .map_err(|_| "bad signature")?;
    Ok(key_id.to_string())
}

#[cfg(test)]
mod tests {
    //! The test vectors of `docs/encord-wire.md` §1.3 and §1.4.

    use super::*;

    const KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtz
c2gtZWQyNTUxOQAAACADoQe/884Qvh1w3RjnS8CZZ+TWMJulDV8d3IZkElUxuAAA
AIiLFnDSixZw0gAAAAtzc2gtZWQyNTUxOQAAACADoQe/884Qvh1w3RjnS8CZZ+TW
MJulDV8d3IZkElUxuAAAAEAAAQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0e
HwOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4AAAAAAECAwQF
-----END OPENSSH PRIVATE KEY-----";
    const KEY_ID: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";

    fn creds() -> Credentials {
        Credentials::from_openssh(KEY, "test").unwrap()
    }

    fn header<'a>(h: &'a [(&'static str, String)], name: &str) -> &'a str {
        &h.iter().find(|(n, _)| *n == name).unwrap().1
    }

    #[test]
    fn key_id_is_the_raw_public_key_in_hex() {
        assert_eq!(creds().key_id().unwrap(), KEY_ID);
    }

    #[test]
    fn v2_get_without_body() {
        let h = creds().v2_headers(
            "GET",
            "/v2/public/projects/11111111-1111-4111-8111-111111111111",
            b"",
            1_700_000_000,
        );
        assert_eq!(
            header(&h, "content-digest"),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
        assert_eq!(
            header(&h, "signature-input"),
            format!(
                r#"encord-sig=("@method" "@request-target" "content-digest");created=1700000000;keyid="{KEY_ID}";alg="ed25519""#
            )
        );
        assert_eq!(
            header(&h, "signature"),
            "encord-sig=:PJy4CFguq8w7+9NEg9v4YjnjvPhgDfKe7Y/W9IQv6EnkGsitseGvEEQARmnCARkMDLSbfKODEtWOPjaCeucFCA==:"
        );
    }

    #[test]
    fn v2_get_with_query() {
        let h = creds().v2_headers(
            "GET",
            "/v2/public/storage/items/f0000001-0000-4000-8000-000000000000?signUrl=True",
            b"",
            1_700_000_000,
        );
        assert_eq!(
            header(&h, "signature"),
            "encord-sig=:fgUZEyGdGRXJ+FVW55AH9kYPbF5VBMDJoAq5u7ZVU8uso2l7dX0tniMt5XK6Qd022s7CEmh1ztxnNYszO16wCA==:"
        );
    }

    #[test]
    fn v2_post_with_body() {
        let body = br#"{"priorities": [["d0000001-0000-4000-8000-000000000000", 0.7]]}"#;
        let h = creds().v2_headers(
            "POST",
            "/v2/public/projects/11111111-1111-4111-8111-111111111111/priorities",
            body,
            1_700_000_000,
        );
        assert_eq!(
            header(&h, "content-digest"),
            "sha-256=:Ni/ROMpKtWM7UrDqNPB/82B9xv4l305/mIVxjjwtz0c=:"
        );
        assert_eq!(
            header(&h, "signature"),
            "encord-sig=:itLWw8iQhqFIw1lAi3YXzN0nSb0rNFLly6IBcBb1m1iOwvqspbdEAZkUx2mr5816QlWddf9L2d2QLc1gmCoyBw==:"
        );
        // And the emulator's verifier accepts it.
        let keys = [creds_verifying()];
        let ok = verify_v2(
            &keys,
            "POST",
            "/v2/public/projects/11111111-1111-4111-8111-111111111111/priorities",
            body,
            Some(header(&h, "content-digest")),
            Some(header(&h, "signature-input")),
            Some(header(&h, "signature")),
        );
        assert_eq!(ok.unwrap(), KEY_ID);
        let tampered = verify_v2(
            &keys,
            "POST",
            "/v2/public/projects/11111111-1111-4111-8111-111111111111/priorities",
            br#"{"priorities": [["d0000001-0000-4000-8000-000000000000", 0.9]]}"#,
            Some(header(&h, "content-digest")),
            Some(header(&h, "signature-input")),
            Some(header(&h, "signature")),
        );
        assert!(tampered.is_err());
    }

    fn creds_verifying() -> VerifyingKey {
        match creds() {
            Credentials::SshKey(k) => k.verifying_key(),
            Credentials::Bearer(_) => unreachable!(),
        }
    }

    #[test]
    fn legacy_signature() {
        let body = br#"{"query_type": "labelrowmetadata", "query_method": "GET", "values": {"uid": null, "payload": {"data_hashes": ["d0000001-0000-4000-8000-000000000000"]}}}"#;
        assert_eq!(
            hex::encode(Sha256::digest(body)),
            "a1dbaf0f800a50c41f0dfb9ab11518a681cda48557b83ced9931f0bb653f07f8"
        );
        let auth = creds().legacy_authorization(body);
        assert_eq!(auth, format!("{KEY_ID}:06150c4eb64a9a2adc0fd31490346185958dea20ebf2927463b0e24869b0c35482ea62077f3f6a4cf725bf8d3c9655221353134a1faf376856fb9e37b551db08"));
        assert!(verify_legacy(&[creds_verifying()], body, Some(&auth)).is_ok());
        assert!(verify_legacy(&[creds_verifying()], b"{}", Some(&auth)).is_err());
    }

    #[test]
    fn bad_keys_are_named_without_their_content() {
        let err = Credentials::from_openssh("not a key at all", "in ENCORD_SSH_KEY")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("in ENCORD_SSH_KEY") && !err.contains("not a key at all"),
            "{err}"
        );
        assert!(
            format!("{:?}", creds()).contains(KEY_ID)
                && !format!("{:?}", creds()).contains("OPENSSH")
        );
    }

    #[test]
    fn environment_precedence_is_encord_agents() {
        let dir = std::env::temp_dir().join(format!("rh-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("key");
        std::fs::write(&file, KEY).unwrap();
        let f = file.to_str().unwrap().to_string();
        // Content wins over the file.
        let env = |k: &str| match k {
            "ENCORD_SSH_KEY" => Some(KEY.to_string()),
            "ENCORD_SSH_KEY_FILE" => Some("/nonexistent".to_string()),
            _ => None,
        };
        assert!(Credentials::resolve(None, None, env).is_ok());
        // A path in the content variable is refused.
        let env = |k: &str| (k == "ENCORD_SSH_KEY").then(|| f.clone());
        assert!(matches!(
            Credentials::resolve(None, None, env),
            Err(AuthError::PathInContent)
        ));
        // The file variable must name a file.
        let env = |k: &str| (k == "ENCORD_SSH_KEY_FILE").then(|| "/nonexistent/key".to_string());
        assert!(matches!(
            Credentials::resolve(None, None, env),
            Err(AuthError::NotAFile(_))
        ));
        assert!(matches!(
            Credentials::resolve(None, None, |_| None),
            Err(AuthError::Missing)
        ));
        std::fs::remove_dir_all(&dir).ok();
    }
}
