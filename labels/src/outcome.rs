//! The checks made on what an agent returns before anything is written: the
//! pathway it names exists, its priority is in [0, 1], and a label row it
//! saves is under the size limit, this task's, and matches the ontology.
//!
//! One copy, used by the host (`runner-host`, for the task's own outcome and
//! for twin saves) and by the SDK's native test helper (`TestRun`), so a
//! test passes exactly when the host would accept the outcome.

use std::sync::Arc;

use crate::{LabelRow, Ontology};

/// The largest label row an agent may save (Encord's own request limit is
/// of this order); a larger one fails its task and nothing is written.
pub const MAX_LABEL_ROW_BYTES: usize = 32 << 20;

/// A pathway out of a workflow stage, as the checks see it.
pub trait PathwayRef {
    fn uuid(&self) -> &str;
    fn name(&self) -> &str;
}

/// Whether `s` is a UUID (and so names a stage or pathway by uuid).
pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

/// The candidate most like `wanted`, if any is close enough to suggest.
pub fn closest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let wanted = wanted.to_lowercase();
    candidates
        .map(|c| (strsim::jaro_winkler(&wanted, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The pathway that `wanted` names among a stage's `pathways`: a uuid when
/// it parses as one, else an exact name (as encord-agents resolves them).
/// `stage` names the stage in the refusal, e.g. "stage `pre-label`"; it is
/// only formatted when the pathway is not found.
pub fn resolve_pathway<'a, P: PathwayRef>(
    stage: impl std::fmt::Display,
    pathways: &'a [P],
    wanted: &str,
) -> Result<&'a P, String> {
    let by_uuid = is_uuid(wanted);
    pathways
        .iter()
        .find(|p| {
            if by_uuid {
                p.uuid().eq_ignore_ascii_case(wanted)
            } else {
                p.name() == wanted
            }
        })
        .ok_or_else(|| {
            let names: Vec<&str> = pathways.iter().map(|p| p.name()).collect();
            let hint = closest(wanted, names.iter().copied())
                .map(|c| format!("; did you mean `{c}`?"))
                .unwrap_or_default();
            format!(
                "{stage} has no pathway `{wanted}`; its pathways are: {}{hint}",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        })
}

/// A task priority must be a finite number in [0, 1].
pub fn check_priority(priority: f32) -> Result<(), String> {
    if priority.is_finite() && (0.0..=1.0).contains(&priority) {
        Ok(())
    } else {
        Err(format!("priority {priority} is outside [0, 1]"))
    }
}

/// Which save a label row is for, so each refusal names it.
#[derive(Debug, Clone, Copy)]
pub enum RowSave<'a> {
    /// The task's own row, returned in its outcome.
    Returned,
    /// A row saved to the twin project with this title.
    Twin(&'a str),
}

impl RowSave<'_> {
    fn whose(&self) -> String {
        match self {
            RowSave::Returned => "the label row returned".into(),
            RowSave::Twin(title) => format!("the label row saved to twin project `{title}`"),
        }
    }

    fn refused(&self) -> &'static str {
        match self {
            RowSave::Returned => "was not saved",
            RowSave::Twin(_) => "was refused",
        }
    }
}

