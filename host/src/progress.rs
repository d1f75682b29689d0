//! Progress bars on a terminal: one per stage (tasks done, tasks/s) and one
//! per batch. Log lines are printed above the bars.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::runner::{Progress, StageSummary};

pub struct Bars {
    multi: MultiProgress,
    stages: Mutex<HashMap<String, (ProgressBar, ProgressBar)>>,
}

impl Bars {
    pub fn new(multi: MultiProgress) -> Bars {
        Bars {
            multi,
            stages: Mutex::new(HashMap::new()),
        }
    }

    fn with<R>(&self, stage: &str, f: impl FnOnce(&ProgressBar, &ProgressBar) -> R) -> Option<R> {
        let stages = self.stages.lock().unwrap_or_else(|p| p.into_inner());
        stages.get(stage).map(|(s, b)| f(s, b))
    }
}

impl Progress for Bars {
    fn stage_started(&self, stage: &str) {
        let s = self.multi.add(ProgressBar::new_spinner());
        s.set_style(
            ProgressStyle::with_template(
                "{spinner} stage `{prefix}`: {pos} task(s) done, {per_sec} [{elapsed}]",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        s.set_prefix(stage.to_string());
        s.enable_steady_tick(std::time::Duration::from_millis(120));
        let b = self.multi.add(ProgressBar::new(0));
        b.set_style(
            ProgressStyle::with_template("  batch {prefix} [{bar:30}] {pos}/{len} {per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        self.stages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(stage.to_string(), (s, b));
    }

    fn batch_started(&self, stage: &str, index: usize, tasks: usize) {
        self.with(stage, |_, b| {
            b.reset();
            b.set_length(tasks as u64);
            b.set_prefix(index.to_string());
        });
    }

    fn task_finished(&self, stage: &str) {
        self.with(stage, |s, b| {
            s.inc(1);
            b.inc(1);
        });
    }

    fn stage_finished(&self, summary: &StageSummary) {
        if let Some((s, b)) = self
            .stages
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&summary.stage)
        {
            b.finish_and_clear();
            s.finish_and_clear();
            self.multi.remove(&b);
            self.multi.remove(&s);
        }
    }
}

/// A log writer that prints above the bars instead of through them.
#[derive(Clone)]
pub struct BarWriter(pub MultiProgress);

impl Write for BarWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.suspend(|| std::io::stderr().write_all(buf))?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
