//! Keras shape semantics: validation, output size and SAME padding.

use crate::semantics::error::{Conv2dError, Result};
use crate::semantics::params::{Activation, Conv2dParams, Padding};

/// A layer's weights and parameters, checked without any input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct LayerShape {
    /// Weights, HWIO `(kh, kw, cin / groups, cout)`.
    pub weights: [usize; 4],
    pub params: Conv2dParams,
}

impl LayerShape {
    /// Checks everything that does not depend on the input.
    pub fn new(weights: [usize; 4], bias_len: Option<usize>, params: Conv2dParams) -> Result<Self> {
        if weights.contains(&0) {
            return Err(Conv2dError::ZeroSizedDimension {
                tensor: "weights",
                shape: weights.to_vec(),
            });
        }
        if params.stride.contains(&0) {
            return Err(Conv2dError::InvalidStride {
                stride: params.stride,
            });
        }
        if params.dilation.contains(&0) {
            return Err(Conv2dError::InvalidDilation {
                dilation: params.dilation,
            });
        }
        if params.groups == 0 {
            return Err(Conv2dError::ZeroGroups {
                weights_shape: weights,
            });
        }
        let out_channels = weights[3];
        if !out_channels.is_multiple_of(params.groups) {
            return Err(Conv2dError::GroupsMismatch {
                groups: params.groups,
                out_channels,
                weights_shape: weights,
            });
        }
        if let Some(bias_len) = bias_len {
            if bias_len == 0 {
                return Err(Conv2dError::ZeroSizedDimension {
                    tensor: "bias",
                    shape: vec![0],
                });
            }
            if bias_len != out_channels {
                return Err(Conv2dError::BiasLength {
                    bias_len,
                    weights_shape: weights,
                    out_channels,
                });
            }
        }
        if let Activation::LeakyRelu(slope) = params.activation {
            if !slope.is_finite() {
                return Err(Conv2dError::NonFiniteSlope { slope });
            }
        }
        checked_product("weights element count", &weights)?;
        Ok(LayerShape { weights, params })
    }

    /// Input channels the layer expects.
    pub fn in_channels(&self) -> Result<usize> {
        self.weights[2]
            .checked_mul(self.params.groups)
            .ok_or_else(|| overflow("input channels (cin / groups * groups)", &self.weights))
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weights[3]
    }

    /// Checks an input shape against the layer and computes the geometry.
    pub fn geometry(&self, input: [usize; 4]) -> Result<ConvGeometry> {
        let weights = self.weights;
        if input.contains(&0) {
            return Err(Conv2dError::ZeroSizedDimension {
                tensor: "input",
                shape: input.to_vec(),
            });
        }
        let expected = self.in_channels()?;
        if input[3] != expected {
            return Err(Conv2dError::ChannelMismatch {
                input_shape: input,
                weights_shape: weights,
                groups: self.params.groups,
                input_channels: input[3],
                expected,
            });
        }
        let p = &self.params;
        let (pad_h, pad_w) = match p.padding {
            Padding::Valid => (AxisPadding::Explicit(0, 0), AxisPadding::Explicit(0, 0)),
            Padding::Same => (AxisPadding::Same, AxisPadding::Same),
            Padding::Explicit {
                top,
                bottom,
                left,
                right,
            } => (
                AxisPadding::Explicit(top, bottom),
                AxisPadding::Explicit(left, right),
            ),
        };
        let rows = axis(input[1], weights[0], p.stride[0], p.dilation[0], pad_h)?;
        let cols = axis(input[2], weights[1], p.stride[1], p.dilation[1], pad_w)?;
        if rows.out == 0 || cols.out == 0 {
            return Err(Conv2dError::EmptyOutput {
                input_shape: input,
                weights_shape: weights,
                padded_hw: [rows.padded, cols.padded],
                kernel_extent: [rows.kernel_extent, cols.kernel_extent],
            });
        }
        let geometry = ConvGeometry {
            batch: input[0],
            in_h: input[1],
            in_w: input[2],
            in_c: input[3],
            k_h: weights[0],
            k_w: weights[1],
            out_c: weights[3],
            out_h: rows.out,
            out_w: cols.out,
            stride: p.stride,
            dilation: p.dilation,
            pad_top: rows.before,
            pad_left: cols.before,
            groups: p.groups,
        };
        checked_product("input element count", &input)?;
        checked_product("output element count", &geometry.output_shape())?;
        Ok(geometry)
    }
}

/// The full shape of one convolution: input, kernel, output and padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConvGeometry {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub in_c: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub out_c: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub stride: [usize; 2],
    pub dilation: [usize; 2],
    /// Zero rows above the input (SAME: `total / 2`).
    pub pad_top: usize,
    /// Zero columns left of the input.
    pub pad_left: usize,
    pub groups: usize,
}

impl ConvGeometry {
    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_h, self.out_w, self.out_c]
    }

    pub fn in_c_per_group(&self) -> usize {
        self.in_c / self.groups
    }

    pub fn out_c_per_group(&self) -> usize {
        self.out_c / self.groups
    }

    /// Whether some tap of some output pixel falls in the padding (outside
    /// the input).
    pub fn reaches_padding(&self) -> bool {
        let reach = |out: usize, stride: usize, kernel: usize, dilation: usize| {
            out.saturating_sub(1) * stride + (kernel - 1) * dilation
        };
        self.pad_top > 0
            || self.pad_left > 0
            || reach(self.out_h, self.stride[0], self.k_h, self.dilation[0]) >= self.in_h
            || reach(self.out_w, self.stride[1], self.k_w, self.dilation[1]) >= self.in_w
    }
}

