//! `encord:agent/labels`: the task's label row.

use crate::engine::encord::agent::labels::Host;
use crate::engine::TaskState;

impl Host for TaskState {
    fn label_row(&mut self) -> Result<String, String> {
        match &self.cx.label_row {
            Some(row) => Ok(row.to_string()),
            None => Err(
                "no label row was loaded for this task: the stage must declare the `label-row` need (take a LabelRow parameter)"
                    .into(),
            ),
        }
    }
}
