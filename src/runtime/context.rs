//! Adapter, device and queue: acquiring a device, or adopting an application's.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::runtime::adapter::select_adapter;
use crate::runtime::tuning::{Tuning, TuningStats, TuningStore};
use crate::runtime::{readback, scope};
use crate::semantics::error::{Conv2dError, Result};

/// A wgpu device and queue that convolutions run on, with the crate's caches.
///
/// Cheap to clone (the clones share the device and caches). Every
/// [`GpuConv2d`](crate::GpuConv2d) keeps a clone of the context it was made with.
#[derive(Clone)]
pub struct GpuContext {
    pub(crate) inner: Arc<ContextInner>,
}

pub(crate) struct ContextInner {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// Set by the device-lost callback: why the device is gone.
    pub lost: Arc<Mutex<Option<String>>>,
    counters: Counters,
    /// Buffers of dropped tensors, by size, for the next outputs of that size.
    spare: Mutex<Vec<wgpu::Buffer>>,
    /// The tuning mode and the cache of measured choices.
    pub tuning: TuningStore,
    /// Per-device state of the layers above (their pipeline caches), by type.
    extensions: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

#[derive(Default)]
struct Counters {
    submits: AtomicU64,
    readbacks: AtomicU64,
    buffers_created: AtomicU64,
    bind_groups_created: AtomicU64,
}

/// Most spare tensor buffers a context keeps (one chain's worth of outputs).
const MAX_SPARE: usize = 4;

/// Counts of the work a context has sent to its device, for applications and
/// tests that want to see it (e.g. that a chain of layers reads nothing back,
/// or that repeated calls allocate nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContextStats {
    /// Command buffers submitted to the queue.
    pub submits: u64,
    /// Buffers mapped to read results back to the host.
    pub readbacks: u64,
    /// Device buffers the crate created (tensors, weights, uniforms, staging).
    pub buffers_created: u64,
    /// Bind groups the crate created.
    pub bind_groups_created: u64,
}

impl GpuContext {
    /// Picks an adapter and creates a device with the adapter's own limits (blocking).
    ///
    /// Honours the environment variables wgpu users know:
    /// `WGPU_BACKEND` (e.g. `vulkan`, `gl`, `metal`, `dx12`, comma separated),
    /// `WGPU_ADAPTER_NAME` (case-insensitive substring of the adapter name) and
    /// `WGPU_POWER_PREF` (`low`, `high` or `none`); and the crate's own
    /// `CONV2D_WGPU_TUNING=measure` (see [`GpuContext::set_tuning`]) and
    /// `CONV2D_WGPU_TUNING_CACHE=PATH` (load the tuning cache from `PATH` if it
    /// exists, and save it there after every measurement).
    ///
    /// # Errors
    /// [`Conv2dError::NoAdapter`] when no adapter matches (wgpu's message, or the
    /// names of the adapters present), [`Conv2dError::DeviceRequest`] when the
    /// adapter refuses a device, [`Conv2dError::TuningCache`] for an unreadable
    /// or corrupt `CONV2D_WGPU_TUNING_CACHE` file, or a `CONV2D_WGPU_TUNING`
    /// that is neither `measure` nor `heuristic`.
    ///
    /// # Example
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
    /// let ctx = conv2d_wgpu::GpuContext::new()?;
    /// println!("running on {}", ctx.adapter_info().name);
    /// # Ok::<(), conv2d_wgpu::Conv2dError>(())
    /// ```
    pub fn new() -> Result<Self> {
        #[cfg(target_arch = "wasm32")]
        return Err(Conv2dError::Blocking {
            call: "GpuContext::new",
            instead: "GpuContext::new_async",
        });
        #[cfg(not(target_arch = "wasm32"))]
        pollster::block_on(Self::new_async())
    }

