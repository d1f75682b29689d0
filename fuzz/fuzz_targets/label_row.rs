//! Label rows: any input parses or fails cleanly; a row that parses writes
//! itself back losslessly (a second parse and write give the same text), and
//! validating it against the demo ontology never panics.
#![no_main]

use std::sync::{Arc, OnceLock};

use encord_labels::{LabelRow, Ontology};
use libfuzzer_sys::fuzz_target;

fn ontology() -> Arc<Ontology> {
    static O: OnceLock<Arc<Ontology>> = OnceLock::new();
    O.get_or_init(|| {
        Arc::new(Ontology::parse(include_str!("../../examples/demo-ontology.json")).unwrap())
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(row) = LabelRow::parse(text, ontology()) else {
        return;
    };
    let _ = row.validate();
    let _ = row.objects();
    let once = row.to_json();
    let again = LabelRow::parse(&once, ontology()).expect("a written row parses");
    assert_eq!(again.to_json(), once, "the round trip is lossless");
});