enum AxisPadding {
    Same,
    Explicit(usize, usize),
}

struct Axis {
    out: usize,
    before: usize,
    padded: usize,
    kernel_extent: usize,
}

/// Output size and leading padding along one axis (TensorFlow's rules).
fn axis(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    padding: AxisPadding,
) -> Result<Axis> {
    let too_big = || Conv2dError::SizeOverflow {
        what: format!(
            "padded extent (input {input}, kernel {kernel}, stride {stride}, dilation {dilation})"
        ),
    };
    let kernel_extent = (kernel - 1)
        .checked_mul(dilation)
        .and_then(|e| e.checked_add(1))
        .ok_or_else(too_big)?;
    let (out, before, padded) = match padding {
        AxisPadding::Same => {
            let out = input.div_ceil(stride);
            let needed = ((out - 1) * stride)
                .checked_add(kernel_extent)
                .ok_or_else(too_big)?;
            let total = needed.saturating_sub(input);
            (out, total / 2, input + total)
        }
        AxisPadding::Explicit(before, after) => {
            let padded = input
                .checked_add(before)
                .and_then(|v| v.checked_add(after))
                .ok_or_else(too_big)?;
            let out = if padded < kernel_extent {
                0
            } else {
                (padded - kernel_extent) / stride + 1
            };
            (out, before, padded)
        }
    };
    // The kernels index in i32/u32: keep every coordinate they form in range.
    let furthest = padded
        .checked_add(kernel_extent)
        .and_then(|v| v.checked_add(stride))
        .ok_or_else(too_big)?;
    if furthest > i32::MAX as usize {
        return Err(too_big());
    }
    Ok(Axis {
        out,
        before,
        padded,
        kernel_extent,
    })
}

fn checked_product(what: &str, dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= u32::MAX as usize)
        .ok_or_else(|| overflow(what, dims))
}

fn overflow(what: &str, dims: &[usize]) -> Conv2dError {
    Conv2dError::SizeOverflow {
        what: format!("{what} of {dims:?}"),
    }
}

/// An ndarray shape as a fixed-size array (callers pass rank-4 views only).
pub(crate) fn shape4(shape: &[usize]) -> [usize; 4] {
    [shape[0], shape[1], shape[2], shape[3]]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out_pad(input: usize, k: usize, s: usize, d: usize, same: bool) -> (usize, usize) {
        let padding = if same {
            AxisPadding::Same
        } else {
            AxisPadding::Explicit(0, 0)
        };
        let a = axis(input, k, s, d, padding).unwrap();
        (a.out, a.before)
    }

    #[test]
    fn valid_output_size_follows_keras() {
        // floor((in - d*(k-1) - 1) / s) + 1
        assert_eq!(out_pad(4, 3, 1, 1, false), (2, 0));
        assert_eq!(out_pad(7, 3, 2, 1, false), (3, 0));
        assert_eq!(out_pad(7, 3, 1, 2, false), (3, 0));
        assert_eq!(out_pad(3, 3, 1, 1, false).0, 1);
        assert_eq!(out_pad(2, 3, 1, 1, false).0, 0);
    }

    #[test]
    fn same_padding_puts_the_odd_row_at_the_bottom() {
        // in 5, k 4, s 1: total 3 -> before 1, after 2 (TensorFlow's split).
        assert_eq!(out_pad(5, 4, 1, 1, true), (5, 1));
        // in 7, k 3, s 2: out 4, total (4-1)*2+3-7 = 2 -> before 1.
        assert_eq!(out_pad(7, 3, 2, 1, true), (4, 1));
        // in 6, k 3, s 2: out 3, total (3-1)*2+3-6 = 1 -> before 0.
        assert_eq!(out_pad(6, 3, 2, 1, true), (3, 0));
        // kernel larger than the input still gives ceil(in / s) outputs.
        assert_eq!(out_pad(2, 5, 1, 1, true), (2, 2));
    }

    #[test]
    fn padding_is_reached_only_where_some_tap_falls_outside_the_input() {
        use crate::semantics::params::{Conv2dParams, Padding};
        let reaches = |k: usize, stride: usize, padding: Padding| {
            let params = Conv2dParams {
                stride: [stride, stride],
                padding,
                ..Default::default()
            };
            LayerShape::new([k, k, 4, 8], None, params)
                .unwrap()
                .geometry([1, 7, 7, 4])
                .unwrap()
                .reaches_padding()
        };
        assert!(!reaches(3, 1, Padding::Valid));
        assert!(!reaches(1, 1, Padding::Same));
        assert!(!reaches(1, 2, Padding::Same));
        assert!(reaches(3, 1, Padding::Same));
        // 7 rows, k 3, stride 2, same: out 4, padding 1 above and 1 below.
        assert!(reaches(3, 2, Padding::Same));
        // Padding below only: the last output's taps reach it.
        let below = Padding::Explicit {
            top: 0,
            bottom: 1,
            left: 0,
            right: 0,
        };
        assert!(reaches(3, 1, below));
    }

    #[test]
    fn huge_parameters_are_errors_not_panics() {
        assert!(matches!(
            axis(4, 3, 1, usize::MAX, AxisPadding::Same),
            Err(Conv2dError::SizeOverflow { .. })
        ));
        assert!(matches!(
            axis(4, 3, 1, 1, AxisPadding::Explicit(usize::MAX, 1)),
            Err(Conv2dError::SizeOverflow { .. })
        ));
    }
}