/// Checks label-row JSON an agent saves: at most [`MAX_LABEL_ROW_BYTES`],
/// valid JSON, for `data_hash`, and matching `ontology`. The parsed row
/// when it passes; otherwise one line saying what is wrong with which save.
pub fn check_label_row(
    json: &str,
    ontology: Arc<Ontology>,
    data_hash: &str,
    save: RowSave<'_>,
) -> Result<LabelRow, String> {
    let whose = save.whose();
    if json.len() > MAX_LABEL_ROW_BYTES {
        return Err(format!(
            "{whose} is {} MiB, over the {} MiB limit; nothing was saved",
            json.len() >> 20,
            MAX_LABEL_ROW_BYTES >> 20
        ));
    }
    let row = LabelRow::parse(json, ontology).map_err(|e| format!("{whose} is invalid: {e}"))?;
    if row.data_hash() != data_hash {
        return Err(format!(
            "{whose} is for data `{}`, not this task's data `{data_hash}`",
            row.data_hash()
        ));
    }
    row.validate()
        .map_err(|e| format!("{whose} {}: {e}", save.refused()))?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct P(&'static str, &'static str);

    impl PathwayRef for P {
        fn uuid(&self) -> &str {
            self.0
        }
        fn name(&self) -> &str {
            self.1
        }
    }

    const PATHWAYS: [P; 2] = [
        P("6f0b1a2c-0000-4000-8000-000000000001", "to review"),
        P("6f0b1a2c-0000-4000-8000-000000000002", "to triage"),
    ];

    #[test]
    fn a_pathway_is_found_by_name_or_by_uuid_in_any_case() {
        assert_eq!(
            resolve_pathway("stage `s`", &PATHWAYS, "to triage")
                .unwrap()
                .1,
            "to triage"
        );
        let upper = PATHWAYS[0].0.to_uppercase();
        assert_eq!(
            resolve_pathway("stage `s`", &PATHWAYS, &upper).unwrap().1,
            "to review"
        );
    }

    #[test]
    fn an_unknown_pathway_lists_the_stages_pathways_and_suggests_the_closest() {
        let e = resolve_pathway("stage `pre-label`", &PATHWAYS, "to reveiw")
            .err()
            .unwrap();
        assert_eq!(
            e,
            "stage `pre-label` has no pathway `to reveiw`; its pathways are: to review, to triage; did you mean `to review`?"
        );
        let none: [P; 0] = [];
        let e = resolve_pathway("stage `end`", &none, "on").err().unwrap();
        assert_eq!(e, "stage `end` has no pathway `on`; its pathways are: none");
    }

    #[test]
    fn a_name_that_happens_to_be_a_uuid_is_matched_as_a_uuid_only() {
        let e = resolve_pathway(
            "stage `s`",
            &PATHWAYS,
            "6f0b1a2c-0000-4000-8000-000000000009",
        );
        assert!(e.is_err());
    }

    #[test]
    fn priorities_outside_zero_to_one_or_not_finite_are_refused() {
        for ok in [0.0, 0.5, 1.0] {
            assert!(check_priority(ok).is_ok(), "{ok}");
        }
        for bad in [-0.01, 1.01, f32::NAN, f32::INFINITY] {
            assert_eq!(
                check_priority(bad).err().unwrap(),
                format!("priority {bad} is outside [0, 1]")
            );
        }
    }

    fn ontology() -> Arc<Ontology> {
        Arc::new(
            Ontology::parse(r##"{"objects": [{"id": "1", "name": "Car", "color": "#D33115", "shape": "bounding_box", "featureNodeHash": "c4r00001", "attributes": []}], "classifications": []}"##)
                .unwrap(),
        )
    }

    fn row(data_hash: &str, feature: &str) -> String {
        format!(
            r##"{{"label_hash": "l", "data_hash": "{data_hash}", "data_title": "a.png", "data_type": "image",
               "object_answers": {{}}, "classification_answers": {{}}, "object_actions": {{}},
               "data_units": {{"{data_hash}": {{"data_hash": "{data_hash}", "data_title": "a.png", "data_type": "image/png",
               "data_sequence": 0, "width": 10, "height": 10, "labels": {{"objects": [{{"objectHash": "o1",
               "featureHash": "{feature}", "name": "Car", "value": "car", "color": "#D33115", "shape": "bounding_box",
               "confidence": 1, "createdBy": "a", "createdAt": "x", "manualAnnotation": false,
               "boundingBox": {{"x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2}}}}], "classifications": []}}}}}}}}"##
        )
    }

    #[test]
    fn a_row_for_this_task_that_matches_the_ontology_passes() {
        let r =
            check_label_row(&row("d1", "c4r00001"), ontology(), "d1", RowSave::Returned).unwrap();
        assert_eq!(r.data_hash(), "d1");
    }

    #[test]
    fn each_refusal_names_the_save_it_is_for() {
        let e = check_label_row(&row("d2", "c4r00001"), ontology(), "d1", RowSave::Returned);
        assert_eq!(
            e.err().unwrap(),
            "the label row returned is for data `d2`, not this task's data `d1`"
        );
        let e = check_label_row(&row("d1", "nope"), ontology(), "d1", RowSave::Twin("GT"))
            .err()
            .unwrap();
        assert!(
            e.starts_with("the label row saved to twin project `GT` was refused: "),
            "{e}"
        );
        let e = check_label_row("{", ontology(), "d1", RowSave::Returned)
            .err()
            .unwrap();
        assert!(e.starts_with("the label row returned is invalid: "), "{e}");
    }

    #[test]
    fn a_row_over_the_limit_is_refused_before_it_is_parsed() {
        let big = " ".repeat(MAX_LABEL_ROW_BYTES + 1);
        let e = check_label_row(&big, ontology(), "d1", RowSave::Returned)
            .err()
            .unwrap();
        assert_eq!(
            e,
            "the label row returned is 32 MiB, over the 32 MiB limit; nothing was saved"
        );
    }
}
