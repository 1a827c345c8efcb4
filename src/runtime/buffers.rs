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

    /// A tensor buffer holding `bytes` (see `runtime::elements`).
    pub(crate) fn tensor_buffer_init(&self, label: &str, bytes: &[u8]) -> Result<wgpu::Buffer> {
        self.buffer_init(label, bytes, TENSOR_USAGE)
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

    /// Submits a copy of all of `buffer` into a new staging buffer, to read back.
    pub(crate) fn copy_to_staging(
        &self,
        buffer: &wgpu::Buffer,
        operation: &'static str,
    ) -> Result<wgpu::Buffer> {
        self.check_alive()?;
        self.capture(operation, || {
            let staging = self.staging_buffer(buffer.size());
            let mut encoder = self.device().create_command_encoder(&Default::default());
            encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, buffer.size());
            self.submit(encoder.finish());
            Ok(staging)
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
