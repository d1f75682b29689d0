//! Ontologies: any input parses or fails cleanly; a parsed ontology can
//! check a label row without panicking.
#![no_main]

use std::sync::Arc;

use encord_labels::{LabelRow, Ontology};
use libfuzzer_sys::fuzz_target;

const ROW: &str = include_str!("../seeds/label_row/image_label.json");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(ontology) = Ontology::parse(text) else {
        return;
    };
    if let Ok(row) = LabelRow::parse(ROW, Arc::new(ontology)) {
        let _ = row.validate();
    }
});
