//! `GpuTensor`: an NHWC f32 or f16 tensor that lives on the device.

use std::sync::atomic::{AtomicBool, Ordering};

use half::f16;
use ndarray::{Array4, ArrayView4, AsArray, Ix4};

use crate::runtime::context::GpuContext;
use crate::runtime::elements;
use crate::runtime::limits::check_buffer;
use crate::semantics::error::{Conv2dError, Result};
use crate::semantics::geometry::shape4;
use crate::semantics::precision::DType;

/// An NHWC tensor on the device, of `f32` or `f16` elements ([`GpuTensor::dtype`]):
/// the input and output of
/// [`GpuConv2d::forward_tensor`](crate::GpuConv2d::forward_tensor), so layers can be
/// chained with no host round trip. Read it back with [`GpuTensor::to_array`]
/// (as f32, whatever it holds) or [`GpuTensor::to_array_f16`].
///
/// # Example
/// ```
/// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
/// use conv2d_wgpu::GpuContext;
/// use ndarray::Array4;
/// let ctx = GpuContext::new()?;
/// let x = Array4::from_shape_fn((1, 2, 3, 4), |(_, h, w, c)| (h * 12 + w * 4 + c) as f32);
/// let t = ctx.upload(x.view())?;
/// assert_eq!(t.shape(), [1, 2, 3, 4]);
/// assert_eq!(t.to_array()?, x);
/// # Ok::<(), conv2d_wgpu::Conv2dError>(())
/// ```
pub struct GpuTensor {
    pub(crate) ctx: GpuContext,
    pub(crate) buffer: wgpu::Buffer,
    pub(crate) shape: [usize; 4],
    pub(crate) dtype: DType,
    /// Set once [`GpuTensor::buffer`] handed the buffer out: the caller may
    /// keep a clone, so it is never recycled for another tensor.
    handed_out: AtomicBool,
}

impl GpuContext {
    /// Copies an NHWC array (any view) into a new f32 device tensor.
    ///
    /// # Errors
    /// A zero-sized dimension, a tensor beyond `max_buffer_size`, a lost device,
    /// or a wgpu error captured while uploading.
    pub fn upload<'a, V: AsArray<'a, f32, Ix4>>(&self, x: V) -> Result<GpuTensor> {
        self.upload_as(x, DType::F32)
    }

    /// Copies an NHWC f32 array into a new device tensor of `dtype`: for
    /// [`DType::F16`] each value is rounded once to the nearest f16 (ties to
    /// even; beyond ±65504 it becomes infinite), on the host.
    ///
    /// # Errors
    /// As [`GpuContext::upload`].
    ///
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
    /// use conv2d_wgpu::{DType, GpuContext};
    /// use ndarray::Array4;
    /// let ctx = GpuContext::new()?;
    /// let x = Array4::from_elem((1, 2, 2, 3), 0.1f32);
    /// let t = ctx.upload_as(&x, DType::F16)?;
    /// assert_eq!(t.dtype(), DType::F16);
    /// assert_eq!(t.device_bytes(), 2 * 12); // half of f32's 48
    /// assert_eq!(t.to_array()?[[0, 1, 1, 2]], 0.099975586); // 0.1 in f16, widened exactly
    /// # Ok::<(), conv2d_wgpu::Conv2dError>(())
    /// ```
    pub fn upload_as<'a, V: AsArray<'a, f32, Ix4>>(&self, x: V, dtype: DType) -> Result<GpuTensor> {
        let x: ArrayView4<f32> = x.into();
        let shape = shape4(x.shape());
        self.check_tensor("input", shape, dtype)?;
        let x = x.as_standard_layout();
        let data = x.as_slice().expect("standard layout is contiguous");
        let encoded = elements::encode(data, dtype);
        let buffer = self.capture("uploading a tensor", || {
            self.tensor_buffer_init("conv2d tensor", encoded.bytes())
        })?;
        Ok(GpuTensor::new(self.clone(), buffer, shape, dtype))
    }

    /// Copies an NHWC array of [`half::f16`] (any view) into a new f16 device
    /// tensor, bit for bit.
    ///
    /// # Errors
    /// As [`GpuContext::upload`].
    pub fn upload_f16<'a, V: AsArray<'a, f16, Ix4>>(&self, x: V) -> Result<GpuTensor> {
        let x: ArrayView4<f16> = x.into();
        let shape = shape4(x.shape());
        self.check_tensor("input", shape, DType::F16)?;
        let x = x.as_standard_layout();
        let data = x.as_slice().expect("standard layout is contiguous");
        let buffer = self.capture("uploading a tensor", || {
            self.tensor_buffer_init("conv2d tensor", bytemuck::cast_slice(data))
        })?;
        Ok(GpuTensor::new(self.clone(), buffer, shape, DType::F16))
    }
}

