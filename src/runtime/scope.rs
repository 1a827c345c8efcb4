//! wgpu error scopes: every device operation of the crate runs inside one, so a
//! wgpu error becomes an `Err` instead of reaching the (panicking) default handler.

use crate::semantics::error::{Conv2dError, GpuErrorKind, Result};

/// Runs `f` with validation, out-of-memory and internal errors captured, and
/// returns the first one as [`Conv2dError::Gpu`].
///
/// Scopes are thread-local in wgpu and popped before returning, so `f` must do
/// its work on this thread.
pub(crate) fn capture<T>(
    device: &wgpu::Device,
    operation: &'static str,
    f: impl FnOnce() -> T,
) -> Result<T> {
    let internal = device.push_error_scope(wgpu::ErrorFilter::Internal);
    let out_of_memory = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let value = f();
    // Reverse order of pushing. On native backends the futures are already ready.
    let popped = [validation.pop(), out_of_memory.pop(), internal.pop()];
    for future in popped {
        if let Some(error) = pollster::block_on(future) {
            return Err(gpu_error(operation, error));
        }
    }
    Ok(value)
}

fn gpu_error(operation: &'static str, error: wgpu::Error) -> Conv2dError {
    let kind = match &error {
        wgpu::Error::OutOfMemory { .. } => GpuErrorKind::OutOfMemory,
        wgpu::Error::Validation { .. } => GpuErrorKind::Validation,
        _ => GpuErrorKind::Internal,
    };
    Conv2dError::Gpu {
        operation,
        kind,
        message: error.to_string(),
    }
}
