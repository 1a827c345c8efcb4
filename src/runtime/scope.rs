//! wgpu error scopes: every device operation of the crate runs inside one, so a
//! wgpu error becomes an `Err` instead of reaching the (panicking) default handler.
//!
//! Natively the scopes are popped at once (their futures are already ready).
//! On the web the browser answers them later, from its event loop, and
//! nothing may block on them: the answers are kept per device, and the next
//! call on that device (or the async call awaiting the device) returns the
//! first error.

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
    // Reverse order of pushing.
    let popped = [validation.pop(), out_of_memory.pop(), internal.pop()];
    #[cfg(not(target_arch = "wasm32"))]
    for future in popped {
        // On native backends the futures are already ready.
        if let Some(error) = pollster::block_on(future) {
            return Err(gpu_error(operation, error));
        }
    }
    #[cfg(target_arch = "wasm32")]
    {
        for future in popped {
            let device = device.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Some(error) = future.await {
                    web::record(&device, gpu_error(operation, error));
                }
            });
        }
        if let Some(error) = web::take(device) {
            return Err(error);
        }
    }
    Ok(value)
}

/// The first wgpu error the browser reported for `device` since the last
/// call that returned one (always `None` natively, where errors are returned
/// by the call that caused them).
pub(crate) fn take_deferred(device: &wgpu::Device) -> Option<Conv2dError> {
    #[cfg(target_arch = "wasm32")]
    return web::take(device);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = device;
        None
    }
}

/// Errors the browser delivered after their call returned, per device (the
/// web is single-threaded: a thread-local is the whole page).
#[cfg(target_arch = "wasm32")]
mod web {
    use std::cell::RefCell;

    use crate::semantics::error::Conv2dError;

    thread_local! {
        static DEFERRED: RefCell<Vec<(wgpu::Device, Conv2dError)>> = const { RefCell::new(Vec::new()) };
    }

    pub fn record(device: &wgpu::Device, error: Conv2dError) {
        DEFERRED.with(|d| {
            let mut d = d.borrow_mut();
            if !d.iter().any(|(dev, _)| dev == device) {
                d.push((device.clone(), error)); // the first error is the one to report
            }
        });
    }

    pub fn take(device: &wgpu::Device) -> Option<Conv2dError> {
        DEFERRED.with(|d| {
            let mut d = d.borrow_mut();
            let at = d.iter().position(|(dev, _)| dev == device)?;
            Some(d.swap_remove(at).1)
        })
    }
}

/// A wgpu error as [`Conv2dError::Gpu`], its kind from the error's variant.
pub(crate) fn gpu_error(operation: &'static str, error: wgpu::Error) -> Conv2dError {
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
