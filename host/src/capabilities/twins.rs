//! `encord:agent/twins`: the same data's label row in other projects,
//! loaded in bulk for the batch, and saved back to them; a twin task moved
//! along a pathway of its agent stage. Saves and moves are checked here,
//! when the agent asks, and collected for the runner to write with the
//! task's own writes.

use std::collections::HashMap;
use std::sync::Arc;

use encord_labels::outcome::{self, RowSave};

use crate::engine::bindings::wit::twins::{Host, Twin, TwinStage};
use crate::engine::{TwinMove, TwinProject, TwinSave};
use crate::platform::{Task, TwinRecord, WorkflowStage};

/// The twins a call may read and write, and what it asked to write.
pub(crate) struct Twins {
    /// The data's label row (and task) per twin project the stage declared;
    /// `None`: the twin project has no such data.
    found: Arc<HashMap<String, Option<TwinRecord>>>,
    /// Every twin project the agent's stages declared, by project hash.
    projects: Arc<HashMap<String, Arc<TwinProject>>>,
    /// The task's data hash (what a save must be for).
    data_hash: String,
    /// One per project, the last asked for.
    pub(crate) saves: Vec<TwinSave>,
    pub(crate) moves: Vec<TwinMove>,
}

impl Twins {
    pub(crate) fn new(
        found: Arc<HashMap<String, Option<TwinRecord>>>,
        projects: Arc<HashMap<String, Arc<TwinProject>>>,
        data_hash: String,
    ) -> Twins {
        Twins {
            found,
            projects,
            data_hash,
            saves: Vec::new(),
            moves: Vec::new(),
        }
    }

    /// The twin project `project_hash`, if this task's stage declared it.
    fn declared(&self, project_hash: &str) -> Result<&TwinProject, String> {
        if !self.found.contains_key(project_hash) {
            return Err(undeclared(project_hash));
        }
        self.projects
            .get(project_hash)
            .map(|p| p.as_ref())
            .ok_or_else(|| undeclared(project_hash))
    }

    /// The twin task of this data in `project_hash` and the stage it sits
    /// in, if the twin spec included tasks and there is one.
    fn twin_task(&self, project_hash: &str) -> Result<Option<(&Task, &WorkflowStage)>, String> {
        let twin = self.declared(project_hash)?;
        let Some(Some(found)) = self.found.get(project_hash) else {
            return Ok(None);
        };
        let Some(t) = &found.task else {
            return Ok(None);
        };
        let stage = twin.workflow.stage(&t.stage_uuid).ok_or_else(|| {
            format!(
                "the twin task sits in stage `{}`, which twin project `{}`'s workflow lacks",
                t.stage_uuid, twin.title
            )
        })?;
        Ok(Some((&t.task, stage)))
    }
}

fn undeclared(project_hash: &str) -> String {
    format!(
        "twin project `{project_hash}` was not declared for this stage: declare it in the stage's twins (a Twin<P> parameter)"
    )
}

impl Host for Twins {
    fn find(&mut self, project_hash: String) -> Result<Option<Twin>, String> {
        let Some(found) = self.found.get(&project_hash) else {
            return Err(undeclared(&project_hash));
        };
        Ok(found.as_ref().map(|t| Twin {
            label_row: t.label_row.clone(),
            task: t.task.as_ref().map(|t| (&t.task).into()),
            stage_uuid: t.task.as_ref().map(|t| t.stage_uuid.clone()),
        }))
    }

    fn ontology(&mut self, project_hash: String) -> Result<String, String> {
        Ok(self.declared(&project_hash)?.ontology_json.clone())
    }

    fn save(&mut self, project_hash: String, label_row: String) -> Result<(), String> {
        let twin = self.declared(&project_hash)?;
        if !matches!(self.found.get(&project_hash), Some(Some(_))) {
            return Err(format!(
                "twin project `{}` has no label row for data `{}`: nothing to save to",
                twin.title, self.data_hash
            ));
        }
        outcome::check_label_row(
            &label_row,
            twin.ontology.clone(),
            &self.data_hash,
            RowSave::Twin(&twin.title),
        )?;
        self.saves.retain(|s| s.project_hash != project_hash);
        self.saves.push(TwinSave {
            project_hash,
            label_row,
        });
        Ok(())
    }

    fn stage(&mut self, project_hash: String) -> Result<Option<TwinStage>, String> {
        Ok(self.twin_task(&project_hash)?.map(|(_, s)| TwinStage {
            uuid: s.uuid.clone(),
            title: s.title.clone(),
            stage_type: s.stage_type.clone(),
            pathways: s.pathways().iter().map(Into::into).collect(),
        }))
    }

