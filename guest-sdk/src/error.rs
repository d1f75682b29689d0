use std::fmt;

/// A handler's failure. Any error type converts into it with `?`; its
/// message is what the host records for the task.
pub struct AgentError(String);

impl AgentError {
    /// An error with this message.
    pub fn msg(message: impl fmt::Display) -> AgentError {
        AgentError(message.to_string())
    }
}

impl<E: std::error::Error> From<E> for AgentError {
    fn from(e: E) -> AgentError {
        AgentError(e.to_string())
    }
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgentError({:?})", self.0)
    }
}