impl GpuContext {
    /// A device tensor of zeros, for example to preallocate the outputs of
    /// [`GpuConv2d::forward_tensor_into`](crate::GpuConv2d::forward_tensor_into).
    ///
    /// # Errors
    /// A zero-sized dimension, a tensor beyond `max_buffer_size`, a lost device,
    /// or a wgpu error.
    ///
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
    /// let ctx = conv2d_wgpu::GpuContext::new()?;
    /// let t = ctx.zeros([1, 2, 3, 4])?;
    /// assert_eq!(t.to_array()?, ndarray::Array4::<f32>::zeros((1, 2, 3, 4)));
    /// # Ok::<(), conv2d_wgpu::Conv2dError>(())
    /// ```
    pub fn zeros(&self, shape: [usize; 4]) -> Result<GpuTensor> {
        self.zeros_as(shape, DType::F32)
    }

    /// A device tensor of zeros of `dtype` (see [`GpuContext::zeros`]).
    ///
    /// # Errors
    /// As [`GpuContext::zeros`].
    pub fn zeros_as(&self, shape: [usize; 4], dtype: DType) -> Result<GpuTensor> {
        let bytes = self.check_tensor("tensor", shape, dtype)?;
        // wgpu zero-initialises new buffers.
        let buffer = self.capture("allocating a tensor", || {
            Ok(self.new_tensor_buffer("conv2d tensor", bytes))
        })?;
        Ok(GpuTensor::new(self.clone(), buffer, shape, dtype))
    }
}

impl GpuContext {
    /// The checks every new tensor passes: no zero-sized dimension, a live
    /// device, within `max_buffer_size`. Returns its bytes.
    fn check_tensor(&self, tensor: &'static str, shape: [usize; 4], dtype: DType) -> Result<u64> {
        if shape.contains(&0) {
            return Err(Conv2dError::ZeroSizedDimension {
                tensor,
                shape: shape.to_vec(),
            });
        }
        self.check_alive()?;
        check_buffer(tensor, &shape, dtype, self.limits())
    }
}

impl GpuTensor {
    /// A tensor over a buffer the application made (row-major NHWC f32 from
    /// offset 0). The buffer needs `STORAGE | COPY_SRC | COPY_DST` and at least
    /// `4 * n * h * w * c` bytes; the tensor owns it from here on (it is never
    /// recycled for another tensor, even after the tensor drops).
    ///
    /// # Errors
    /// [`Conv2dError::BufferUsage`] naming the missing usages,
    /// [`Conv2dError::BufferSize`] for a buffer too small, a zero-sized or
    /// too-large shape, a lost device.
    ///
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
    /// use conv2d_wgpu::{wgpu, GpuContext, GpuTensor};
    /// let ctx = GpuContext::new()?;
    /// let buffer = ctx.device().create_buffer(&wgpu::BufferDescriptor {
    ///     label: Some("my activations"),
    ///     size: 4 * 2 * 2 * 3,
    ///     usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
    ///     mapped_at_creation: false,
    /// });
    /// let t = GpuTensor::from_buffer(&ctx, buffer, [1, 2, 2, 3])?;
    /// assert_eq!(t.shape(), [1, 2, 2, 3]);
    /// let back: wgpu::Buffer = t.into_buffer();
    /// assert_eq!(back.size(), 48);
    /// # Ok::<(), conv2d_wgpu::Conv2dError>(())
    /// ```
    pub fn from_buffer(ctx: &GpuContext, buffer: wgpu::Buffer, shape: [usize; 4]) -> Result<Self> {
        Self::from_buffer_as(ctx, buffer, shape, DType::F32)
    }

    /// [`GpuTensor::from_buffer`] for a buffer of `dtype` elements: it needs
    /// `n * h * w * c` times [`DType::size_bytes`] bytes, rounded up to 4.
    ///
    /// # Errors
    /// As [`GpuTensor::from_buffer`].
    pub fn from_buffer_as(
        ctx: &GpuContext,
        buffer: wgpu::Buffer,
        shape: [usize; 4],
        dtype: DType,
    ) -> Result<Self> {
        let needed = ctx.check_tensor("tensor", shape, dtype)?;
        let usage = buffer.usage();
        let missing = crate::runtime::buffers::TENSOR_USAGE.difference(usage);
        if !missing.is_empty() {
            return Err(Conv2dError::BufferUsage {
                shape,
                missing: format!("{missing:?}"),
                has: format!("{usage:?}"),
            });
        }
        if buffer.size() < needed {
            return Err(Conv2dError::BufferSize {
                shape,
                needed,
                size: buffer.size(),
            });
        }
        let tensor = GpuTensor::new(ctx.clone(), buffer, shape, dtype);
        tensor.handed_out.store(true, Ordering::Relaxed); // the caller made it
        Ok(tensor)
    }

