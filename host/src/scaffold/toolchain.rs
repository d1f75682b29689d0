//! `runner-host build` and `runner-host test` for an agent project in any
//! of the three languages. The toolchains are pinned and installed on first
//! use into the user cache, never into the project: componentize-py for
//! Python, componentize-qjs for JavaScript, the `wasm32-wasip2` target
//! (through rustup) for Rust.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{cache, sdk, Lang, ScaffoldError};

pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";
pub const COMPONENTIZE_QJS: &str = "componentize-qjs@0.4.5";

/// The language of the project in `dir`.
pub fn detect(dir: &Path) -> Result<Lang, ScaffoldError> {
    if dir.join("Cargo.toml").is_file() {
        Ok(Lang::Rust)
    } else if dir.join("package.json").is_file() {
        Ok(Lang::Js)
    } else if dir.join("agent.py").is_file() {
        Ok(Lang::Python)
    } else {
        Err(ScaffoldError::Invalid(format!(
            "`{}` is not an agent project (no Cargo.toml, package.json or agent.py): create one with `runner-host new NAME --lang rust|python|js`",
            dir.display()
        )))
    }
}

/// Runs `cmd` (all its output on our stderr: stdout carries only what a
/// command made), or says which tool is missing and what failed.
fn run(cmd: &mut Command, what: &str) -> Result<(), ScaffoldError> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let status = cmd.stdout(std::io::stderr()).status().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ScaffoldError::Tool(format!(
                "{what}: `{program}` is not installed ({})",
                install_hint(&program)
            ))
        } else {
            ScaffoldError::Tool(format!("{what}: cannot start `{program}`: {e}"))
        }
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(ScaffoldError::Tool(format!(
            "{what} failed ({status}); its output is above"
        )))
    }
}

fn install_hint(program: &str) -> &'static str {
    match program {
        "cargo" | "rustup" => "install Rust from https://rustup.rs",
        "python3" => "install Python 3.11 or newer",
        "npm" | "node" => "install Node.js 20 or newer",
        _ => "install it and try again",
    }
}

fn say(line: &str) {
    eprintln!("runner-host: {line}");
}

/// Builds the project in `dir` into `out` (default `dir/agent.wasm`).
pub fn build(dir: &Path, out: Option<&Path>) -> Result<PathBuf, ScaffoldError> {
    let dir = dir.canonicalize().map_err(|e| ScaffoldError::Io {
        what: format!("cannot open {}", dir.display()),
        source: e,
    })?;
    let out = out.map_or_else(|| dir.join("agent.wasm"), Path::to_path_buf);
    // The SDK the project names (restored if the cache was cleared).
    sdk::unpack(&cache()?)?;
    match detect(&dir)? {
        Lang::Rust => build_rust(&dir, &out)?,
        Lang::Python => build_python(&dir, &out)?,
        Lang::Js => build_js(&dir, &out)?,
    }
    Ok(out)
}

fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some(v) = line.strip_prefix("name") {
                let v = v.trim_start().strip_prefix('=')?.trim().trim_matches('"');
                return Some(v.to_string());
            }
        }
    }
    None
}

fn build_rust(dir: &Path, out: &Path) -> Result<(), ScaffoldError> {
    let manifest =
        std::fs::read_to_string(dir.join("Cargo.toml")).map_err(|e| ScaffoldError::Io {
            what: format!("cannot read {}", dir.join("Cargo.toml").display()),
            source: e,
        })?;
    let name = package_name(&manifest).ok_or_else(|| {
        ScaffoldError::Invalid(format!(
            "{}: no [package] name",
            dir.join("Cargo.toml").display()
        ))
    })?;
    // The target, once, where rustup manages the toolchain.
    if let Ok(listed) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    {
        if !String::from_utf8_lossy(&listed.stdout)
            .lines()
            .any(|l| l.trim() == "wasm32-wasip2")
        {
            say("installing the Rust target wasm32-wasip2 (rustup, once)");
            run(
                Command::new("rustup").args(["target", "add", "wasm32-wasip2"]),
                "adding the wasm32-wasip2 target",
            )?;
        }
    }
    run(
        Command::new("cargo")
            .args(["build", "--release", "--target", "wasm32-wasip2"])
            .current_dir(dir),
        "cargo build",
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| dir.join("target"), |t| dir.join(t));
    let built = target
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    copy(&built, out)
}

fn copy(from: &Path, to: &Path) -> Result<(), ScaffoldError> {
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| ScaffoldError::Io {
            what: format!("cannot copy {} to {}", from.display(), to.display()),
            source: e,
        })
}

/// A pinned toolchain folder under the cache: made by `install` the first
/// time (in place: a venv's scripts name their own path), marked complete
/// only when it succeeded, and made again after a failed try.
fn toolchain(
    name: &str,
    install: impl FnOnce(&Path) -> Result<(), ScaffoldError>,
) -> Result<PathBuf, ScaffoldError> {
    let dir = cache()?
        .join("toolchains")
        .join(name.replace("==", "-").replace('@', "-"));
    if dir.join(".complete").exists() {
        return Ok(dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| ScaffoldError::Io {
        what: format!("cannot create {}", dir.display()),
        source: e,
    })?;
    say(&format!("installing {name} into {} (once)", dir.display()));
    install(&dir)?;
    std::fs::write(dir.join(".complete"), "").map_err(|e| ScaffoldError::Io {
        what: format!("cannot write in {}", dir.display()),
        source: e,
    })?;
    Ok(dir)
}

fn python_toolchain() -> Result<PathBuf, ScaffoldError> {
    toolchain(COMPONENTIZE_PY, |dir| {
        run(
            Command::new("python3").args(["-m", "venv"]).arg(dir),
            "creating a Python venv",
        )?;
        run(
            Command::new(dir.join("bin/pip")).args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                COMPONENTIZE_PY,
            ]),
            "installing componentize-py",
        )
    })
}

