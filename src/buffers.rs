//! Buffer creation that fails with `Err` rather than panicking when the device
//! is gone (wgpu's `create_buffer_init` panics if the mapped range is unavailable).

use crate::error::{Conv2dError, Result};

/// Usage of every tensor buffer: bound by kernels, copied in and out.
pub(crate) const TENSOR_USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// A buffer holding `contents`, written through a mapping at creation.
pub(crate) fn init(
    device: &wgpu::Device,
    label: &str,
    contents: &[u8],
    usage: wgpu::BufferUsages,
) -> Result<wgpu::Buffer> {
    let size = (contents.len() as u64).next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT);
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
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
                kind: "validation",
                message: format!("{label}: {e}"),
            })?;
        view.slice(..contents.len()).copy_from_slice(contents);
    }
    buffer.unmap();
    Ok(buffer)
}

/// A tensor buffer holding `data`.
pub(crate) fn tensor_init(
    device: &wgpu::Device,
    label: &str,
    data: &[f32],
) -> Result<wgpu::Buffer> {
    init(device, label, bytemuck::cast_slice(data), TENSOR_USAGE)
}

/// An uninitialised tensor buffer of `bytes`.
pub(crate) fn tensor(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes,
        usage: TENSOR_USAGE,
        mapped_at_creation: false,
    })
}

/// A host-mappable buffer of `bytes` to copy results into.
pub(crate) fn staging(device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("conv2d readback"),
        size: bytes,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}
