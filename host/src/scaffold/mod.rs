//! An agent project outside this repository: `runner-host new` creates one
//! from the templates and SDKs this binary carries, `runner-host build`
//! makes its component with a pinned toolchain installed on first use into
//! the user cache, and `runner-host test` runs its native tests.

pub mod sdk;
pub mod toolchain;

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use include_dir::{include_dir, Dir};

/// The WIT package version the SDKs target (and the host serves).
pub const WIT_VERSION: &str = "0.2.0";

static TEMPLATES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/templates");

/// The Rust guests' build settings (SIMD, initial heap, stack size): the
/// repository's own, given to every new Rust project.
const RUST_CARGO_CONFIG: &str = include_str!("../../../.cargo/config.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Lang {
    Rust,
    Python,
    Js,
}

impl Lang {
    fn dir(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Tool(String),
}

/// The user cache (`$XDG_CACHE_HOME/runner-host`).
pub fn cache() -> Result<PathBuf, ScaffoldError> {
    crate::nn::runtime::cache_dir().ok_or_else(|| {
        ScaffoldError::Invalid(
            "no user cache: set HOME or XDG_CACHE_HOME (the SDKs and toolchains are kept there)"
                .into(),
        )
    })
}

/// The label row of a 64x48 image titled `street-01.png`, not yet labelled:
/// the fixture of a new project's test (the Rust SDK's
/// `testing::image_label_row`).
const LABEL_ROW: &str = r#"{
  "label_hash": null, "branch_name": "main", "created_at": null, "last_edited_at": null,
  "data_hash": "d0000000-0000-4000-8000-000000000001", "dataset_hash": "x", "dataset_title": "x",
  "data_title": "street-01.png", "data_type": "image", "label_status": "NOT_LABELLED",
  "object_answers": {}, "classification_answers": {}, "object_actions": {},
  "data_units": {
    "d0000000-0000-4000-8000-000000000001": {
      "data_hash": "d0000000-0000-4000-8000-000000000001", "data_title": "street-01.png",
      "data_type": "image/png", "data_sequence": 0, "width": 64, "height": 48,
      "labels": {"objects": [], "classifications": []}
    }
  }
}
"#;

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 64
}

/// The files of a new `lang` project named `name` whose SDK lies at `sdk`.
pub fn project_files(name: &str, lang: Lang, sdk: &Path) -> Vec<(PathBuf, String)> {
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{sdk}}", &sdk.to_string_lossy())
            .replace("{{version}}", env!("CARGO_PKG_VERSION"))
            .replace("{{wit}}", WIT_VERSION)
    };
    let mut files = Vec::new();
    let mut walk = vec![TEMPLATES
        .get_dir(lang.dir())
        .expect("every language has templates")];
    while let Some(dir) = walk.pop() {
        for f in dir.files() {
            let rel = f
                .path()
                .strip_prefix(lang.dir())
                .expect("under its language");
            let rel = if rel == Path::new("gitignore") {
                PathBuf::from(".gitignore")
            } else {
                rel.to_path_buf()
            };
            let text = f.contents_utf8().expect("templates are text");
            files.push((rel, fill(text)));
        }
        walk.extend(dir.dirs());
    }
    files.push((
        "fixtures/ontology.json".into(),
        include_str!("../../../examples/demo-ontology.json").to_string(),
    ));
    files.push(("fixtures/label-row.json".into(), LABEL_ROW.to_string()));
    files.push(("README.md".into(), readme(name, lang)));
    if lang == Lang::Rust {
        files.push(("Cargo.lock".into(), sdk::CARGO_LOCK.to_string()));
        files.push((".cargo/config.toml".into(), RUST_CARGO_CONFIG.to_string()));
    }
    files.sort();
    files
}

