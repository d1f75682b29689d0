//! `encord:agent/labels`: the task's label row.

use std::sync::Arc;

use crate::engine::bindings::wit::labels::Host;

/// The task's label row, when its stage declared the `label-row` need.
pub(crate) struct Labels {
    row: Option<Arc<str>>,
}

impl Labels {
    pub(crate) fn new(row: Option<Arc<str>>) -> Labels {
        Labels { row }
    }
}

impl Host for Labels {
    fn label_row(&mut self) -> Result<String, String> {
        match &self.row {
            Some(row) => Ok(row.to_string()),
            None => Err(
                "no label row was loaded for this task: the stage must declare the `label-row` need (take a LabelRow parameter)"
                    .into(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_is_served_only_when_it_was_loaded() {
        let mut loaded = Labels::new(Some(Arc::from(r#"{"data_hash":"d1"}"#)));
        assert_eq!(loaded.label_row().unwrap(), r#"{"data_hash":"d1"}"#);
        let err = Labels::new(None).label_row().unwrap_err();
        assert!(err.contains("declare the `label-row` need"), "{err}");
    }
}
