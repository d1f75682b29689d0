//! `encord:agent/log`: guest log lines into the host's log, tagged with the
//! task and stage.

use crate::engine::encord::agent::log::{Host, Level};
use crate::engine::TaskState;

/// A guest cannot flood the log with one line.
const MAX_LINE: usize = 4096;

impl Host for TaskState {
    fn log(&mut self, level: Level, message: String) {
        let mut message = message;
        if message.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let task = self.cx.task_uuid.as_deref().unwrap_or("-");
        let stage = self.cx.stage.as_ref().map_or("-", |s| s.title.as_str());
        match level {
            Level::Trace => tracing::trace!(target: "agent", task, stage, "{message}"),
            Level::Debug => tracing::debug!(target: "agent", task, stage, "{message}"),
            Level::Info => tracing::info!(target: "agent", task, stage, "{message}"),
            Level::Warn => tracing::warn!(target: "agent", task, stage, "{message}"),
            Level::Error => tracing::error!(target: "agent", task, stage, "{message}"),
        }
    }
}
