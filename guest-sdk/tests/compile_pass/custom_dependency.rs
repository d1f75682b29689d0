//! A custom extractor built from another one; every supported return shape.
use encord_agent_sdk::prelude::*;

struct ObjectCount(usize);

impl FromContext for ObjectCount {
    fn needs(needs: &mut Needs) {
        LabelRow::needs(needs)
    }
    fn from_context(cx: &mut Context) -> Result<Self, AgentError> {
        Ok(ObjectCount(LabelRow::from_context(cx)?.objects().len()))
    }
}

#[stage("a", include_reviews = true, branch_name = "main", include_object_feature_hashes = ["x"])]
fn a(count: ObjectCount) -> Option<&'static str> {
    (count.0 > 0).then_some("done")
}

#[stage("b")]
fn b(_task: Task, _project: Project, _stage: Stage, _pathways: Pathways, _o: Ontology) {}

#[stage("c")]
fn c(row: Option<LabelRow>) -> Result<String, AgentError> {
    Ok(row.map_or("none".into(), |r| r.data_title().to_string()))
}

export_agent!(a, b, c);

fn main() {
    use encord_agent_sdk::StageHandler;
    assert!(<a as StageHandler>::DEF.needs().label_row);
    assert!(!<b as StageHandler>::DEF.needs().label_row);
    assert!(<a as StageHandler>::DEF.label_row_options.include_reviews);
    assert_eq!(__ENCORD_STAGES.len(), 3);
}
