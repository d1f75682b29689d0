use encord_labels::LabelRow;

use crate::AgentError;

/// Where a task goes after its handler ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Leave the task in its stage.
    Stay,
    /// Move the task along this pathway (a name, or a uuid).
    Pathway(String),
}

/// What a handler decided for one task: a route, and optionally labels to
/// save and a priority in [0, 1].
#[derive(Debug, Clone)]
pub struct Outcome {
    pub route: Route,
    pub label_row: Option<LabelRow>,
    pub priority: Option<f32>,
}

impl Outcome {
    /// Leave the task where it is.
    pub fn stay() -> Outcome {
        Outcome {
            route: Route::Stay,
            label_row: None,
            priority: None,
        }
    }

    /// Move the task along the pathway with this name or uuid.
    pub fn pathway(name_or_uuid: impl Into<String>) -> Outcome {
        Outcome {
            route: Route::Pathway(name_or_uuid.into()),
            ..Outcome::stay()
        }
    }

    /// Also save this label row.
    pub fn with_label_row(mut self, row: LabelRow) -> Outcome {
        self.label_row = Some(row);
        self
    }

    /// Also set the task's priority (0.0 to 1.0; 0.0 is honoured).
    pub fn with_priority(mut self, priority: f32) -> Outcome {
        self.priority = Some(priority);
        self
    }
}

/// What a stage handler may return.
#[diagnostic::on_unimplemented(
    message = "a stage handler cannot return `{Self}`",
    label = "not a stage outcome",
    note = "return an Outcome, a pathway name (&str or String), Option of those (None stays), (), or a Result of those"
)]
pub trait IntoOutcome {
    fn into_outcome(self) -> Result<Outcome, AgentError>;
}

impl IntoOutcome for Outcome {
    fn into_outcome(self) -> Result<Outcome, AgentError> {
        Ok(self)
    }
}

impl IntoOutcome for () {
    fn into_outcome(self) -> Result<Outcome, AgentError> {
        Ok(Outcome::stay())
    }
}

impl IntoOutcome for &str {
    fn into_outcome(self) -> Result<Outcome, AgentError> {
        Ok(Outcome::pathway(self))
    }
}

impl IntoOutcome for String {
    fn into_outcome(self) -> Result<Outcome, AgentError> {
        Ok(Outcome::pathway(self))
    }
}

impl<T: IntoOutcome> IntoOutcome for Option<T> {
    fn into_outcome(self) -> Result<Outcome, AgentError> {
        match self {
            Some(t) => t.into_outcome(),
            None => Ok(Outcome::stay()),
        }
    }
}

impl<T: IntoOutcome, E: std::fmt::Display> IntoOutcome for Result<T, E> {
    fn into_outcome(self) -> Result<Outcome, AgentError> {
        match self {
            Ok(t) => t.into_outcome(),
            Err(e) => Err(AgentError::msg(e)),
        }
    }
}
