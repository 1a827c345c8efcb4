//! The one error type of the crate, and the typed data it carries.

use std::fmt;
use std::sync::Arc;

use crate::semantics::algorithm::Algorithm;
use crate::semantics::precision::DType;

/// Everything that can go wrong in a convolution, on the CPU or the GPU.
///
/// Messages name the parameter and the shapes involved, so that an error
/// printed by an application says what to fix.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Conv2dError {
    /// The input's channel count does not match what the weights expect.
    #[error(
        "conv2d: input has {input_channels} channels but weights expect {expected} \
         (input NHWC {input_shape:?}, weights HWIO {weights_shape:?}, groups {groups})"
    )]
    ChannelMismatch {
        /// Input shape, NHWC.
        input_shape: [usize; 4],
        /// Weight shape, HWIO.
        weights_shape: [usize; 4],
        /// Number of groups.
        groups: usize,
        /// Channels the input has.
        input_channels: usize,
        /// Channels the weights expect (`weights_shape[2] * groups`).
        expected: usize,
    },

    /// The bias does not have one element per output channel.
    #[error(
        "conv2d: bias has {bias_len} elements but weights HWIO {weights_shape:?} \
         have {out_channels} output channels"
    )]
    BiasLength {
        /// Length of the bias given.
        bias_len: usize,
        /// Weight shape, HWIO.
        weights_shape: [usize; 4],
        /// Output channels (`weights_shape[3]`).
        out_channels: usize,
    },

    /// A tensor has a dimension of size zero.
    #[error("conv2d: {tensor} has a zero-sized dimension (shape {shape:?})")]
    ZeroSizedDimension {
        /// Which tensor: "input", "weights" or "bias".
        tensor: &'static str,
        /// Its shape (NHWC, HWIO, or `[len]` for the bias).
        shape: Vec<usize>,
    },

    /// A stride of 0.
    #[error("conv2d: stride must be at least 1 in both axes, got {stride:?}")]
    InvalidStride {
        /// The stride given, `[sh, sw]`.
        stride: [usize; 2],
    },

    /// A dilation of 0.
    #[error("conv2d: dilation must be at least 1 in both axes, got {dilation:?}")]
    InvalidDilation {
        /// The dilation given, `[dh, dw]`.
        dilation: [usize; 2],
    },

    /// `groups == 0`.
    #[error("conv2d: groups must be at least 1, got 0 (weights HWIO {weights_shape:?})")]
    ZeroGroups {
        /// Weight shape, HWIO.
        weights_shape: [usize; 4],
    },

    /// Output channels not divisible by groups (input channels are checked by
    /// [`Conv2dError::ChannelMismatch`], since weights hold `cin / groups`).
    #[error(
        "conv2d: groups {groups} must divide the output channels {out_channels} \
         (weights HWIO {weights_shape:?})"
    )]
    GroupsMismatch {
        /// Number of groups.
        groups: usize,
        /// Output channels.
        out_channels: usize,
        /// Weight shape, HWIO.
        weights_shape: [usize; 4],
    },

    /// The convolution would produce no output (the padded input is smaller
    /// than the dilated kernel).
    #[error(
        "conv2d: output would be empty: padded input {padded_hw:?} (input NHWC {input_shape:?}) \
         is smaller than the dilated kernel extent {kernel_extent:?} (weights HWIO {weights_shape:?})"
    )]
    EmptyOutput {
        /// Input shape, NHWC.
        input_shape: [usize; 4],
        /// Weight shape, HWIO.
        weights_shape: [usize; 4],
        /// Height and width after padding.
        padded_hw: [usize; 2],
        /// `dilation * (k - 1) + 1` in each axis.
        kernel_extent: [usize; 2],
    },

    /// `Activation::LeakyRelu` with a NaN or infinite slope.
    #[error("conv2d: LeakyRelu slope must be finite, got {slope}")]
    NonFiniteSlope {
        /// The slope given.
        slope: f32,
    },

    /// A size computation overflowed (absurdly large shapes or parameters).
    #[error("conv2d: {what} overflows the index range the kernels use")]
    SizeOverflow {
        /// What was being computed, with the values involved.
        what: String,
    },

    /// No wgpu adapter matched; the message from wgpu (or the adapter list) is kept.
    #[error("conv2d: no wgpu adapter: {0}")]
    NoAdapter(String),

    /// The adapter refused to give a device.
    #[error("conv2d: requesting a device from adapter {adapter:?} failed: {message}")]
    DeviceRequest {
        /// Adapter name.
        adapter: String,
        /// wgpu's message.
        message: String,
    },

    /// A tensor does not fit in one storage binding or buffer of this device.
    #[error(
        "conv2d: {tensor} {shape:?} needs {bytes} bytes but the device's {limit_name} is {limit} bytes"
    )]
    TensorTooLarge {
        /// Which tensor: "input", "output", "weights" or "bias".
        tensor: &'static str,
        /// Its shape.
        shape: Vec<usize>,
        /// Bytes it needs.
        bytes: u64,
        /// Name of the `wgpu::Limits` field that is exceeded.
        limit_name: &'static str,
        /// Value of that limit.
        limit: u64,
    },

    /// Even one output row needs more workgroups than one dispatch may have.
    #[error(
        "conv2d: output NHWC {output_shape:?} ({outputs} outputs) needs more workgroups than \
         {max_per_dimension} x {max_per_dimension} (max_compute_workgroups_per_dimension)"
    )]
    DispatchTooLarge {
        /// The smallest piece that could not be dispatched (one output row), NHWC.
        output_shape: [usize; 4],
        /// Outputs in it.
        outputs: u64,
        /// The device's `max_compute_workgroups_per_dimension`.
        max_per_dimension: u32,
    },

    /// A workgroup size beyond the device's limits.
    #[error("conv2d: workgroup size {size:?} exceeds the device's {limit_name} ({limit})")]
    WorkgroupTooLarge {
        /// The workgroup size, `[x, y, z]`.
        size: [u32; 3],
        /// Name of the `wgpu::Limits` field that is exceeded.
        limit_name: &'static str,
        /// Value of that limit.
        limit: u32,
    },

    /// A kernel's workgroup memory beyond the device's limit.
    #[error(
        "conv2d: a kernel needs {bytes} bytes of workgroup memory but the device's \
         max_compute_workgroup_storage_size is {limit}"
    )]
    WorkgroupMemoryTooLarge {
        /// Bytes the kernel declares.
        bytes: u32,
        /// The device's `max_compute_workgroup_storage_size`.
        limit: u32,
    },

    /// wgpu reported an error (validation, out-of-memory or internal), captured
    /// with an error scope.
    #[error("conv2d: wgpu {kind} error while {operation}: {message}")]
    Gpu {
        /// What the crate was doing.
        operation: &'static str,
        /// Validation, out of memory or internal (a lost device is
        /// [`Conv2dError::DeviceLost`]; [`Conv2dError::gpu_kind`] covers both).
        kind: GpuErrorKind,
        /// wgpu's message.
        message: String,
    },

    /// A tensor made on one `GpuContext` was passed to a layer of another.
    #[error(
        "conv2d: tensor {shape:?} lives on adapter {tensor_adapter:?} (another GpuContext) \
         but the layer runs on {layer_adapter:?}; upload it with the layer's context"
    )]
    ContextMismatch {
        /// The tensor's shape.
        shape: [usize; 4],
        /// The tensor's adapter name.
        tensor_adapter: String,
        /// The layer's adapter name.
        layer_adapter: String,
    },

    /// A buffer handed to [`GpuTensor::from_buffer`](crate::GpuTensor::from_buffer)
    /// lacks usages a tensor needs.
    #[error(
        "conv2d: a buffer for tensor {shape:?} needs usage {missing} (it has {has}); \
         create it with STORAGE | COPY_SRC | COPY_DST"
    )]
    BufferUsage {
        /// The tensor's shape.
        shape: [usize; 4],
        /// The usages it lacks, as wgpu prints them.
        missing: String,
        /// The usages it has.
        has: String,
    },

    /// A buffer too small for the tensor it should hold, or not 4-byte aligned.
    #[error("conv2d: tensor {shape:?} needs {needed} bytes but the buffer has {size}")]
    BufferSize {
        /// The tensor's shape.
        shape: [usize; 4],
        /// Bytes the tensor needs.
        needed: u64,
        /// Bytes the buffer has.
        size: u64,
    },

    /// An output tensor whose shape is not the layer's output for this input.
    #[error(
        "conv2d: output tensor is {got:?} but the layer makes {expected:?} from input {input:?}"
    )]
    OutputShape {
        /// The input's shape.
        input: [usize; 4],
        /// The output shape the layer computes.
        expected: [usize; 4],
        /// The output tensor's shape.
        got: [usize; 4],
    },

    /// A tensor whose element type is not the one the layer stores (an f16
    /// tensor given to an f32 layer, or the other way round).
    #[error(
        "conv2d: tensor {shape:?} holds {tensor} but the layer runs in {layer}; upload it with \
         GpuContext::upload_as(.., DType::{layer:?})"
    )]
    DTypeMismatch {
        /// The tensor's shape (for a [`GpuSequential`](crate::GpuSequential),
        /// the later layer's HWIO weights shape).
        shape: [usize; 4],
        /// The tensor's element type (or the earlier layer's).
        tensor: DType,
        /// The layer's element type.
        layer: DType,
    },

    /// The adapter lacks a wgpu feature the request needs (e.g. `SHADER_F16`
    /// for [`Precision::F16`](crate::Precision::F16)).
    #[error("conv2d: {needed_for} needs the wgpu feature {feature}, which adapter {adapter:?} does not have")]
    MissingFeature {
        /// The wgpu feature, as named in `wgpu::Features`.
        feature: &'static str,
        /// What asked for it.
        needed_for: &'static str,
        /// The adapter's name.
        adapter: String,
    },

    /// A [`GpuSequential`](crate::GpuSequential) needs at least one layer.
    #[error("conv2d: a GpuSequential needs at least one layer")]
    EmptySequential,

    /// The same buffer given as input and output (the kernels would race).
    #[error("conv2d: input and output are the same buffer (tensor {shape:?}); use two tensors")]
    AliasedTensors {
        /// The tensor's shape.
        shape: [usize; 4],
    },

    /// A forced [`Algorithm`](crate::Algorithm) cannot run this layer or input.
    #[error(
        "conv2d: algorithm {algorithm:?} cannot run weights HWIO {weights_shape:?} with groups \
         {groups}: {reason}"
    )]
    UnsupportedAlgorithm {
        /// The algorithm asked for.
        algorithm: Algorithm,
        /// What it needs.
        reason: &'static str,
        /// Weight shape, HWIO.
        weights_shape: [usize; 4],
        /// Number of groups.
        groups: usize,
    },

    /// The device was lost (destroyed, reset, or the driver failed); every later
    /// call on the context returns this.
    #[error("conv2d: the device was lost: {0}")]
    DeviceLost(String),

    /// A `.npy` file could not be read as what was expected (feature `npy`).
    #[error("conv2d: {path}: {message}")]
    Npy {
        /// The file.
        path: String,
        /// What was wrong: missing, truncated, corrupt, wrong dtype or rank.
        message: String,
        /// The io or npy error underneath, when there is one.
        #[source]
        source: Option<SourceError>,
    },

    /// A call that would block, made on the web (wasm32), where nothing may
    /// wait for the device: use the async form it names.
    #[error("conv2d: {call} would block, which the web does not allow; use {instead}")]
    Blocking {
        /// What was called.
        call: &'static str,
        /// What to use instead.
        instead: &'static str,
    },

    /// A tuning cache file could not be read or written (see
    /// [`GpuContext::load_tuning`](crate::GpuContext::load_tuning)).
    #[error("conv2d: tuning cache {path}: {message}")]
    TuningCache {
        /// The file.
        path: String,
        /// What was wrong: unreadable, corrupt or truncated, another format.
        message: String,
        /// The io or JSON error underneath, when there is one.
        #[source]
        source: Option<SourceError>,
    },

    /// Mapping a result buffer for reading failed.
    #[error("conv2d: reading the result back failed: {0}")]
    Readback(String),

    /// Waiting for the device to finish its work failed (`Device::poll`).
    #[error("conv2d: waiting for the device failed: {0}")]
    Wait(String),
}

