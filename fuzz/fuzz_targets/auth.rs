//! Authentication: any OpenSSH private or public key text parses or fails
//! with an error that never repeats the key; a private key that parses signs
//! requests of both API families that verify against its own public key; any
//! signature headers a client sends are verified or refused without a panic
//! (the emulator checks every request this way).
//!
//! Input: key text, then (after a NUL byte) the headers a request carries,
//! one per line: Content-Digest, Signature-Input, Signature, Authorization.
#![no_main]

use encord_auth::{parse_public_key, verify_legacy, verify_v2, Credentials};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (key, headers) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(key) = std::str::from_utf8(key) else {
        return;
    };
    let public = parse_public_key(key).ok();
    match Credentials::from_openssh(key, "in the fuzz input") {
        Ok(creds) => {
            let body = br#"{"fuzz": true}"#;
            let target = "/v2/public/projects/p/workflow/stages/s/tasks";
            let signed = creds.v2_headers("GET", target, body, 1_700_000_000);
            let get = |name: &str| signed.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
            if let Credentials::SshKey(k) = &creds {
                let keys = [k.verifying_key()];
                let id = verify_v2(
                    &keys,
                    "GET",
                    target,
                    body,
                    get("content-digest"),
                    get("signature-input"),
                    get("signature"),
                )
                .expect("a request signed with a parsed key verifies");
                assert_eq!(Some(id.clone()), creds.key_id());
                let auth = creds.legacy_authorization(body);
                assert_eq!(verify_legacy(&keys, body, Some(&auth)).unwrap(), id);
                assert!(
                    verify_legacy(&keys, b"another body", Some(&auth)).is_err(),
                    "a signature covers its body"
                );
            }
        }
        Err(e) => {
            let message = e.to_string();
            // The error names the key's place, never its content: no line
            // of key material (base64, as in the key's body) comes back.
            let base64 = |l: &&str| {
                l.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
            };
            for line in key.lines().map(str::trim).filter(|l| l.len() >= 16).filter(base64) {
                assert!(!message.contains(line), "the error repeats the key: {message}");
            }
        }
    }
    // Whatever headers arrive, verification answers without panicking.
    let headers = String::from_utf8_lossy(headers);
    let mut lines = headers.lines();
    let (digest, input, signature, authorization) =
        (lines.next(), lines.next(), lines.next(), lines.next());
    let keys: Vec<_> = public.into_iter().collect();
    let _ = verify_v2(&keys, "POST", "/public", b"{}", digest, input, signature);
    let _ = verify_legacy(&keys, b"{}", authorization);
});
