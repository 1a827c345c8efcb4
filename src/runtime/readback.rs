//! Copying a result from the device into host memory, blocking or async.

use crate::runtime::scope;
use crate::semantics::error::{Conv2dError, Result};

/// Maps `staging` (a `MAP_READ` buffer whose copy was already submitted),
/// waits for the device on this thread, and hands its bytes to `use_bytes`.
/// On the web nothing may wait: an `Err` naming the async form.
#[cfg(target_arch = "wasm32")]
pub(crate) fn read_with<T>(
    _device: &wgpu::Device,
    _staging: &wgpu::Buffer,
    _use_bytes: impl FnOnce(&[u8]) -> T,
) -> Result<T> {
    Err(Conv2dError::Blocking {
        call: "reading a result back",
        instead: "the async forms (forward_async, GpuTensor::to_array_async)",
    })
}

/// Maps `staging` (a `MAP_READ` buffer whose copy was already submitted),
/// waits for the device on this thread, and hands its bytes to `use_bytes`.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn read_with<T>(
    device: &wgpu::Device,
    staging: &wgpu::Buffer,
    use_bytes: impl FnOnce(&[u8]) -> T,
) -> Result<T> {
    let (sender, receiver) = std::sync::mpsc::channel();
    scope::capture(device, "mapping the result buffer", || {
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            let _ = sender.send(result); // the receiver outlives the wait below
        })
    })?;
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(poll_error)?;
    receiver
        .recv()
        .map_err(|_| Conv2dError::Readback("the map callback never ran".into()))?
        .map_err(map_error)?;
    with_mapped(staging, use_bytes)
}

/// The async form of [`read_with`] on the web: the browser completes the map
/// from its event loop (polling does nothing there); then any error it
/// reported for the work before is returned.
#[cfg(target_arch = "wasm32")]
pub(crate) async fn read_async_with<T>(
    device: &wgpu::Device,
    staging: &wgpu::Buffer,
    use_bytes: impl FnOnce(&[u8]) -> T,
) -> Result<T> {
    let mapped = start_map(device, staging)?.await;
    if let Some(error) = scope::take_deferred(device) {
        if mapped.as_ref().is_ok_and(|r| r.is_ok()) {
            staging.unmap();
        }
        return Err(error);
    }
    finish_map(mapped)?;
    with_mapped(staging, use_bytes)
}

/// The async form of [`read_with`]: a helper thread waits for the device while
/// the caller's executor is free; the map callback completes the future.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) async fn read_async_with<T>(
    device: &wgpu::Device,
    staging: &wgpu::Buffer,
    use_bytes: impl FnOnce(&[u8]) -> T,
) -> Result<T> {
    let receiver = start_map(device, staging)?;
    let waiter = device.clone();
    let poller = std::thread::spawn(move || waiter.poll(wgpu::PollType::wait_indefinitely()));
    let mapped = receiver.await;
    let polled = poller
        .join()
        .map_err(|_| Conv2dError::Wait("the device-polling thread panicked".into()))?;
    polled.map_err(poll_error)?;
    finish_map(mapped)?;
    with_mapped(staging, use_bytes)
}

type MapResult = std::result::Result<(), wgpu::BufferAsyncError>;

/// Asks for `staging` to be mapped; the receiver gets the map callback's result.
fn start_map(
    device: &wgpu::Device,
    staging: &wgpu::Buffer,
) -> Result<futures_channel::oneshot::Receiver<MapResult>> {
    let (sender, receiver) = futures_channel::oneshot::channel();
    scope::capture(device, "mapping the result buffer", || {
        staging.map_async(wgpu::MapMode::Read, .., move |result| {
            let _ = sender.send(result); // a dropped future no longer wants it
        })
    })?;
    Ok(receiver)
}

/// The map callback's answer as this crate's error.
fn finish_map(
    mapped: std::result::Result<MapResult, futures_channel::oneshot::Canceled>,
) -> Result<()> {
    mapped
        .map_err(|_| Conv2dError::Readback("the map callback never ran".into()))?
        .map_err(map_error)
}

fn with_mapped<T>(staging: &wgpu::Buffer, use_bytes: impl FnOnce(&[u8]) -> T) -> Result<T> {
    let value = {
        let view = staging
            .get_mapped_range(..)
            .map_err(|e| Conv2dError::Readback(format!("reading the mapped range: {e}")))?;
        use_bytes(&view)
    };
    staging.unmap();
    Ok(value)
}

#[cfg(not(target_arch = "wasm32"))]
fn poll_error(e: wgpu::PollError) -> Conv2dError {
    Conv2dError::Wait(e.to_string())
}

fn map_error(e: wgpu::BufferAsyncError) -> Conv2dError {
    Conv2dError::Readback(format!("mapping the result buffer: {e}"))
}