impl Conv2dError {
    /// The kind of a GPU failure: `Some` for [`Conv2dError::Gpu`] and
    /// [`Conv2dError::DeviceLost`], `None` for everything else.
    ///
    /// ```
    /// use conv2d_wgpu::{Conv2dError, GpuErrorKind};
    /// let lost = Conv2dError::DeviceLost("destroyed".into());
    /// assert_eq!(lost.gpu_kind(), Some(GpuErrorKind::DeviceLost));
    /// assert_eq!(Conv2dError::NoAdapter("none".into()).gpu_kind(), None);
    /// ```
    pub fn gpu_kind(&self) -> Option<GpuErrorKind> {
        match self {
            Conv2dError::Gpu { kind, .. } => Some(*kind),
            Conv2dError::DeviceLost(_) => Some(GpuErrorKind::DeviceLost),
            _ => None,
        }
    }
}

/// What kind of failure wgpu reported, so callers can match (say) out of memory.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GpuErrorKind {
    /// The crate (or the application) asked for something invalid.
    Validation,
    /// The device could not allocate.
    OutOfMemory,
    /// The driver or wgpu failed internally.
    Internal,
    /// The device is gone (reported as [`Conv2dError::DeviceLost`]).
    DeviceLost,
}

impl fmt::Display for GpuErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GpuErrorKind::Validation => "validation",
            GpuErrorKind::OutOfMemory => "out-of-memory",
            GpuErrorKind::Internal => "internal",
            GpuErrorKind::DeviceLost => "device-lost",
        })
    }
}

/// The error underneath an io or `.npy` failure, shared so that
/// [`Conv2dError`] stays `Clone`. Reach the original with [`SourceError::get`].
///
/// ```
/// use conv2d_wgpu::SourceError;
/// let e = SourceError::new(std::io::Error::from(std::io::ErrorKind::NotFound));
/// assert!(e.get().downcast_ref::<std::io::Error>().is_some());
/// ```
#[derive(Clone)]
pub struct SourceError(Arc<dyn std::error::Error + Send + Sync>);

impl SourceError {
    /// Wraps an error.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        SourceError(Arc::new(error))
    }

    /// The original error, for `downcast_ref`.
    pub fn get(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl fmt::Debug for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl std::error::Error for SourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Two sources are equal when they say the same (the originals need not be `PartialEq`).
impl PartialEq for SourceError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Conv2dError> = std::result::Result<T, E>;
