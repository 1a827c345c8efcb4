//! Measured choices, per adapter: the tuning mode of a context and the store
//! of what was measured, persisted as JSON. The store holds opaque keys and
//! algorithm names; what they mean (layers, input shapes) is `conv::tuning`'s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::semantics::error::{Conv2dError, Result, SourceError};

/// How a [`GpuConv2d`](crate::GpuConv2d) picks its algorithm for an input
/// shape, set per context with [`GpuContext::set_tuning`](crate::GpuContext::set_tuning)
/// or by `CONV2D_WGPU_TUNING=measure` when [`GpuContext::new`](crate::GpuContext::new) runs.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tuning {
    /// The built-in heuristic (from the layer, the input shape and the
    /// adapter's kind): no measurement, no cache. The default.
    #[default]
    Heuristic,
    /// Measure on this adapter: the first forward pass of a layer on an input
    /// shape (or [`GpuConv2d::algorithm_for`](crate::GpuConv2d::algorithm_for))
    /// times every algorithm that can run it and keeps the fastest, in the
    /// context's tuning cache; later layers of the same shape reuse it.
    Measure,
}

/// Counts of the tuning cache's use, for applications and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TuningStats {
    /// Layer and input shapes measured on this context.
    pub measured: u64,
    /// Shapes answered from the cache (measured earlier or loaded).
    pub cache_hits: u64,
    /// Entries the cache holds for this adapter.
    pub entries: usize,
}

/// The adapter a cache section was measured on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AdapterKey {
    name: String,
    backend: String,
    driver: String,
    driver_info: String,
    vendor: u32,
    device: u32,
}

impl AdapterKey {
    pub fn of(info: &wgpu::AdapterInfo) -> Self {
        AdapterKey {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            driver: info.driver.clone(),
            driver_info: info.driver_info.clone(),
            vendor: info.vendor,
            device: info.device,
        }
    }
}

/// What one measurement found: the fastest algorithm, the median time of
/// each candidate timed in full, and the warm-up time of those dropped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct TunedEntry {
    pub algorithm: String,
    pub median_us: BTreeMap<String, f64>,
    #[serde(default)]
    pub dropped_after_warm_up_us: BTreeMap<String, f64>,
}

/// The file: sections per adapter.
#[derive(Serialize, Deserialize)]
struct TuningFile {
    format: String,
    version: u32,
    adapters: Vec<AdapterSection>,
}

#[derive(Serialize, Deserialize)]
struct AdapterSection {
    adapter: AdapterKey,
    shapes: BTreeMap<String, TunedEntry>,
}

const FORMAT: &str = "conv2d-wgpu tuning cache";
const VERSION: u32 = 1;

/// A context's tuning mode and cache.
pub(crate) struct TuningStore {
    adapter: AdapterKey,
    mode: Mutex<Tuning>,
    entries: Mutex<BTreeMap<String, TunedEntry>>,
    /// Sections of other adapters read from a file, written back unchanged.
    others: Mutex<Vec<AdapterSection>>,
    /// Where to save after each measurement (`CONV2D_WGPU_TUNING_CACHE`).
    autosave: Mutex<Option<PathBuf>>,
    measured: AtomicU64,
    hits: AtomicU64,
}

impl TuningStore {
    pub fn new(info: &wgpu::AdapterInfo) -> Self {
        TuningStore {
            adapter: AdapterKey::of(info),
            mode: Mutex::new(Tuning::Heuristic),
            entries: Mutex::new(BTreeMap::new()),
            others: Mutex::new(Vec::new()),
            autosave: Mutex::new(None),
            measured: AtomicU64::new(0),
            hits: AtomicU64::new(0),
        }
    }

    pub fn mode(&self) -> Tuning {
        *lock(&self.mode)
    }

    pub fn set_mode(&self, mode: Tuning) {
        *lock(&self.mode) = mode;
    }

    /// The entry for `key`, counted as a hit.
    pub fn get(&self, key: &str) -> Option<TunedEntry> {
        let entry = lock(&self.entries).get(key).cloned();
        if entry.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        entry
    }

    /// Records a measurement, and saves the cache when autosave is on.
    ///
    /// # Errors
    /// Writing the autosave file failed.
    pub fn insert(&self, key: String, entry: TunedEntry) -> Result<()> {
        self.measured.fetch_add(1, Ordering::Relaxed);
        lock(&self.entries).insert(key, entry);
        let path = lock(&self.autosave).clone();
        match path {
            Some(path) => self.save(&path),
            None => Ok(()),
        }
    }

    pub fn stats(&self) -> TuningStats {
        TuningStats {
            measured: self.measured.load(Ordering::Relaxed),
            cache_hits: self.hits.load(Ordering::Relaxed),
            entries: lock(&self.entries).len(),
        }
    }

    /// Writes the cache (this adapter's entries and the other adapters' read
    /// earlier) to `path`: to a temporary file beside it, then renamed, so a
    /// reader never sees half a file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut adapters: Vec<AdapterSection> = lock(&self.others)
            .iter()
            .map(|s| AdapterSection {
                adapter: s.adapter.clone(),
                shapes: s.shapes.clone(),
            })
            .collect();
        adapters.push(AdapterSection {
            adapter: self.adapter.clone(),
            shapes: lock(&self.entries).clone(),
        });
        let file = TuningFile {
            format: FORMAT.into(),
            version: VERSION,
            adapters,
        };
        let text = serde_json::to_string_pretty(&file).expect("the cache serialises");
        let error = |message: String, e: std::io::Error| Conv2dError::TuningCache {
            path: path.display().to_string(),
            message,
            source: Some(SourceError::new(e)),
        };
        let name = path
            .file_name()
            .map_or("tuning".into(), |n| n.to_string_lossy());
        let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        std::fs::write(&temporary, text)
            .map_err(|e| error(format!("cannot write {}: {e}", temporary.display()), e))?;
        std::fs::rename(&temporary, path).map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            error(format!("cannot replace it: {e}"), e)
        })
    }

    /// Merges the entries `path` holds for this adapter; other adapters'
    /// sections are kept for saving and otherwise ignored.
    pub fn load(&self, path: &Path) -> Result<()> {
        let fail = |message: String, source: Option<SourceError>| Conv2dError::TuningCache {
            path: path.display().to_string(),
            message,
            source,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail(format!("cannot read it: {e}"), Some(SourceError::new(e))))?;
        let file: TuningFile = serde_json::from_str(&text).map_err(|e| {
            fail(
                format!("not a tuning cache (corrupt or truncated JSON): {e}"),
                Some(SourceError::new(e)),
            )
        })?;
        if file.format != FORMAT || file.version != VERSION {
            return Err(fail(
                format!(
                    "format {:?} version {}, expected {FORMAT:?} version {VERSION}",
                    file.format, file.version
                ),
                None,
            ));
        }
        let mut others = lock(&self.others);
        others.clear();
        for section in file.adapters {
            if section.adapter == self.adapter {
                lock(&self.entries).extend(section.shapes);
            } else {
                #[cfg(feature = "tracing")]
                tracing::info!(
                    path = %path.display(),
                    cached_for = ?section.adapter,
                    running_on = ?self.adapter,
                    "conv2d.tuning_cache: entries of another adapter ignored"
                );
                others.push(section);
            }
        }
        Ok(())
    }

    /// Loads `path` if it exists and saves to it after each measurement.
    pub fn autosave_to(&self, path: PathBuf) -> Result<()> {
        if path.exists() {
            self.load(&path)?;
        }
        *lock(&self.autosave) = Some(path);
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
