//! Outcome checks: whatever an agent returns (a pathway name, a priority, a
//! label row), the host's checks answer with a verdict and never panic; an
//! accepted row is this task's, matches the ontology and passes the checks
//! again once written back; an accepted pathway is the one named.
//!
//! Input: the first 4 bytes are the priority (f32, little-endian), then the
//! pathway up to the first newline, then the label row.
#![no_main]

use std::sync::{Arc, OnceLock};

use encord_labels::outcome::{self, PathwayRef, RowSave};
use encord_labels::Ontology;
use libfuzzer_sys::fuzz_target;

struct P(&'static str, &'static str);

impl PathwayRef for P {
    fn uuid(&self) -> &str {
        self.0
    }
    fn name(&self) -> &str {
        self.1
    }
}

const PATHWAYS: [P; 3] = [
    P("7c2a1c1e-4a8b-4d57-9d0e-0d9a6b1f0001", "to triage"),
    P("7c2a1c1e-4a8b-4d57-9d0e-0d9a6b1f0002", "to review"),
    P("7c2a1c1e-4a8b-4d57-9d0e-0d9a6b1f0003", "skip"),
];

/// The data hash of the seed rows (the wire spec's image vector).
const DATA_HASH: &str = "00000000-0000-0000-0000-000000000000";

/// The wire spec's ontology, which the seed rows are labelled against.
fn ontology() -> Arc<Ontology> {
    static O: OnceLock<Arc<Ontology>> = OnceLock::new();
    O.get_or_init(|| {
        Arc::new(Ontology::parse(include_str!("../seeds/ontology/ontology.json")).unwrap())
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let priority = f32::from_le_bytes(data[..4].try_into().unwrap());
    match outcome::check_priority(priority) {
        Ok(()) => assert!((0.0..=1.0).contains(&priority)),
        Err(e) => assert!(e.starts_with("priority "), "{e}"),
    }
    let Ok(rest) = std::str::from_utf8(&data[4..]) else {
        return;
    };
    let (pathway, row) = rest.split_once('\n').unwrap_or((rest, ""));
    match outcome::resolve_pathway("stage `pre-label`", &PATHWAYS, pathway) {
        Ok(p) => assert!(p.name() == pathway || p.uuid().eq_ignore_ascii_case(pathway)),
        Err(e) => assert!(e.starts_with("stage `pre-label` has no pathway"), "{e}"),
    }
    for save in [RowSave::Returned, RowSave::Twin("GT")] {
        match outcome::check_label_row(row, ontology(), DATA_HASH, save) {
            Ok(accepted) => {
                assert_eq!(accepted.data_hash(), DATA_HASH);
                assert!(accepted.validate().is_ok());
                let again = accepted.to_json();
                outcome::check_label_row(&again, ontology(), DATA_HASH, save)
                    .expect("an accepted row, written back, is accepted again");
            }
            Err(e) => assert!(e.starts_with("the label row "), "{e}"),
        }
    }
});
