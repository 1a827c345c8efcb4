//! `GpuTensor`: an NHWC f32 tensor that lives on the device.

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array4, ArrayView4, AsArray, Ix4};

use crate::runtime::context::GpuContext;
use crate::runtime::limits::check_buffer;
use crate::semantics::error::{Conv2dError, Result};
use crate::semantics::geometry::shape4;

/// An NHWC `f32` tensor on the device: the input and output of
/// [`GpuConv2d::forward_tensor`](crate::GpuConv2d::forward_tensor), so layers can be
/// chained with no host round trip. Read it back with [`GpuTensor::to_array`].
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
    /// Set once [`GpuTensor::buffer`] handed the buffer out: the caller may
    /// keep a clone, so it is never recycled for another tensor.
    handed_out: AtomicBool,
}

impl GpuContext {
    /// Copies an NHWC array (any view) into a new device tensor.
    ///
    /// # Errors
    /// A zero-sized dimension, a tensor beyond `max_buffer_size`, a lost device,
    /// or a wgpu error captured while uploading.
    pub fn upload<'a, V: AsArray<'a, f32, Ix4>>(&self, x: V) -> Result<GpuTensor> {
        let x: ArrayView4<f32> = x.into();
        let shape = shape4(x.shape());
        self.check_tensor("input", shape)?;
        let x = x.as_standard_layout();
        let data = x.as_slice().expect("standard layout is contiguous");
        let buffer = self.capture("uploading a tensor", || {
            self.tensor_buffer_init("conv2d tensor", data)
        })?;
        Ok(GpuTensor::new(self.clone(), buffer, shape))
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
        let bytes = self.check_tensor("tensor", shape)?;
        // wgpu zero-initialises new buffers.
        let buffer = self.capture("allocating a tensor", || {
            Ok(self.new_tensor_buffer("conv2d tensor", bytes))
        })?;
        Ok(GpuTensor::new(self.clone(), buffer, shape))
    }
}

impl GpuContext {
    /// The checks every new tensor passes: no zero-sized dimension, a live
    /// device, within `max_buffer_size`. Returns its bytes.
    fn check_tensor(&self, tensor: &'static str, shape: [usize; 4]) -> Result<u64> {
        if shape.contains(&0) {
            return Err(Conv2dError::ZeroSizedDimension {
                tensor,
                shape: shape.to_vec(),
            });
        }
        self.check_alive()?;
        check_buffer(tensor, &shape, self.limits())
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
        let needed = ctx.check_tensor("tensor", shape)?;
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
        let tensor = GpuTensor::new(ctx.clone(), buffer, shape);
        tensor.handed_out.store(true, Ordering::Relaxed); // the caller made it
        Ok(tensor)
    }

    /// The tensor's buffer, for the application to keep: it is never recycled
    /// for another tensor afterwards.
    pub fn into_buffer(self) -> wgpu::Buffer {
        self.handed_out.store(true, Ordering::Relaxed);
        self.buffer.clone()
    }

    /// A tensor over `buffer`, which holds `shape`'s f32s.
    pub(crate) fn new(ctx: GpuContext, buffer: wgpu::Buffer, shape: [usize; 4]) -> Self {
        GpuTensor {
            ctx,
            buffer,
            shape,
            handed_out: AtomicBool::new(false),
        }
    }

    /// The shape, NHWC.
    pub fn shape(&self) -> [usize; 4] {
        self.shape
    }

    /// The context the tensor lives on.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    /// The device buffer (row-major NHWC f32), for applications that bind it
    /// themselves. A tensor whose buffer was handed out here is never recycled
    /// for another output when it drops, so a clone the caller keeps stays theirs.
    pub fn buffer(&self) -> &wgpu::Buffer {
        self.handed_out.store(true, Ordering::Relaxed);
        &self.buffer
    }

    /// Copies the tensor to the host (blocking).
    ///
    /// # Errors
    /// A lost device, a wgpu error, or a failed map.
    pub fn to_array(&self) -> Result<Array4<f32>> {
        let staging = self.copy_to_staging()?;
        let values = self.ctx.read_back(&staging)?;
        self.shaped(values)
    }

    /// The async form of [`GpuTensor::to_array`]; runs on any executor.
    ///
    /// # Errors
    /// As [`GpuTensor::to_array`].
    pub async fn to_array_async(&self) -> Result<Array4<f32>> {
        let staging = self.copy_to_staging()?;
        let values = self.ctx.read_back_async(&staging).await?;
        self.shaped(values)
    }

    fn copy_to_staging(&self) -> Result<wgpu::Buffer> {
        self.ctx.check_alive()?;
        let device = &self.ctx.inner.device;
        self.ctx.capture("reading a tensor back", || {
            let staging = self.ctx.staging_buffer(self.buffer.size());
            let mut encoder = device.create_command_encoder(&Default::default());
            encoder.copy_buffer_to_buffer(&self.buffer, 0, &staging, 0, self.buffer.size());
            self.ctx.submit(encoder.finish());
            Ok(staging)
        })
    }

    fn shaped(&self, values: Vec<f32>) -> Result<Array4<f32>> {
        Ok(shaped(self.shape, values))
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
            .field("adapter", &self.ctx.inner.info.name)
            .finish()
    }
}
