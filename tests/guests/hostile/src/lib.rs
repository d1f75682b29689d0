//! A hostile agent: on chosen demo tasks it tries to escape or exhaust the
//! sandbox. Every other task is labelled and routed normally, so the suite
//! can check that the host stays up and the rest of the batch lands.
//!
//! Where the attempt is a probe (files, environment, network), the task
//! fails with a message saying what the guest saw: "denied: ..." when the
//! sandbox held, "SANDBOX BREACH: ..." when it did not.

use std::io::{Read, Write};
use std::time::Duration;

use encord_agent_sdk::http;
use encord_agent_sdk::labels::Answer;
use encord_agent_sdk::prelude::*;

#[stage("pre-label")]
fn pre_label(task: Task, mut row: LabelRow) -> Result<Outcome, AgentError> {
    match task.data_title.as_str() {
        "street-01.png" => spin(),
        "street-02.png" => hoard(),
        "street-03.png" => {
            recurse(0);
            Err(AgentError::msg("recursion returned"))
        }
        "street-04.png" => panic!("hostile panic on street-04"),
        "street-05.png" => {
            let caption = "x".repeat(100 << 20);
            row.add_classification("Caption", Answer::Text(caption), [0, 0])?;
            Ok(Outcome::pathway("to triage").with_label_row(row))
        }
        "street-06.png" => Err(AgentError::msg(
            match std::fs::read_to_string("/etc/passwd") {
                Ok(_) => "SANDBOX BREACH: read /etc/passwd".to_string(),
                Err(e) => format!("denied: read /etc/passwd: {e}"),
            },
        )),
        "street-07.png" => {
            let visible: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
            Err(AgentError::msg(match std::env::var("HOME") {
                Ok(_) => "SANDBOX BREACH: HOME is visible".to_string(),
                Err(_) => format!(
                    "denied: HOME not visible; visible: [{}]",
                    visible.join(", ")
                ),
            }))
        }
        "street-08.png" => Err(AgentError::msg(network())),
        "portrait-04.png" => {
            deep(0);
            Err(AgentError::msg("deep recursion returned"))
        }
        "portrait-01.png" => {
            // Nonsense through an import: a 32 MiB log line.
            encord_agent_sdk::log::info(&"y".repeat(32 << 20));
            label(row)
        }
        "portrait-02.png" => {
            // Blocks in a host call (a WASI clock wait) far past the timeout.
            std::thread::sleep(Duration::from_secs(600));
            Err(AgentError::msg("woke up"))
        }
        "portrait-03.png" => {
            std::fs::write("/data/inside.txt", b"granted")
                .map_err(|e| AgentError::msg(format!("could not write the granted dir: {e}")))?;
            for outside in ["/data/../escaped.txt", "/escaped.txt", "/etc/escaped.txt"] {
                if std::fs::write(outside, b"escaped").is_ok() {
                    return Err(AgentError::msg(format!("SANDBOX BREACH: wrote {outside}")));
                }
            }
            label(row)
        }
        _ => label(row),
    }
}

fn label(mut row: LabelRow) -> Result<Outcome, AgentError> {
    row.add_classification("Quality", Answer::Radio("Good".into()), [0, 0])?;
    Ok(Outcome::pathway("to triage").with_label_row(row))
}

fn spin() -> Result<Outcome, AgentError> {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn hoard() -> Result<Outcome, AgentError> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![7u8; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}

#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u64 {
    std::hint::black_box(recurse(std::hint::black_box(n + 1))) + 1
}

/// Recursion with 4 KiB of locals per call, which live on the stack in
/// linear memory: that stack fills long before wasm's own call stack.
#[allow(unconditional_recursion)]
fn deep(n: u64) -> u64 {
    let locals = std::hint::black_box([n as u8; 4096]);
    std::hint::black_box(deep(std::hint::black_box(n + 1))) + u64::from(locals[7])
}

/// Connects to the granted address (must work) and the denied one (must not).
fn network() -> String {
    let granted = std::env::var("NET_GRANTED").unwrap_or_default();
    let denied = std::env::var("NET_DENIED").unwrap_or_default();
    let ok = match std::net::TcpStream::connect(&granted) {
        Ok(mut s) => {
            let _ = s.write_all(b"ping");
            let mut buf = [0u8; 4];
            match s.read_exact(&mut buf) {
                Ok(()) => format!("granted {granted}: {}", String::from_utf8_lossy(&buf)),
                Err(e) => format!("granted {granted}: no answer ({e})"),
            }
        }
        Err(e) => format!("granted {granted}: FAILED ({e})"),
    };
    let tcp = match std::net::TcpStream::connect(&denied) {
        Ok(_) => format!("SANDBOX BREACH: connected to {denied}; {ok}"),
        Err(e) => format!("{ok}; denied {denied}: {e}"),
    };
    // The same over HTTP (wasi:http): the grant names host and port.
    let fetch = |url: String, allowed: bool| match (http::get(&url), allowed) {
        (Ok(r), true) => format!("{url} answered {} {}", r.status, r.text().unwrap_or("?")),
        (Ok(r), false) => format!("SANDBOX BREACH: {url} answered {}", r.status),
        (Err(e), true) => format!("{url} FAILED ({e})"),
        (Err(e), false) => format!("{url} refused: {e}"),
    };
    format!(
        "{tcp}; {}; {}",
        fetch(format!("http://{granted}/"), true),
        fetch(format!("http://{denied}/"), false)
    )
}

export_agent!(pre_label);
