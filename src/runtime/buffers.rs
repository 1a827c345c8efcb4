//! Buffer creation that fails with `Err` rather than panicking when the device
//! is gone (wgpu's `create_buffer_init` panics if the mapped range is
//! unavailable), counted in [`ContextStats::buffers_created`](crate::ContextStats).

use crate::runtime::context::GpuContext;
use crate::semantics::error::{Conv2dError, GpuErrorKind, Result};

/// Usage of every tensor buffer: bound by kernels, copied in and out.
pub(crate) const TENSOR_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

impl GpuContext {
    /// A buffer holding `contents`, written through a mapping at creation.
    pub(crate) fn buffer_init(
        &self,
        label: &str,
        contents: &[u8],
        usage: wgpu::BufferUsages,
    ) -> Result<wgpu::Buffer> {
        let size = (contents.len() as u64).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
        let buffer = self.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: true,
        });
        {
            let mut view = buffer
                .get_mapped_range_mut(..)
                .map_err(|e| Conv2dError::Gpu {
                    operation: "writing a new buffer",
                    kind: GpuErrorKind::Validation,
                    message: format!("{label}: {e}"),
                })?;
            view.slice(..contents.len()).copy_from_slice(contents);
        }
        buffer.unmap();
        Ok(buffer)
    }

    /// A tensor buffer holding `data`.
    pub(crate) fn tensor_buffer_init(&self, label: &str, data: &[f32]) -> Result<wgpu::Buffer> {
        self.buffer_init(label, bytemuck::cast_slice(data), TENSOR_USAGE)
    }

    /// An uninitialised tensor buffer of `bytes`.
    pub(crate) fn new_tensor_buffer(&self, label: &str, bytes: u64) -> wgpu::Buffer {
        self.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes,
            usage: TENSOR_USAGE,
            mapped_at_creation: false,
        })
    }

    /// A host-mappable buffer of `bytes` to copy results into.
    pub(crate) fn staging_buffer(&self, bytes: u64) -> wgpu::Buffer {
        self.create_buffer(&wgpu::BufferDescriptor {
            label: Some("conv2d readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }
}
