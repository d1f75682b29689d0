//! `encord:agent/tasks`: who and when, for the task being processed and for
//! the twin tasks found for it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::engine::bindings::wit::tasks::{Host, TaskDetails};
use crate::platform::{Task, TwinRecord};

/// The tasks a call may ask about.
pub(crate) struct Tasks {
    task: Option<Arc<Task>>,
    twins: Arc<HashMap<String, Option<TwinRecord>>>,
}

impl Tasks {
    pub(crate) fn new(
        task: Option<Arc<Task>>,
        twins: Arc<HashMap<String, Option<TwinRecord>>>,
    ) -> Tasks {
        Tasks { task, twins }
    }
}

fn details(t: &Task) -> TaskDetails {
    TaskDetails {
        assignee: t.assignee.clone(),
        last_actioned_by: t.last_actioned_by.clone(),
        created_at: t.created_at.clone(),
        updated_at: t.updated_at.clone(),
    }
}

impl Host for Tasks {
    fn details(&mut self, task_uuid: String) -> Result<TaskDetails, String> {
        if let Some(t) = self.task.as_deref().filter(|t| t.uuid == task_uuid) {
            return Ok(details(t));
        }
        self.twins
            .values()
            .flatten()
            .filter_map(|twin| twin.task.as_ref())
            .find(|t| t.task.uuid == task_uuid)
            .map(|t| details(&t.task))
            .ok_or_else(|| {
                format!(
                    "task `{task_uuid}` is neither the task being processed nor a twin task found for it"
                )
            })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::platform::TwinTask;

    pub(crate) fn task(uuid: &str, assignee: &str) -> Task {
        Task {
            uuid: uuid.into(),
            data_hash: "d1".into(),
            data_title: "street-01.png".into(),
            label_branch_name: "main".into(),
            status: "NEW".into(),
            assignee: Some(assignee.into()),
            last_actioned_by: None,
            created_at: "2024-05-01T10:00:00.000000+00:00".into(),
            updated_at: "2024-05-02T10:00:00.000000+00:00".into(),
        }
    }

    #[test]
    fn details_are_served_for_the_task_and_its_twin_tasks_only() {
        let twin = TwinRecord {
            label_row: "{}".into(),
            task: Some(TwinTask {
                task: task("twin-task", "b@example.com"),
                stage_uuid: "s9".into(),
            }),
        };
        let twins = Arc::new(HashMap::from([
            ("p2".to_string(), Some(twin)),
            ("p3".to_string(), None),
        ]));
        let mut tasks = Tasks::new(Some(Arc::new(task("own", "a@example.com"))), twins);
        let own = tasks.details("own".into()).unwrap();
        assert_eq!(own.assignee.as_deref(), Some("a@example.com"));
        assert_eq!(own.created_at, "2024-05-01T10:00:00.000000+00:00");
        assert_eq!(own.updated_at, "2024-05-02T10:00:00.000000+00:00");
        let twin = tasks.details("twin-task".into()).unwrap();
        assert_eq!(twin.assignee.as_deref(), Some("b@example.com"));
        let err = tasks.details("other".into()).unwrap_err();
        assert_eq!(
            err,
            "task `other` is neither the task being processed nor a twin task found for it"
        );
    }
}
