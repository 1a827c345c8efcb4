//! Checks of tensors and dispatches against the device's limits, made in Rust
//! before anything reaches wgpu.

use crate::semantics::error::{Conv2dError, Result};
use crate::semantics::precision::DType;

/// Bytes of a tensor of `dtype` (rounded up to the 4 bytes wgpu copies in),
/// checked against the largest buffer the device allows. (Bindings are
/// smaller; `plan` splits work to fit them.)
pub(crate) fn check_buffer(
    tensor: &'static str,
    shape: &[usize],
    dtype: DType,
    limits: &wgpu::Limits,
) -> Result<u64> {
    let bytes = shape
        .iter()
        .try_fold(dtype.size_bytes(), |bytes, &d| bytes.checked_mul(d as u64))
        .and_then(|bytes| bytes.checked_next_multiple_of(wgpu::COPY_BUFFER_ALIGNMENT))
        .unwrap_or(u64::MAX);
    if bytes > limits.max_buffer_size {
        return Err(Conv2dError::TensorTooLarge {
            tensor,
            shape: shape.to_vec(),
            bytes,
            limit_name: "max_buffer_size",
            limit: limits.max_buffer_size,
        });
    }
    Ok(bytes)
}

/// A 1-D range of workgroups folded into a 2-D grid so that no dimension
/// exceeds `max_compute_workgroups_per_dimension`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FoldedGrid {
    pub x: u32,
    pub y: u32,
}

impl FoldedGrid {
    /// The grid for `workgroups` workgroups; its rows hold `x` workgroups each.
    /// `plan` keeps pieces small enough, so `None` means a broken invariant.
    pub fn new(workgroups: u64, max_per_dimension: u32) -> Option<Self> {
        let max = u64::from(max_per_dimension.max(1));
        let x = workgroups.clamp(1, max);
        let y = workgroups.div_ceil(x);
        (y <= max).then_some(FoldedGrid {
            x: x as u32,
            y: y as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_folds_into_rows_within_the_limit() {
        assert_eq!(FoldedGrid::new(10, 65535), Some(FoldedGrid { x: 10, y: 1 }));
        assert_eq!(
            FoldedGrid::new(70000, 65535),
            Some(FoldedGrid { x: 65535, y: 2 })
        );
        assert_eq!(FoldedGrid::new(16, 4), Some(FoldedGrid { x: 4, y: 4 }));
        assert_eq!(FoldedGrid::new(17, 4), None);
    }
}
