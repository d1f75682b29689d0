//! `encord:agent/settings`: the environment variables the operator granted
//! with `--env NAME`, read by name (the same values as wasi:cli's
//! environment, which some toolchains read only when the component is
//! built).

use std::sync::Arc;

use crate::engine::bindings::wit::settings::Host;
use crate::engine::Grants;

pub(crate) struct Settings {
    grants: Arc<Grants>,
}

impl Settings {
    pub(crate) fn new(grants: Arc<Grants>) -> Settings {
        Settings { grants }
    }
}

impl Host for Settings {
    fn get(&mut self, name: String) -> Option<String> {
        self.grants
            .env
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_granted_variables_are_seen() {
        let grants = Grants {
            env: vec![("API_BASE".into(), "http://127.0.0.1:9".into())],
            ..Grants::default()
        };
        let mut s = Settings::new(Arc::new(grants));
        assert_eq!(
            s.get("API_BASE".into()).as_deref(),
            Some("http://127.0.0.1:9")
        );
        assert_eq!(s.get("HOME".into()), None);
    }
}
