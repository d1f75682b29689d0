//! Where ONNX Runtime comes from, and the check that it is one this host
//! can use, done before `ort` touches it: `ort` panics on a missing library
//! or a wrong version, and the host must answer with one line instead.
//!
//! The library is looked for, in order: `--onnxruntime PATH` (or
//! `ORT_DYLIB_PATH`), `libonnxruntime.so` next to the executable, and the
//! copy `scripts/setup.sh` unpacks from the PyPI wheel into the user cache
//! ([`cached_library`]). Nothing is loaded unless a model is granted.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The ONNX Runtime release `scripts/setup.sh` installs, matching `ort`.
pub const ONNXRUNTIME_VERSION: &str = "1.22.1";

/// The file name of ONNX Runtime's shared library.
const LIBRARY: &str = "libonnxruntime.so";

/// runner-host's folder in the user cache: `$XDG_CACHE_HOME/runner-host`,
/// else `~/.cache/runner-host`.
pub fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("runner-host"))
}

/// Where `scripts/setup.sh` puts the library.
pub fn cached_library() -> Option<PathBuf> {
    cache_dir().map(|d| {
        d.join(format!("onnxruntime-{ONNXRUNTIME_VERSION}"))
            .join(format!("{LIBRARY}.{ONNXRUNTIME_VERSION}"))
    })
}

/// The library to load: the one named, else the first that exists of the
/// well-known places.
pub fn locate(named: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(p) = named {
        return Ok(p.to_path_buf());
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(LIBRARY)));
    let candidates: Vec<PathBuf> = beside.into_iter().chain(cached_library()).collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
            "--model needs ONNX Runtime {ONNXRUNTIME_VERSION} and none was found (looked at {}): \
             run scripts/setup.sh, or pass --onnxruntime PATH to libonnxruntime.so",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
        })
}

/// Checks that `path` is ONNX Runtime with the API `ort` speaks, then hands
/// it to `ort`. Returns the library's version. Once per process: later
/// calls return the first answer.
pub fn init(path: &Path) -> Result<String, String> {
    static INIT: OnceLock<Result<String, String>> = OnceLock::new();
    INIT.get_or_init(|| {
        let version = check(path)?;
        // `check` proved the library loads and serves the API, so ort's own
        // loading cannot panic; catch it anyway rather than take the host
        // down.
        let committed = std::panic::catch_unwind(|| {
            ort::init_from(path.display().to_string())
                .with_name("runner-host")
                .commit()
        });
        match committed {
            Ok(Ok(_)) => Ok(version),
            Ok(Err(e)) => Err(format!(
                "ONNX Runtime at {} could not start: {e}",
                path.display()
            )),
            Err(_) => Err(format!(
                "ONNX Runtime at {} could not start (ort panicked)",
                path.display()
            )),
        }
    })
    .clone()
}

/// Opens the library and asks it for its version and API, as `ort` will.
fn check(path: &Path) -> Result<String, String> {
    let shown = path.display();
    if !path.is_file() {
        return Err(format!(
            "--onnxruntime {shown}: no such file; run scripts/setup.sh or name libonnxruntime.so {ONNXRUNTIME_VERSION}"
        ));
    }
    // SAFETY: loading a shared library runs its initialisers; this is the
    // library the operator named as ONNX Runtime, which `ort` would load
    // anyway. The handle stays open for the process (ort opens it again and
    // gets the same one).
    let lib = unsafe { libloading::Library::new(path) }
        .map_err(|e| format!("--onnxruntime {shown}: cannot load it: {e}"))?;
    type GetApiBase = unsafe extern "C" fn() -> *const ort::sys::OrtApiBase;
    // SAFETY: `OrtGetApiBase` has this signature in every ONNX Runtime.
    let getter = unsafe { lib.get::<GetApiBase>(b"OrtGetApiBase") }.map_err(|_| {
        format!("--onnxruntime {shown}: not ONNX Runtime (it has no OrtGetApiBase)")
    })?;
    // SAFETY: the base is a static table of the library; null is checked.
    let base = unsafe { getter() };
    if base.is_null() {
        return Err(format!(
            "--onnxruntime {shown}: OrtGetApiBase returned nothing"
        ));
    }
    // SAFETY: `base` is valid (above); the version is a static C string.
    let version = unsafe {
        let v = ((*base).GetVersionString)();
        if v.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned()
        }
    };
    let minor = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u32>().ok())
        .unwrap_or(0);
    if !version.starts_with("1.") || minor < ort::MINOR_VERSION {
        return Err(format!(
            "--onnxruntime {shown} is ONNX Runtime {version}; runner-host needs 1.{}.x or newer \
             (scripts/setup.sh installs {ONNXRUNTIME_VERSION})",
            ort::MINOR_VERSION
        ));
    }
    // SAFETY: as above; the API table is static, null when unsupported.
    let api = unsafe { ((*base).GetApi)(ort::sys::ORT_API_VERSION) };
    if api.is_null() {
        return Err(format!(
            "--onnxruntime {shown} (ONNX Runtime {version}) does not serve API version {}",
            ort::sys::ORT_API_VERSION
        ));
    }
    std::mem::forget(lib);
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_one_line_naming_the_fix() {
        let e = check(Path::new("/nonexistent/libonnxruntime.so")).unwrap_err();
        assert!(
            e.contains("no such file") && e.contains("scripts/setup.sh"),
            "{e}"
        );
        assert!(!e.contains('\n'));
    }

    #[test]
    fn a_library_that_is_not_onnx_runtime_is_refused() {
        // libc is a shared library without OrtGetApiBase.
        let libc = [
            "/lib/x86_64-linux-gnu/libc.so.6",
            "/lib/aarch64-linux-gnu/libc.so.6",
        ]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("the system's libc");
        let e = check(libc).unwrap_err();
        assert!(e.contains("not ONNX Runtime"), "{e}");
    }

    #[test]
    fn a_file_that_is_no_library_is_refused() {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b"not an ELF file").unwrap();
        let e = check(f.path()).unwrap_err();
        assert!(e.contains("cannot load it"), "{e}");
    }
}
