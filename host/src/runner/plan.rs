//! Stage planning: the agent's manifest matched to the workflow before any
//! task is touched, and the twin projects its stages declared checked.

use super::*;

impl Runner {
    /// Matches the manifest to the workflow: every stage must exist, be
    /// served once, need only what this host serves, and declare only
    /// pathways the stage has.
    pub(super) fn plan(
        &self,
        project: &Project,
        specs: Vec<StageSpec>,
    ) -> Result<Vec<StagePlan>, RunError> {
        if specs.is_empty() {
            return Err(RunError::Manifest(
                "the agent serves no stage: add a #[stage(\"...\")] handler to export_agent!"
                    .into(),
            ));
        }
        let mut plans: Vec<StagePlan> = Vec::new();
        for spec in specs {
            let stage = validate::resolve_stage(project, &spec)
                .map_err(RunError::Manifest)?
                .clone();
            if let Some(other) = plans.iter().find(|p| p.stage.uuid == stage.uuid) {
                return Err(RunError::Manifest(format!(
                    "handlers `{}` and `{}` both serve stage `{}`: a stage can have only one handler",
                    other.spec.handler, spec.handler, stage.title
                )));
            }
            for twin in &spec.twins {
                if !validate::is_uuid(&twin.project_hash) {
                    return Err(RunError::Manifest(format!(
                        "handler `{}` declares twin project `{}`, which is not a project hash (a UUID)",
                        spec.handler, twin.project_hash
                    )));
                }
            }
            for p in &spec.pathways {
                validate::resolve_pathway(&stage, p).map_err(|e| {
                    RunError::Manifest(format!(
                        "handler `{}` declares a pathway the workflow lacks: {e}",
                        spec.handler
                    ))
                })?;
            }
            let context = Arc::new(StageContext {
                uuid: stage.uuid.clone(),
                title: stage.title.clone(),
                pathways: stage.pathways().to_vec(),
            });
            plans.push(StagePlan {
                query: spec.label_rows.clone(),
                spec,
                stage,
                context,
            });
        }
        if !self.options.stages.is_empty() {
            for wanted in &self.options.stages {
                if !plans
                    .iter()
                    .any(|p| &p.stage.title == wanted || p.stage.uuid.eq_ignore_ascii_case(wanted))
                {
                    let served: Vec<&str> = plans.iter().map(|p| p.stage.title.as_str()).collect();
                    return Err(RunError::Option(format!(
                        "--stage `{wanted}` is not served by this agent; it serves: {}",
                        served.join(", ")
                    )));
                }
            }
            plans.retain(|p| {
                self.options
                    .stages
                    .iter()
                    .any(|w| &p.stage.title == w || p.stage.uuid.eq_ignore_ascii_case(w))
            });
        }
        Ok(plans)
    }

    /// Every twin project a stage declares must exist (and be readable),
    /// with an ontology that parses, before any task runs.
    pub(super) async fn check_twins(
        &self,
        plans: &[StagePlan],
    ) -> Result<HashMap<String, Arc<TwinProject>>, RunError> {
        let mut twins = HashMap::new();
        for plan in plans {
            for twin in &plan.spec.twins {
                if twins.contains_key(&twin.project_hash) {
                    continue;
                }
                let declared = |e: &dyn std::fmt::Display| {
                    RunError::Manifest(format!(
                        "handler `{}` declares twin project `{}`: {e}",
                        plan.spec.handler, twin.project_hash
                    ))
                };
                let p = self
                    .platform
                    .project(&twin.project_hash)
                    .await
                    .map_err(|e| declared(&e))?;
                let ontology = Ontology::parse(&p.ontology_json).map_err(|e| {
                    declared(&format!(
                        "its ontology is not one runner-host can read: {e}"
                    ))
                })?;
                twins.insert(
                    twin.project_hash.clone(),
                    Arc::new(TwinProject {
                        title: p.title,
                        ontology_json: p.ontology_json,
                        ontology: Arc::new(ontology),
                        workflow: p.workflow,
                    }),
                );
            }
        }
        Ok(twins)
    }
}
