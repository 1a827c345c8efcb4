//! Checks of tensors and dispatches against the device's limits, made in Rust
//! before anything reaches wgpu.

use crate::error::{Conv2dError, Result};

/// Bytes of `elements` f32 values, checked against one storage binding and one buffer.
pub(crate) fn check_storage(
    tensor: &'static str,
    shape: &[usize],
    limits: &wgpu::Limits,
) -> Result<u64> {
    let elements: u64 = shape.iter().map(|&d| d as u64).product();
    let bytes = elements * 4;
    let checks = [
        (
            limits.max_storage_buffer_binding_size,
            "max_storage_buffer_binding_size",
        ),
        (limits.max_buffer_size, "max_buffer_size"),
    ];
    for (limit, limit_name) in checks {
        if bytes > limit {
            return Err(Conv2dError::TensorTooLarge {
                tensor,
                shape: shape.to_vec(),
                bytes,
                limit_name,
                limit,
            });
        }
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
    pub fn new(workgroups: u64, output_shape: [usize; 4], limits: &wgpu::Limits) -> Result<Self> {
        let max = u64::from(limits.max_compute_workgroups_per_dimension);
        let x = workgroups.clamp(1, max.max(1));
        let y = workgroups.div_ceil(x);
        if y > max {
            return Err(Conv2dError::DispatchTooLarge {
                output_shape,
                workgroups,
                max_per_dimension: limits.max_compute_workgroups_per_dimension,
            });
        }
        Ok(FoldedGrid {
            x: x as u32,
            y: y as u32,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: u32) -> wgpu::Limits {
        wgpu::Limits {
            max_compute_workgroups_per_dimension: max,
            ..wgpu::Limits::default()
        }
    }

    #[test]
    fn grid_folds_into_rows_within_the_limit() {
        let shape = [1, 1, 1, 1];
        assert_eq!(
            FoldedGrid::new(10, shape, &limits(65535)).unwrap(),
            FoldedGrid { x: 10, y: 1 }
        );
        assert_eq!(
            FoldedGrid::new(70000, shape, &limits(65535)).unwrap(),
            FoldedGrid { x: 65535, y: 2 }
        );
        assert_eq!(
            FoldedGrid::new(16, shape, &limits(4)).unwrap(),
            FoldedGrid { x: 4, y: 4 }
        );
        assert!(matches!(
            FoldedGrid::new(17, shape, &limits(4)),
            Err(Conv2dError::DispatchTooLarge { .. })
        ));
    }
}
