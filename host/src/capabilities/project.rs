//! `encord:agent/project`: the project, its ontology and the running stage.

use crate::engine::encord::agent::project::{Host, Pathway, ProjectInfo, Stage};
use crate::engine::TaskState;

impl Host for TaskState {
    fn info(&mut self) -> ProjectInfo {
        let p = &self.cx.project;
        ProjectInfo {
            project_hash: p.project_hash.clone(),
            title: p.title.clone(),
            description: p.description.clone(),
            ontology_hash: p.ontology_hash.clone(),
        }
    }

    fn ontology(&mut self) -> String {
        self.cx.project.ontology_json.clone()
    }

    fn current_stage(&mut self) -> Option<Stage> {
        self.cx.stage.as_ref().map(|s| Stage {
            uuid: s.uuid.clone(),
            title: s.title.clone(),
            pathways: s
                .pathways
                .iter()
                .map(|(uuid, name, dest)| Pathway {
                    uuid: uuid.clone(),
                    name: name.clone(),
                    destination_uuid: dest.clone(),
                })
                .collect(),
        })
    }
}