fn readme(name: &str, lang: Lang) -> String {
    let (source, test, native) = match lang {
        Lang::Rust => (
            "src/lib.rs",
            "cargo test",
            "`TestRun` from `encord_agent_sdk::testing`",
        ),
        Lang::Python => (
            "agent.py",
            "python3 -m unittest (with the SDK on PYTHONPATH)",
            "`TestRun` from `encord_agent_sdk.testing`",
        ),
        Lang::Js => ("agent.js", "npm test", "`testStage` from `encord-agent`"),
    };
    format!(
        "# {name}\n\n\
A runner-host task agent ({lang:?}). Its stage `pre-label` captions each task's data and sends it\n\
along the pathway `to triage`: edit `{source}` and its test to make it yours (the stage's title\n\
and pathways must be those of your project's workflow).\n\n\
```sh\n\
runner-host test               # the native tests ({test}), with {native}\n\
runner-host build              # -> agent.wasm (the toolchain is installed on first use)\n\
runner-host local demo --store store        # a demo project; prints its hash last\n\
runner-host --component agent.wasm --store store --project-hash HASH\n\
runner-host local status --store store --project-hash HASH\n\
```\n\n\
On Encord, run the same component with `--project-hash` and `--ssh-key-file` instead of `--store`.\n\
The SDK targets the WIT world `encord:agent/agent@{WIT_VERSION}`, as runner-host\n\
{version} carries it; `runner-host --version` says what a host serves.\n",
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// `runner-host new NAME --lang L`: creates `parent/NAME` with nothing
/// half-written (built in a temporary folder beside it, then renamed).
pub fn new_project(name: &str, lang: Lang, parent: &Path) -> Result<PathBuf, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::Invalid(format!(
            "project name `{name}`: use lowercase letters, digits, `-` and `_`, starting with a letter"
        )));
    }
    let dir = parent.join(name);
    if dir.exists() {
        return Err(ScaffoldError::Invalid(format!(
            "`{}` already exists: choose another name or remove it",
            dir.display()
        )));
    }
    let sdk = sdk::unpack(&cache()?)?;
    let io = |what: &str, path: &Path, e: std::io::Error| ScaffoldError::Io {
        what: format!("{what} {}", path.display()),
        source: e,
    };
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(parent)
        .map_err(|e| io("cannot create a folder in", parent, e))?;
    for (rel, text) in project_files(name, lang, &sdk) {
        let path = tmp.path().join(&rel);
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).map_err(|e| io("cannot create", d, e))?;
        }
        std::fs::write(&path, text).map_err(|e| io("cannot write", &path, e))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, &dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&kept);
        io("cannot create", &dir, e)
    })?;
    Ok(dir.canonicalize().unwrap_or(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for ok in ["my-agent", "a", "agent_2"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "My-agent", "2agent", "a/b", "../x", "a b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn every_language_gets_a_stage_a_test_a_readme_and_a_gitignore() {
        let sdk = Path::new("/cache/sdk/x");
        for (lang, source, test) in [
            (Lang::Rust, "src/lib.rs", "src/lib.rs"),
            (Lang::Python, "agent.py", "test_agent.py"),
            (Lang::Js, "agent.js", "agent.test.mjs"),
        ] {
            let files = project_files("my-agent", lang, sdk);
            let get = |p: &str| {
                files
                    .iter()
                    .find(|(f, _)| f == Path::new(p))
                    .map(|(_, t)| t.clone())
                    .unwrap_or_else(|| panic!("{lang:?}: no {p}"))
            };
            assert!(get(source).contains("pre-label") && get(source).contains("to triage"));
            assert!(get(test).contains("street-01.png"));
            assert!(get("README.md").contains("runner-host build"));
            assert!(get(".gitignore").contains("agent.wasm"));
            for (f, text) in &files {
                assert!(
                    !text.contains("{{"),
                    "{lang:?} {}: a placeholder is left",
                    f.display()
                );
            }
        }
        let cargo = project_files("my-agent", Lang::Rust, sdk);
        let manifest = &cargo
            .iter()
            .find(|(f, _)| f == Path::new("Cargo.toml"))
            .unwrap()
            .1;
        assert!(
            manifest.contains("path = \"/cache/sdk/x/guest-sdk\""),
            "{manifest}"
        );
        let js = project_files("my-agent", Lang::Js, sdk);
        let package = &js
            .iter()
            .find(|(f, _)| f == Path::new("package.json"))
            .unwrap()
            .1;
        assert!(package.contains("\"file:/cache/sdk/x/js\""), "{package}");
    }

    #[test]
    fn an_existing_folder_is_not_touched() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("taken")).unwrap();
        let e = new_project("taken", Lang::Js, dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("already exists"), "{e}");
        assert_eq!(
            std::fs::read_dir(dir.path().join("taken")).unwrap().count(),
            0
        );
    }
}
