//! The agent of the scale-out tests: captions each task with its data title
//! and sends it on to `done`, after 10 ms of work, so a queue test can tell
//! from the store which tasks ran and what they saved. Two kinds of title
//! behave differently: `poison-…` always fails, and `long-<ms>-…` works for
//! that many milliseconds (longer than a worker's ack wait).

use encord_agent_sdk::labels::Answer;
use encord_agent_sdk::prelude::*;

#[stage("work", pathways = ["done"])]
fn work(task: Task, mut row: LabelRow) -> Result<Outcome, AgentError> {
    let title = task.data_title.as_str();
    if title.starts_with("poison-") {
        return Err(AgentError::msg(format!("{title} is poison")));
    }
    let ms = title
        .strip_prefix("long-")
        .and_then(|rest| rest.split('-').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(10);
    std::thread::sleep(std::time::Duration::from_millis(ms));
    row.add_classification("Caption", Answer::Text(format!("q:{title}")), [0, 0])?;
    Ok(Outcome::pathway("done").with_label_row(row))
}

export_agent!(work);
