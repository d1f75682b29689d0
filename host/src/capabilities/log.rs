//! `encord:agent/log`: guest log lines into the host's log, tagged with the
//! task and stage.

use std::sync::Arc;

use crate::engine::bindings::wit::log::{Host, Level};
use crate::engine::StageContext;
use crate::platform::Task;

/// A guest cannot flood the log with one line.
const MAX_LINE: usize = 4096;

/// What a call's log lines are tagged with.
pub(crate) struct Log {
    task: Option<Arc<Task>>,
    stage: Option<Arc<StageContext>>,
}

impl Log {
    pub(crate) fn new(task: Option<Arc<Task>>, stage: Option<Arc<StageContext>>) -> Log {
        Log { task, stage }
    }
}

/// `message` cut to [`MAX_LINE`] bytes (on a character boundary), with an
/// ellipsis where it was cut.
fn bounded(mut message: String) -> String {
    if message.len() > MAX_LINE {
        let mut cut = MAX_LINE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}

impl Host for Log {
    fn log(&mut self, level: Level, message: String) {
        let message = bounded(message);
        let task = self.task.as_ref().map_or("-", |t| t.uuid.as_str());
        let stage = self.stage.as_ref().map_or("-", |s| s.title.as_str());
        match level {
            Level::Trace => tracing::trace!(target: "agent", task, stage, "{message}"),
            Level::Debug => tracing::debug!(target: "agent", task, stage, "{message}"),
            Level::Info => tracing::info!(target: "agent", task, stage, "{message}"),
            Level::Warn => tracing::warn!(target: "agent", task, stage, "{message}"),
            Level::Error => tracing::error!(target: "agent", task, stage, "{message}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_is_cut_on_a_character_boundary() {
        assert_eq!(bounded("short".into()), "short");
        let long = "é".repeat(MAX_LINE); // two bytes each
        let cut = bounded(long);
        assert!(cut.ends_with('…'));
        assert!(cut.len() <= MAX_LINE + '…'.len_utf8(), "{}", cut.len());
        assert_eq!(cut.trim_end_matches('…').chars().count(), MAX_LINE / 2);
        let exact = "a".repeat(MAX_LINE);
        assert_eq!(
            bounded(exact.clone()),
            exact,
            "a line at the bound is kept whole"
        );
    }

    /// The log lines written while `f` runs.
    fn captured(f: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = sink.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn a_line_is_tagged_with_its_task_and_stage_at_its_level() {
        let out = captured(|| {
            let task = Task {
                uuid: "t1".into(),
                ..Task::default()
            };
            let stage = crate::capabilities::project::tests::stage();
            Log::new(Some(Arc::new(task)), Some(stage)).log(Level::Warn, "hello".into());
            Log::new(None, None).log(Level::Debug, "from the manifest".into());
        });
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines[0].contains("WARN"), "{out}");
        assert!(
            lines[0].contains("task=\"t1\"") && lines[0].contains("stage=\"pre-label\""),
            "{out}"
        );
        assert!(lines[0].contains("agent: hello"), "{out}");
        assert!(
            lines[1].contains("DEBUG") && lines[1].contains("task=\"-\""),
            "{out}"
        );
    }
}