    /// The async form of [`GpuContext::new`]; runs on any executor.
    ///
    /// # Errors
    /// As [`GpuContext::new`].
    pub async fn new_async() -> Result<Self> {
        crate::trace::span!("conv2d.select_adapter");
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = select_adapter(&instance).await?;
        let info = adapter.get_info();
        // Subgroups let the implicit-GEMM kernel share weight loads (Vulkan,
        // Metal, DX12); SHADER_F16 lets layers run in Precision::F16;
        // timestamp queries time the candidates of Tuning::Measure.
        let wanted =
            wgpu::Features::SUBGROUP | wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY;
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("conv2d-wgpu"),
            required_limits: adapter.limits(),
            required_features: adapter.features() & wanted,
            ..Default::default()
        };
        let (device, queue) =
            adapter
                .request_device(&descriptor)
                .await
                .map_err(|e| Conv2dError::DeviceRequest {
                    adapter: info.name.clone(),
                    message: e.to_string(),
                })?;
        let ctx = Self::build(device, queue, info);
        ctx.tuning_from_env()?;
        Ok(ctx)
    }

    /// `CONV2D_WGPU_TUNING` and `CONV2D_WGPU_TUNING_CACHE`.
    fn tuning_from_env(&self) -> Result<()> {
        if let Ok(value) = std::env::var("CONV2D_WGPU_TUNING") {
            let mode = match value.to_ascii_lowercase().as_str() {
                "measure" => Tuning::Measure,
                "heuristic" | "" => Tuning::Heuristic,
                _ => {
                    return Err(Conv2dError::TuningCache {
                        path: "CONV2D_WGPU_TUNING".into(),
                        message: format!("{value:?} is neither \"measure\" nor \"heuristic\""),
                        source: None,
                    })
                }
            };
            self.set_tuning(mode);
        }
        if let Some(path) = std::env::var_os("CONV2D_WGPU_TUNING_CACHE") {
            self.inner.tuning.autosave_to(path.into())?;
        }
        Ok(())
    }

    /// Adopts a device and queue the application already owns (a renderer, a
    /// game, a test that wants particular limits). The crate plans with
    /// `device.limits()`, and sets the device-lost callback so that calls after a
    /// loss return [`Conv2dError::DeviceLost`].
    ///
    /// # Example
    /// ```
    /// use conv2d_wgpu::{wgpu, GpuContext};
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    /// # let Ok(adapter) = pollster::block_on(instance.request_adapter(&Default::default())) else {
    /// #     assert!(std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some(), "no wgpu adapter");
    /// #     return Ok(());
    /// # };
    /// # /*
    /// let adapter = pollster::block_on(instance.request_adapter(&Default::default()))?;
    /// # */
    /// let (device, queue) = pollster::block_on(adapter.request_device(&Default::default()))?;
    /// let ctx = GpuContext::from_wgpu(device, queue);
    /// assert_eq!(ctx.adapter_info().name, adapter.get_info().name);
    /// # Ok(()) }
    /// ```
    pub fn from_wgpu(device: wgpu::Device, queue: wgpu::Queue) -> Self {
        let info = device.adapter_info();
        Self::build(device, queue, info)
    }

    fn build(device: wgpu::Device, queue: wgpu::Queue, info: wgpu::AdapterInfo) -> Self {
        let limits = device.limits();
        let tuning = TuningStore::new(&info);
        let lost = Arc::new(Mutex::new(None));
        let record = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            let mut slot = record.lock().unwrap_or_else(|p| p.into_inner());
            *slot = Some(format!("{reason:?}: {message}"));
        });
        GpuContext {
            inner: Arc::new(ContextInner {
                device,
                queue,
                info,
                limits,
                lost,
                counters: Counters::default(),
                spare: Mutex::new(Vec::new()),
                tuning,
                extensions: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The adapter this context runs on (name, backend, driver).
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.inner.info
    }

    /// The device's limits, which the crate checks every tensor and dispatch against.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }

    /// Blocks until the device has finished all submitted work (for timing, or
    /// before handing a [`GpuTensor`](crate::GpuTensor)'s buffer to other code).
    ///
    /// # Errors
    /// [`Conv2dError::DeviceLost`], or [`Conv2dError::Wait`] when the wait fails.
    pub fn wait(&self) -> Result<()> {
        self.check_alive()?;
        #[cfg(target_arch = "wasm32")]
        return Err(Conv2dError::Blocking {
            call: "GpuContext::wait",
            instead: "the async forms, which await the browser",
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.inner
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| Conv2dError::Wait(e.to_string()))
    }

    /// Submits, readbacks, buffers and bind groups so far (all clones of this
    /// context together).
    ///
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
    /// let ctx = conv2d_wgpu::GpuContext::new()?;
    /// let before = ctx.stats();
    /// let tensor = ctx.upload(ndarray::Array4::<f32>::ones((1, 2, 2, 1)).view())?;
    /// assert_eq!(tensor.shape(), [1, 2, 2, 1]);
    /// assert_eq!(ctx.stats().buffers_created, before.buffers_created + 1);
    /// assert_eq!(ctx.stats().readbacks, before.readbacks);
    /// # Ok::<(), conv2d_wgpu::Conv2dError>(())
    /// ```
    pub fn stats(&self) -> ContextStats {
        let c = &self.inner.counters;
        ContextStats {
            submits: c.submits.load(Ordering::Relaxed),
            readbacks: c.readbacks.load(Ordering::Relaxed),
            buffers_created: c.buffers_created.load(Ordering::Relaxed),
            bind_groups_created: c.bind_groups_created.load(Ordering::Relaxed),
        }
    }

    /// How layers on this context choose their algorithm: the heuristic (the
    /// default) or measurement on this adapter. With [`Tuning::Measure`], the
    /// first forward pass of a layer on an input shape (or `algorithm_for`)
    /// times each algorithm that can run it: one warm-up run each, the
    /// heuristic's choice first (a candidate whose warm-up is over twice the
    /// fastest warm-up so far is dropped after it), then 5 rounds that run
    /// every remaining candidate once, in an order that rotates, so that the
    /// machine's drift falls on all alike, and 10 more rounds of those within
    /// 1.1x of the fastest median when there are two or more (near-ties, which
    /// noise could swap); each candidate's median counts (GPU timestamps where
    /// the device has `TIMESTAMP_QUERY`, else submit-and-wait wall time). It
    /// keeps the fastest, for every layer of that shape on this context. So
    /// the first call costs at most 16 runs of each candidate within 1.1x of
    /// the fastest, 6 of each other one that stays and 1 of each dropped one
    /// (at most 5 candidates; most layers have 2 or 3), plus compiling their
    /// pipelines; `bench_table`
    /// prints this time per shape. Later calls cost
    /// nothing extra. The results agree within the tolerance every algorithm
    /// is tested to.
    ///
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
    /// use conv2d_wgpu::{Conv2dParams, GpuContext, GpuConv2d, Tuning};
    /// use ndarray::Array4;
    /// let ctx = GpuContext::new()?;
    /// ctx.set_tuning(Tuning::Measure);
    /// let conv = GpuConv2d::new(&ctx, Array4::from_elem((3, 3, 8, 16), 0.1).view(), None, Conv2dParams::default())?;
    /// let fastest = conv.algorithm_for([1, 32, 32, 8])?; // measured here, once
    /// assert_eq!(ctx.tuning_stats().measured, 1);
    /// let path = std::env::temp_dir().join("conv2d_doc_tuning.json");
    /// ctx.save_tuning(&path)?; // ship it with the application
    /// let other = GpuContext::new()?;
    /// other.set_tuning(Tuning::Measure);
    /// other.load_tuning(&path)?;
    /// let again = GpuConv2d::new(&other, Array4::from_elem((3, 3, 8, 16), 0.1).view(), None, Conv2dParams::default())?;
    /// assert_eq!(again.algorithm_for([1, 32, 32, 8])?, fastest);
    /// assert_eq!(other.tuning_stats().measured, 0); // from the cache
    /// # Ok::<(), conv2d_wgpu::Conv2dError>(())
    /// ```
    pub fn set_tuning(&self, tuning: Tuning) {
        self.inner.tuning.set_mode(tuning);
    }

    /// The tuning mode (see [`GpuContext::set_tuning`]).
    pub fn tuning(&self) -> Tuning {
        self.inner.tuning.mode()
    }

    /// What the tuning cache has done: shapes measured, answered from the
    /// cache, entries held for this adapter.
    pub fn tuning_stats(&self) -> TuningStats {
        self.inner.tuning.stats()
    }

    /// Writes the tuning cache to `path` as JSON, keyed by adapter (name,
    /// backend, driver, vendor and device ids) and by layer and input shape.
    /// Sections of other adapters read by [`GpuContext::load_tuning`] are
    /// written back unchanged. The file is written beside `path` and renamed
    /// over it, so it is never left half written.
    ///
    /// # Errors
    /// [`Conv2dError::TuningCache`] naming the file when it cannot be written.
    pub fn save_tuning(&self, path: impl AsRef<Path>) -> Result<()> {
        self.inner.tuning.save(path.as_ref())
    }

    /// Adds the entries `path` holds for this adapter to the tuning cache
    /// (used when the mode is [`Tuning::Measure`]); entries measured on another
    /// adapter are ignored (a `tracing` event with the feature on).
    ///
    /// # Errors
    /// [`Conv2dError::TuningCache`] naming the file and what was wrong: it
    /// cannot be read, it is corrupt or truncated, or it is another format.
    pub fn load_tuning(&self, path: impl AsRef<Path>) -> Result<()> {
        self.inner.tuning.load(path.as_ref())
    }

    /// The wgpu device, for applications that mix their own work with the crate's.
    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    /// The wgpu queue the crate submits to.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }
}

impl GpuContext {
    /// `Err(DeviceLost)` once the device is gone.
    /// Also returns, on the web, an error the browser reported after the
    /// call that caused it had returned.
    pub(crate) fn check_alive(&self) -> Result<()> {
        let lost = self.inner.lost.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(why) = lost.as_ref() {
            return Err(Conv2dError::DeviceLost(why.clone()));
        }
        match scope::take_deferred(&self.inner.device) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Waits (without blocking) until the device has answered every error
    /// scope of the work so far, and returns the first error it reported. On
    /// native backends the answers are immediate and this returns at once; on
    /// the web it is what lets an async call report its own errors.
    pub(crate) async fn settle(&self) -> Result<()> {
        let scope = self
            .inner
            .device
            .push_error_scope(wgpu::ErrorFilter::Validation);
        // Answered after every scope popped before it.
        let error = scope.pop().await;
        self.check_alive()?;
        match error {
            Some(e) => Err(scope::gpu_error("settling the device's errors", e)),
            None => Ok(()),
        }
    }

    /// [`scope::capture`] on this context's device, for work that may itself
    /// fail; an error that comes from a lost device is reported as
    /// [`Conv2dError::DeviceLost`].
    pub(crate) fn capture<T>(
        &self,
        operation: &'static str,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        scope::capture(&self.inner.device, operation, f)
            .and_then(|result| result)
            .map_err(|e| {
                // Lets wgpu run the device-lost callback if that is what happened.
                let _ = self.inner.device.poll(wgpu::PollType::Poll);
                self.check_alive().err().unwrap_or(e)
            })
    }

    /// Submits one command buffer, counted in [`ContextStats::submits`].
    pub(crate) fn submit(&self, commands: wgpu::CommandBuffer) {
        crate::trace::span!("conv2d.submit");
        self.inner.counters.submits.fetch_add(1, Ordering::Relaxed);
        self.inner.queue.submit([commands]);
    }

    /// Waits for `staging` (blocking) and hands its bytes to `use_bytes`.
    pub(crate) fn read_back_with<T>(
        &self,
        staging: &wgpu::Buffer,
        use_bytes: impl FnOnce(&[u8]) -> T,
    ) -> Result<T> {
        crate::trace::span!("conv2d.readback", bytes = staging.size());
        self.inner
            .counters
            .readbacks
            .fetch_add(1, Ordering::Relaxed);
        readback::read_with(&self.inner.device, staging, use_bytes)
    }

    /// Waits for `staging` off the executor's thread and hands its bytes to `use_bytes`.
    pub(crate) async fn read_back_async_with<T>(
        &self,
        staging: &wgpu::Buffer,
        use_bytes: impl FnOnce(&[u8]) -> T,
    ) -> Result<T> {
        #[cfg(feature = "tracing")]
        tracing::info!(bytes = staging.size(), "conv2d.readback_async");
        self.inner
            .counters
            .readbacks
            .fetch_add(1, Ordering::Relaxed);
        readback::read_async_with(&self.inner.device, staging, use_bytes).await
    }

    /// Whether kernels may store f16: the device has `Features::SHADER_F16`
    /// (requested by [`GpuContext::new`] where the adapter has it).
    pub fn supports_f16(&self) -> bool {
        self.inner
            .device
            .features()
            .contains(wgpu::Features::SHADER_F16)
    }

    /// Whether kernels may use subgroup operations: the device has
    /// `Features::SUBGROUP` and every subgroup has at least 8 invocations.
    pub(crate) fn subgroups(&self) -> bool {
        self.inner
            .device
            .features()
            .contains(wgpu::Features::SUBGROUP)
            && self.inner.info.subgroup_min_size >= 8
    }

    /// Whether the device has subgroup operations with every subgroup exactly
    /// `lanes` invocations wide.
    pub(crate) fn subgroups_exactly(&self, lanes: u32) -> bool {
        let info = &self.inner.info;
        self.subgroups() && info.subgroup_min_size == lanes && info.subgroup_max_size == lanes
    }

    /// A real GPU (discrete, integrated or virtual) rather than a CPU
    /// implementation such as llvmpipe or SwiftShader.
    pub(crate) fn is_gpu(&self) -> bool {
        use wgpu::DeviceType::{DiscreteGpu, IntegratedGpu, VirtualGpu};
        matches!(
            self.inner.info.device_type,
            DiscreteGpu | IntegratedGpu | VirtualGpu
        )
    }

    /// SwiftShader, whose shader compiler is slow on large unrolled kernels:
    /// natively through its Vulkan ICD (it names itself), or a browser's
    /// WebGPU on a CPU adapter (Chromium's fallback is SwiftShader; the browser
    /// reports no name).
    pub(crate) fn is_swiftshader(&self) -> bool {
        let info = &self.inner.info;
        let named = [&info.name, &info.driver, &info.driver_info]
            .iter()
            .any(|s| s.to_ascii_lowercase().contains("swiftshader"));
        named || self.is_browser_on_cpu()
    }

    /// A browser's WebGPU on a CPU adapter (SwiftShader in Chromium).
    fn is_browser_on_cpu(&self) -> bool {
        let info = &self.inner.info;
        info.backend == wgpu::Backend::BrowserWebGpu && info.device_type == wgpu::DeviceType::Cpu
    }

    /// The context's instance of `T` (made with `Default` on first use): state
    /// that a layer above keeps per device, such as compiled pipelines.
    pub(crate) fn extension<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut slots = self
            .inner
            .extensions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let slot = slots
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()));
        slot.clone()
            .downcast::<T>()
            .expect("extension slots are keyed by their type")
    }

    /// Creates a buffer, counted in [`ContextStats::buffers_created`].
    pub(crate) fn create_buffer(&self, descriptor: &wgpu::BufferDescriptor) -> wgpu::Buffer {
        let c = &self.inner.counters;
        c.buffers_created.fetch_add(1, Ordering::Relaxed);
        self.inner.device.create_buffer(descriptor)
    }

    /// Creates a bind group, counted in [`ContextStats::bind_groups_created`].
    pub(crate) fn create_bind_group(
        &self,
        descriptor: &wgpu::BindGroupDescriptor,
    ) -> wgpu::BindGroup {
        let c = &self.inner.counters;
        c.bind_groups_created.fetch_add(1, Ordering::Relaxed);
        self.inner.device.create_bind_group(descriptor)
    }

    /// A tensor buffer of `bytes`: a dropped tensor's when one of that size is
    /// spare (no allocation, no zero-fill), else a new one.
    pub(crate) fn tensor_buffer(&self, bytes: u64) -> wgpu::Buffer {
        let mut spare = self.inner.spare.lock().unwrap_or_else(|p| p.into_inner());
        match spare.iter().position(|b| b.size() == bytes) {
            Some(i) => spare.swap_remove(i),
            None => {
                drop(spare);
                self.new_tensor_buffer("conv2d output", bytes)
            }
        }
    }

    /// Keeps a dropped tensor's buffer for reuse (the oldest goes when full).
    pub(crate) fn recycle(&self, buffer: wgpu::Buffer) {
        if self.check_alive().is_err() {
            return;
        }
        let mut spare = self.inner.spare.lock().unwrap_or_else(|p| p.into_inner());
        if spare.len() == MAX_SPARE {
            spare.remove(0);
        }
        spare.push(buffer);
    }

    /// Whether two handles share one context (and so one device).
    pub(crate) fn same_context(&self, other: &GpuContext) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.inner.info.name)
            .field("backend", &self.inner.info.backend)
            .finish_non_exhaustive()
    }
}
