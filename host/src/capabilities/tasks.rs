//! `encord:agent/tasks`: who and when, for the task being processed and for
//! the twin tasks found for it.

use crate::engine::encord::agent::tasks::{Host, TaskDetails};
use crate::engine::TaskState;
use crate::platform::Task;

fn details(t: &Task) -> TaskDetails {
    TaskDetails {
        assignee: t.assignee.clone(),
        last_actioned_by: t.last_actioned_by.clone(),
        created_at: t.created_at.clone(),
        updated_at: t.updated_at.clone(),
    }
}

impl Host for TaskState {
    fn details(&mut self, task_uuid: String) -> Result<TaskDetails, String> {
        if let Some(t) = self.cx.task.as_deref().filter(|t| t.uuid == task_uuid) {
            return Ok(details(t));
        }
        self.cx
            .twins
            .values()
            .flatten()
            .filter_map(|twin| twin.task.as_ref())
            .find(|(t, _)| t.uuid == task_uuid)
            .map(|(t, _)| details(t))
            .ok_or_else(|| {
                format!(
                    "task `{task_uuid}` is neither the task being processed nor a twin task found for it"
                )
            })
    }
}
