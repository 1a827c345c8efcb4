//! Copying a result from the device into host memory.

use crate::error::{Conv2dError, Result};

/// Maps `staging` (a `MAP_READ` buffer holding f32s whose copy was already
/// submitted), waits for the device, and returns its contents.
pub(crate) fn read_f32(device: &wgpu::Device, staging: &wgpu::Buffer) -> Result<Vec<f32>> {
    let (sender, receiver) = std::sync::mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |result| {
        // The receiver outlives the wait below; a failed send cannot happen.
        let _ = sender.send(result);
    });
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Conv2dError::Readback(format!("waiting for the device: {e}")))?;
    receiver
        .recv()
        .map_err(|_| Conv2dError::Readback("the map callback never ran".into()))?
        .map_err(|e| Conv2dError::Readback(format!("mapping the result buffer: {e}")))?;
    let values = {
        let view = staging
            .get_mapped_range(..)
            .map_err(|e| Conv2dError::Readback(format!("reading the mapped range: {e}")))?;
        bytemuck::cast_slice::<u8, f32>(&view).to_vec()
    };
    staging.unmap();
    Ok(values)
}
