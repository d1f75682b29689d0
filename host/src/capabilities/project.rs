//! `encord:agent/project`: the project, its ontology and the running stage.

use std::sync::Arc;

use crate::engine::bindings::wit::project::{Host, ProjectInfo, Stage};
use crate::engine::{ProjectContext, StageContext};

/// What a call may read of its project and stage.
pub(crate) struct ProjectCap {
    project: Arc<ProjectContext>,
    stage: Option<Arc<StageContext>>,
}

impl ProjectCap {
    pub(crate) fn new(project: Arc<ProjectContext>, stage: Option<Arc<StageContext>>) -> Self {
        ProjectCap { project, stage }
    }
}

impl Host for ProjectCap {
    fn info(&mut self) -> ProjectInfo {
        let p = &self.project;
        ProjectInfo {
            project_hash: p.project_hash.clone(),
            title: p.title.clone(),
            description: p.description.clone(),
            ontology_hash: p.ontology_hash.clone(),
        }
    }

    fn ontology(&mut self) -> String {
        self.project.ontology_json.clone()
    }

    fn current_stage(&mut self) -> Option<Stage> {
        self.stage.as_ref().map(|s| Stage {
            uuid: s.uuid.clone(),
            title: s.title.clone(),
            pathways: s.pathways.iter().map(Into::into).collect(),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::platform::Pathway;

    pub(crate) fn project() -> Arc<ProjectContext> {
        Arc::new(ProjectContext {
            project_hash: "00000000-0000-4000-8000-000000000001".into(),
            title: "Street scenes".into(),
            description: "d".into(),
            ontology_hash: "o1".into(),
            ontology_json: r#"{"objects":[],"classifications":[]}"#.into(),
        })
    }

    pub(crate) fn stage() -> Arc<StageContext> {
        Arc::new(StageContext {
            uuid: "s1".into(),
            title: "pre-label".into(),
            pathways: vec![Pathway {
                uuid: "p1".into(),
                name: "to triage".into(),
                destination_uuid: "s2".into(),
            }],
        })
    }

    #[test]
    fn a_call_reads_its_project_and_the_stage_it_runs_in() {
        let mut cap = ProjectCap::new(project(), Some(stage()));
        let info = cap.info();
        assert_eq!(info.project_hash, "00000000-0000-4000-8000-000000000001");
        assert_eq!(
            (info.title.as_str(), info.ontology_hash.as_str()),
            ("Street scenes", "o1")
        );
        assert_eq!(cap.ontology(), r#"{"objects":[],"classifications":[]}"#);
        let s = cap.current_stage().expect("a task call has a stage");
        assert_eq!((s.uuid.as_str(), s.title.as_str()), ("s1", "pre-label"));
        assert_eq!(s.pathways.len(), 1);
        let p = &s.pathways[0];
        assert_eq!(
            (
                p.uuid.as_str(),
                p.name.as_str(),
                p.destination_uuid.as_str()
            ),
            ("p1", "to triage", "s2")
        );
    }

    #[test]
    fn the_manifest_call_has_no_stage() {
        assert!(ProjectCap::new(project(), None).current_stage().is_none());
    }
}