    /// The tensor's buffer, for the application to keep: it is never recycled
    /// for another tensor afterwards.
    pub fn into_buffer(self) -> wgpu::Buffer {
        self.handed_out.store(true, Ordering::Relaxed);
        self.buffer.clone()
    }

    /// A tensor over `buffer`, which holds `shape`'s elements of `dtype`.
    pub(crate) fn new(
        ctx: GpuContext,
        buffer: wgpu::Buffer,
        shape: [usize; 4],
        dtype: DType,
    ) -> Self {
        GpuTensor {
            ctx,
            buffer,
            shape,
            dtype,
            handed_out: AtomicBool::new(false),
        }
    }

    /// The shape, NHWC.
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// The element type on the device.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Bytes of device memory the tensor's buffer holds.
    pub fn device_bytes(&self) -> u64 {
        self.buffer.size()
    }

    /// The context the tensor lives on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The device buffer (row-major NHWC, [`GpuTensor::dtype`] elements), for applications that bind it
    /// themselves. A tensor whose buffer was handed out here is never recycled
    /// for another output when it drops, so a clone the caller keeps stays theirs.
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.handed_out.store(true, Ordering::Relaxed);
        &self.buffer
    }

    /// Copies the tensor to the host as f32 (blocking); f16 values widen exactly.
    ///
    /// # Errors
    /// A lost device, a wgpu error, or a failed map.
    pub fn to_array(&self) -> Result<Array4<f32>> {
        let staging = self.copy_to_staging()?;
        let values = self
            .ctx
            .read_back_with(&staging, |bytes| self.decode(bytes))?;
        Ok(shaped(self.shape, values))
    }

    /// The async form of [`GpuTensor::to_array`]; runs on any executor.
    ///
    /// # Errors
    /// As [`GpuTensor::to_array`].
    pub async fn to_array_async(&self) -> Result<Array4<f32>> {
        let staging = self.copy_to_staging()?;
        let values = self
            .ctx
            .read_back_async_with(&staging, |bytes| self.decode(bytes))
            .await?;
        Ok(shaped(self.shape, values))
    }

    /// Copies the tensor to the host as [`half::f16`] (blocking): an f16
    /// tensor bit for bit, an f32 tensor rounded once to nearest.
    ///
    /// # Errors
    /// As [`GpuTensor::to_array`].
    pub fn to_array_f16(&self) -> Result<Array4<f16>> {
        let staging = self.copy_to_staging()?;
        let len = self.len();
        let values = self
            .ctx
            .read_back_with(&staging, |bytes| elements::to_f16(bytes, self.dtype, len))?;
        Ok(
            Array4::from_shape_vec(self.shape, values)
                .expect("a buffer holds its shape's elements"),
        )
    }

    fn len(&self) -> usize {
        self.shape.iter().product()
    }

    fn decode(&self, bytes: &[u8]) -> Vec<f32> {
        elements::with_f32(bytes, self.dtype, self.len(), <[f32]>::to_vec)
    }

    fn copy_to_staging(&self) -> Result<wgpu::Buffer> {
        self.ctx
            .copy_to_staging(&self.buffer, "reading a tensor back")
    }
}

/// `values` read back from a buffer made for `shape`.
pub(crate) fn shaped(shape: [usize; 4], values: Vec<f32>) -> Array4<f32> {
    Array4::from_shape_vec(shape, values).expect("a buffer holds its shape's elements")
}

impl Drop for GpuTensor {
    /// The buffer goes back to the context, for the next output of its size
    /// (queue order keeps earlier work that reads it ahead of later writes).
    fn drop(&mut self) {
        if self.handed_out.load(Ordering::Relaxed) {
            return; // the caller may hold a clone
        }
        // wgpu buffers are shared handles: the clone keeps this one alive.
        self.ctx.recycle(self.buffer.clone());
    }
}

impl std::fmt::Debug for GpuTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuTensor")
            .field("shape", &self.shape)
            .field("dtype", &self.dtype)
            .field("adapter", &self.ctx.inner.info.name)
            .finish()
    }
}