    fn proceed(&mut self, project_hash: String, pathway: String) -> Result<(), String> {
        let title = self.declared(&project_hash)?.title.clone();
        let Some((task, stage)) = self.twin_task(&project_hash)? else {
            return Err(format!(
                "twin project `{title}` has no task for this data (or the twin was declared without its task): nothing to move"
            ));
        };
        if stage.stage_type != "AGENT" {
            return Err(format!(
                "the twin task sits in `{}`, a {} stage of twin project `{title}`: only a task in an agent stage can proceed along a pathway",
                stage.title, stage.stage_type
            ));
        }
        let found = outcome::resolve_pathway(
            format_args!("stage `{}` of twin project `{title}`", stage.title),
            stage.pathways(),
            &pathway,
        )?;
        let twin_move = TwinMove {
            project_hash: project_hash.clone(),
            stage_uuid: stage.uuid.clone(),
            task_uuid: task.uuid.clone(),
            pathway_uuid: found.uuid.clone(),
        };
        self.moves.retain(|m| m.project_hash != project_hash);
        self.moves.push(twin_move);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capabilities::tasks::tests::task;
    use crate::platform::{TwinTask, Workflow};

    const ONTOLOGY: &str = r##"{"objects":[{"id":"1","name":"car","color":"#FF0000","shape":"bounding_box","featureNodeHash":"car00001","attributes":[]}],"classifications":[]}"##;

    fn row(data_hash: &str) -> String {
        serde_json::json!({
            "label_hash": "l1", "data_hash": data_hash, "data_title": "a.png",
            "data_type": "image", "object_answers": {}, "classification_answers": {},
            "data_units": {}
        })
        .to_string()
    }

    fn workflow() -> Workflow {
        serde_json::from_value(serde_json::json!({"stages": [
            {"stageType": "AGENT", "uuid": "ts1", "title": "review", "pathways": [
                {"uuid": "tp1", "title": "accept", "destinationUuid": "ts2"}]},
            {"stageType": "ANNOTATION", "uuid": "ts2", "title": "annotate"}
        ]}))
        .unwrap()
    }

    /// A stage that declared twin project `p2` (with its task, sitting in
    /// `stage`) and `p3` (no such data there).
    fn twins(stage: &str) -> Twins {
        let found = HashMap::from([
            (
                "p2".to_string(),
                Some(TwinRecord {
                    label_row: row("d1"),
                    task: Some(TwinTask {
                        task: task("tt1", "a@example.com"),
                        stage_uuid: stage.into(),
                    }),
                }),
            ),
            ("p3".to_string(), None),
        ]);
        let project = |title: &str| {
            Arc::new(TwinProject {
                title: title.into(),
                ontology_json: ONTOLOGY.into(),
                ontology: Arc::new(encord_labels::Ontology::parse(ONTOLOGY).unwrap()),
                workflow: workflow(),
            })
        };
        let projects = HashMap::from([
            ("p2".to_string(), project("Twin")),
            ("p3".to_string(), project("Empty twin")),
            ("p4".to_string(), project("Other stage's twin")),
        ]);
        Twins::new(Arc::new(found), Arc::new(projects), "d1".into())
    }

    #[test]
    fn a_declared_twin_is_found_with_its_task_and_stage() {
        let mut t = twins("ts1");
        let twin = t.find("p2".into()).unwrap().expect("p2 has the data");
        assert_eq!(twin.label_row, row("d1"));
        assert_eq!(twin.task.as_ref().map(|t| t.uuid.as_str()), Some("tt1"));
        assert_eq!(twin.stage_uuid.as_deref(), Some("ts1"));
        assert!(t.find("p3".into()).unwrap().is_none(), "no such data in p3");
        assert_eq!(t.ontology("p2".into()).unwrap(), ONTOLOGY);
        let stage = t.stage("p2".into()).unwrap().unwrap();
        assert_eq!(
            (stage.title.as_str(), stage.stage_type.as_str()),
            ("review", "AGENT")
        );
        assert_eq!(stage.pathways[0].name, "accept");
    }

    #[test]
    fn a_twin_the_stage_did_not_declare_is_refused_by_name() {
        let mut t = twins("ts1");
        for err in [
            t.find("p4".into()).map(|_| ()).unwrap_err(),
            t.ontology("p4".into()).map(|_| ()).unwrap_err(),
            t.save("p4".into(), row("d1")).unwrap_err(),
            t.proceed("p4".into(), "accept".into()).unwrap_err(),
        ] {
            assert!(
                err.starts_with("twin project `p4` was not declared"),
                "{err}"
            );
        }
        assert!(t.saves.is_empty() && t.moves.is_empty());
    }

    #[test]
    fn a_save_is_checked_against_the_twins_ontology_and_the_last_one_kept() {
        let mut t = twins("ts1");
        let err = t.save("p2".into(), row("other-data")).unwrap_err();
        assert!(err.contains("other-data"), "{err}");
        let err = t.save("p3".into(), row("d1")).unwrap_err();
        assert!(err.contains("has no label row for data `d1`"), "{err}");
        t.save("p2".into(), row("d1")).unwrap();
        t.save("p2".into(), row("d1")).unwrap();
        assert_eq!(
            t.saves,
            vec![TwinSave {
                project_hash: "p2".into(),
                label_row: row("d1"),
            }]
        );
    }

    #[test]
    fn a_twin_task_proceeds_only_along_a_pathway_of_its_agent_stage() {
        let mut t = twins("ts1");
        let err = t.proceed("p2".into(), "reject".into()).unwrap_err();
        assert!(err.contains("reject") && err.contains("accept"), "{err}");
        t.proceed("p2".into(), "accept".into()).unwrap();
        assert_eq!(
            t.moves,
            vec![TwinMove {
                project_hash: "p2".into(),
                stage_uuid: "ts1".into(),
                task_uuid: "tt1".into(),
                pathway_uuid: "tp1".into(),
            }]
        );
        let mut t = twins("ts2");
        let err = t.proceed("p2".into(), "accept".into()).unwrap_err();
        assert!(err.contains("a ANNOTATION stage"), "{err}");
        let err = t.proceed("p3".into(), "accept".into()).unwrap_err();
        assert!(err.contains("has no task for this data"), "{err}");
    }
}