fn with_pythonpath(cmd: &mut Command, sdk: &Path) {
    let mut path = std::ffi::OsString::from(sdk.join("python"));
    if let Some(old) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
        path.push(":");
        path.push(old);
    }
    cmd.env("PYTHONPATH", path);
}

fn build_python(dir: &Path, out: &Path) -> Result<(), ScaffoldError> {
    let sdk = sdk::unpack(&cache()?)?;
    let venv = python_toolchain()?;
    let mut cmd = Command::new(venv.join("bin/python"));
    cmd.args(["-m", "encord_agent_sdk.build"])
        .arg(dir.join("agent.py"))
        .arg("-o")
        .arg(out);
    with_pythonpath(&mut cmd, &sdk);
    run(&mut cmd, "building the Python agent")
}

fn js_toolchain() -> Result<PathBuf, ScaffoldError> {
    toolchain(COMPONENTIZE_QJS, |dir| {
        run(
            Command::new("npm")
                .args([
                    "install",
                    "--silent",
                    "--no-audit",
                    "--no-fund",
                    "--no-save",
                    COMPONENTIZE_QJS,
                ])
                .current_dir(dir),
            "installing componentize-qjs",
        )
    })
}

/// Copies a project's sources: not its dependencies, builds or VCS data.
fn copy_tree(from: &Path, to: &Path) -> Result<(), ScaffoldError> {
    let io = |what: &str, p: &Path, e: std::io::Error| ScaffoldError::Io {
        what: format!("{what} {}", p.display()),
        source: e,
    };
    std::fs::create_dir_all(to).map_err(|e| io("cannot create", to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| io("cannot read", from, e))? {
        let entry = entry.map_err(|e| io("cannot read", from, e))?;
        let name = entry.file_name();
        let name_s = name.to_string_lossy();
        if matches!(name_s.as_ref(), "node_modules" | ".git" | "target")
            || name_s.ends_with(".wasm")
        {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_tree(&path, &to.join(&name))?;
        } else {
            copy(&path, &to.join(&name))?;
        }
    }
    Ok(())
}

fn build_js(dir: &Path, out: &Path) -> Result<(), ScaffoldError> {
    let sdk = sdk::unpack(&cache()?)?;
    let tools = js_toolchain()?;
    // The agent imports the SDK as the package "encord-agent": a module root
    // holding the agent's folder and node_modules/encord-agent.
    let work = tempfile::tempdir().map_err(|e| ScaffoldError::Io {
        what: "cannot create a temporary folder".into(),
        source: e,
    })?;
    copy_tree(dir, &work.path().join("agent"))?;
    copy_tree(
        &sdk.join("js"),
        &work.path().join("node_modules/encord-agent"),
    )?;
    let entry = work.path().join("entry.js");
    std::fs::write(
        &entry,
        "import \"./agent/agent.js\";\nexport { handler, lifecycle } from \"encord-agent\";\n",
    )
    .map_err(|e| ScaffoldError::Io {
        what: format!("cannot write {}", entry.display()),
        source: e,
    })?;
    run(
        Command::new(tools.join("node_modules/.bin/componentize-qjs"))
            .arg("--wit")
            .arg(sdk.join("wit"))
            .args(["--world", "agent-with-init", "--sync", "--module-root"])
            .arg(work.path())
            .arg("--js")
            .arg(&entry)
            .arg("-o")
            .arg(out),
        "building the JavaScript agent",
    )
}

/// Runs the project's native tests; returns their exit code.
pub fn test(dir: &Path) -> Result<i32, ScaffoldError> {
    let dir = dir.canonicalize().map_err(|e| ScaffoldError::Io {
        what: format!("cannot open {}", dir.display()),
        source: e,
    })?;
    let mut cmd = match detect(&dir)? {
        Lang::Rust => {
            sdk::unpack(&cache()?)?;
            let mut c = Command::new("cargo");
            c.arg("test");
            c
        }
        Lang::Python => {
            let sdk = sdk::unpack(&cache()?)?;
            let mut c = Command::new("python3");
            c.args(["-m", "unittest", "discover", "-v"]);
            with_pythonpath(&mut c, &sdk);
            c
        }
        Lang::Js => {
            if !dir.join("node_modules/encord-agent").exists() {
                // The SDK is a `file:` dependency: installed without the network.
                sdk::unpack(&cache()?)?;
                run(
                    Command::new("npm")
                        .args(["install", "--silent", "--no-audit", "--no-fund"])
                        .current_dir(&dir),
                    "npm install",
                )?;
            }
            let mut c = Command::new("node");
            c.args(["--import", "encord-agent/native/register.mjs", "--test"]);
            c
        }
    };
    cmd.current_dir(&dir);
    let program = cmd.get_program().to_string_lossy().into_owned();
    let status = cmd.status().map_err(|e| {
        ScaffoldError::Tool(format!(
            "cannot start `{program}` ({}): {e}",
            install_hint(&program)
        ))
    })?;
    Ok(status.code().unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_package_name_is_read_from_the_package_table() {
        let m = "[workspace]\nname = \"no\"\n[package]\nname = \"my-agent\"\nversion = \"0.1.0\"\n";
        assert_eq!(package_name(m).as_deref(), Some("my-agent"));
        assert_eq!(package_name("[lib]\nname = \"x\"\n"), None);
    }

    #[test]
    fn a_folder_without_a_project_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let e = detect(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("is not an agent project") && e.contains("runner-host new"),
            "{e}"
        );
    }
}
