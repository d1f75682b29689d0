//! Test guest: routes on who last acted on the task (encord-agents'
//! annotator-routing notebook, on `last_actioned_by`), and moves the same
//! data's task in a twin project (`TWIN_PROJECT`, granted with `--env`)
//! along its `done` pathway, as encord-agents' `twin.task.proceed(...)`
//! does. A twin task outside an agent stage is left where it is; a twin
//! task in an agent stage without a `done` pathway is refused by the host,
//! failing the task.

use encord_agent_sdk::prelude::*;
use encord_agent_sdk::TaskDetails;

pub struct Twinned;

impl TwinProject for Twinned {
    const INCLUDE_TASK: bool = true;
    fn project_hash() -> String {
        std::env::var("TWIN_PROJECT").unwrap_or_default()
    }
}

#[stage("route", pathways = ["Expert", "Novice"])]
pub fn route(
    details: TaskDetails,
    twin: Option<Twin<Twinned>>,
) -> Result<&'static str, AgentError> {
    if details.created_at.is_empty() || details.updated_at.is_empty() {
        return Err(AgentError::msg("the task has no created/updated time"));
    }
    if let Some(twin) = twin {
        if let Some(stage) = twin.stage()? {
            if stage.stage_type == "AGENT" {
                twin.proceed("done")?;
            }
        }
    }
    let expert = details
        .last_actioned_by
        .as_deref()
        .is_some_and(|who| who.contains("expert"));
    Ok(if expert { "Expert" } else { "Novice" })
}

export_agent!(route);
