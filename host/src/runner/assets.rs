//! Task media on local disk: downloaded once into a bounded cache (so a
//! retry, or a second stage on the same data, does not download again),
//! and shown to a guest through a directory holding only its own file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::platform::{DataItem, Media, Platform, PlatformError};

/// Default bound of the download cache.
pub const DEFAULT_CACHE_BYTES: u64 = 4 << 30;

/// Downloaded media, evicted least recently used first beyond `max_bytes`.
/// Files a batch still uses are pinned and never evicted.
pub struct AssetCache {
    dir: PathBuf,
    max_bytes: u64,
    pins: Mutex<HashMap<PathBuf, usize>>,
    /// Bytes in the cache as last counted (none: not counted yet), so a
    /// download lists the directory only when the bound is passed.
    used: Mutex<Option<u64>>,
    /// Keeps a temporary cache directory alive for the run (`--no-cache`).
    _temp: Option<tempfile::TempDir>,
}

/// Keeps a cached file from eviction while it is alive.
pub struct Pin {
    cache: Arc<AssetCache>,
    path: PathBuf,
}

impl Drop for Pin {
    fn drop(&mut self) {
        let mut pins = self.cache.pins.lock().expect("pins lock");
        if let Some(n) = pins.get_mut(&self.path) {
            *n -= 1;
            if *n == 0 {
                pins.remove(&self.path);
            }
        }
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pin({})", self.path.display())
    }
}

impl AssetCache {
    /// A cache in `dir` (created), or a temporary one removed after the run.
    pub fn new(dir: Option<PathBuf>, max_bytes: u64) -> Result<AssetCache, String> {
        let (dir, temp) = match dir {
            Some(d) => (d, None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("runner-host-assets")
                    .tempdir()
                    .map_err(|e| format!("cannot create a temporary media directory: {e}"))?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        for sub in ["media", "tasks"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| format!("cannot create the media cache `{}`: {e}", dir.display()))?;
        }
        Ok(AssetCache {
            dir,
            max_bytes,
            pins: Mutex::new(HashMap::new()),
            used: Mutex::new(None),
            _temp: temp,
        })
    }

    fn pin(self: &Arc<Self>, path: &Path) -> Pin {
        *self
            .pins
            .lock()
            .expect("pins lock")
            .entry(path.to_path_buf())
            .or_insert(0) += 1;
        Pin {
            cache: self.clone(),
            path: path.to_path_buf(),
        }
    }

    /// The item's bytes on local disk: the store's own file, or a cached
    /// download. The returned pin keeps a download from eviction.
    pub async fn fetch(
        self: &Arc<Self>,
        platform: &dyn Platform,
        item: &DataItem,
    ) -> Result<(PathBuf, Option<Pin>), PlatformError> {
        match &item.media {
            None => Err(PlatformError::Remote(format!(
                "storage item `{}` has no media to download",
                item.name
            ))),
            Some(Media::File(p)) => {
                if p.is_file() {
                    Ok((p.clone(), None))
                } else {
                    Err(PlatformError::Store(format!(
                        "the media file of `{}` is missing: {}",
                        item.name,
                        p.display()
                    )))
                }
            }
            Some(Media::Url(url)) => {
                let ext = crate::media::extension(item.mime_type.as_deref(), &item.name);
                let path = self
                    .dir
                    .join("media")
                    .join(format!("{}.{ext}", safe_name(&item.uuid)));
                let pin = self.pin(&path);
                let cached = std::fs::metadata(&path)
                    .ok()
                    .filter(|m| item.file_size.is_none_or(|s| s == m.len()));
                if cached.is_some() {
                    // Touch it: eviction goes by modification time.
                    if let Ok(f) = std::fs::File::options().append(true).open(&path) {
                        let _ = f.set_modified(std::time::SystemTime::now());
                    }
                    return Ok((path, Some(pin)));
                }
                let part = path.with_extension(format!("part-{}", uuid::Uuid::new_v4()));
                let bytes = match platform.download(url, &part).await {
                    Ok(n) => n,
                    Err(e) => {
                        let _ = std::fs::remove_file(&part);
                        return Err(e);
                    }
                };
                std::fs::rename(&part, &path).map_err(|e| {
                    PlatformError::Store(format!(
                        "cannot keep the download of `{}`: {e}",
                        item.name
                    ))
                })?;
                let over = {
                    let mut used = self.used.lock().expect("used lock");
                    let total = match *used {
                        Some(t) => t + bytes,
                        None => self.files().iter().map(|f| f.1).sum(),
                    };
                    *used = Some(total);
                    total > self.max_bytes
                };
                if over {
                    self.evict();
                }
                Ok((path, Some(pin)))
            }
        }
    }

    /// The cached files: (modified, size, path).
    fn files(&self) -> Vec<(std::time::SystemTime, u64, PathBuf)> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("media")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                if !m.is_file() {
                    return None;
                }
                Some((m.modified().ok()?, m.len(), e.path()))
            })
            .collect()
    }

    /// Removes the least recently used unpinned files beyond the bound.
    fn evict(&self) {
        let mut files = self.files();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        files.sort();
        let pins = self.pins.lock().expect("pins lock");
        for (_, len, path) in files {
            if total <= self.max_bytes {
                break;
            }
            if pins.contains_key(&path)
                || path
                    .extension()
                    .is_some_and(|e| e.to_string_lossy().starts_with("part-"))
            {
                continue;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
        *self.used.lock().expect("used lock") = Some(total);
    }

    /// A directory holding only `file` (linked, or copied across
    /// filesystems) named `name`, removed when the returned guard drops.
    pub fn task_dir(&self, file: &Path, name: &str) -> Result<TaskDir, String> {
        let dir = self
            .dir
            .join("tasks")
            .join(uuid::Uuid::new_v4().to_string());
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot prepare the asset: {e}"))?;
        let guard = TaskDir { dir: dir.clone() };
        let target = dir.join(name);
        if std::fs::hard_link(file, &target).is_err() {
            std::fs::copy(file, &target).map_err(|e| format!("cannot prepare the asset: {e}"))?;
        }
        Ok(guard)
    }
}

/// A task's private asset directory; removed on drop.
#[derive(Debug)]
pub struct TaskDir {
    pub dir: PathBuf,
}

impl Drop for TaskDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A uuid as a file name: nothing but [A-Za-z0-9-].
fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
