//! The agent of the scale-out tests: captions each task with its data title
//! and sends it on to `done`, after 10 ms of work, so a queue test can tell
//! from the store which tasks ran and what they saved. Two kinds of title
//! behave differently: `poison-…` always fails, `long-<ms>-…` waits for
//! that many milliseconds (longer than a worker's ack wait), and
//! `spin-<ms>-…` computes for that long (the scale-out benchmark).

use encord_agent_sdk::labels::Answer;
use encord_agent_sdk::prelude::*;

#[stage("work", pathways = ["done"])]
fn work(task: Task, mut row: LabelRow) -> Result<Outcome, AgentError> {
    let title = task.data_title.as_str();
    if title.starts_with("poison-") {
        return Err(AgentError::msg(format!("{title} is poison")));
    }
    // `spin-<ms>-…`: that many milliseconds of computation (bench/scale.sh).
    if let Some(ms) = title
        .strip_prefix("spin-")
        .and_then(|rest| rest.split('-').next())
        .and_then(|ms| ms.parse::<u64>().ok())
    {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(ms);
        let mut x: u64 = 1;
        while std::time::Instant::now() < until {
            for _ in 0..1000 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
            }
        }
        std::hint::black_box(x);
        row.add_classification("Caption", Answer::Text(format!("q:{title}")), [0, 0])?;
        return Ok(Outcome::pathway("done").with_label_row(row));
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
