//! What the fuzz targets share: a layer decoded from fuzz bytes, and the
//! comparison with the CPU reference under the tests' tolerance.

use conv2d_wgpu::{Activation, Conv2dParams, Padding};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use ndarray::{Array1, Array4, ArrayView1};

/// A layer and an input, small enough to compute for every execution, with
/// parameters that reach the validation errors (zeros, mismatches, huge values).
#[derive(Debug)]
pub struct Case {
    pub input: Array4<f32>,
    pub weights: Array4<f32>,
    pub bias: Option<Array1<f32>>,
    pub params: Conv2dParams,
}

/// A dimension: mostly small, sometimes zero or far too large.
fn dim(u: &mut Unstructured, max: usize) -> Result<usize> {
    Ok(match u.int_in_range(0u8..=15)? {
        0 => 0,
        1 => u.int_in_range(0..=usize::MAX)?,
        _ => u.int_in_range(1..=max)?,
    })
}

fn value(u: &mut Unstructured) -> Result<f32> {
    Ok(f32::from(u.arbitrary::<i8>()?) / 128.0)
}

impl Case {
    /// Decodes a case; tensors are materialised only when their shapes are
    /// small (a huge input is a broadcast view in `run`, never allocated).
    pub fn decode(u: &mut Unstructured, max_spatial: usize) -> Result<(Self, [usize; 4])> {
        let groups = dim(u, 4)?;
        let cin_g = dim(u, 4)?;
        let cout = dim(u, 8)?;
        let kernel = [dim(u, 4)?, dim(u, 4)?];
        let batch = dim(u, 2)?;
        let hw = [dim(u, max_spatial)?, dim(u, max_spatial)?];
        // Mostly the channels the weights expect, sometimes not.
        let in_c = if u.ratio(1u8, 8)? {
            dim(u, 16)?
        } else {
            cin_g.saturating_mul(groups)
        };
        let input_shape = [batch, hw[0], hw[1], in_c];
        let stride = [dim(u, 3)?, dim(u, 3)?];
        let dilation = [dim(u, 3)?, dim(u, 3)?];
        let padding = match u.int_in_range(0u8..=2)? {
            0 => Padding::Valid,
            1 => Padding::Same,
            _ => Padding::Explicit {
                top: u.int_in_range(0..=6)?,
                bottom: u.int_in_range(0..=6)?,
                left: u.int_in_range(0..=6)?,
                right: u.int_in_range(0..=6)?,
            },
        };
        let activation = match u.int_in_range(0u8..=7)? {
            0 => Activation::Linear,
            1 => Activation::Relu,
            2 => Activation::Relu6,
            3 => Activation::LeakyRelu(value(u)? * 2.0),
            4 => Activation::LeakyRelu(f32::NAN),
            5 => Activation::Sigmoid,
            6 => Activation::Tanh,
            _ => Activation::Silu,
        };
        let params = Conv2dParams {
            stride,
            dilation,
            padding,
            groups,
            activation,
        };
        let weight_shape = [kernel[0], kernel[1], cin_g, cout];
        // Zero axes count as 1: ndarray refuses shapes whose other axes overflow.
        let small = |shape: &[usize]| {
            shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d.max(1)))
                .is_some_and(|n| n <= 1 << 14)
        };
        let weights = if small(&weight_shape) {
            let mut w = Array4::zeros(weight_shape);
            for v in w.iter_mut() {
                *v = value(u)?;
            }
            w
        } else {
            Array4::zeros([0, 0, 0, 0]) // stands for "too large to make"
        };
        let bias = match u.int_in_range(0u8..=3)? {
            0 => None,
            1 => Some(Array1::zeros(dim(u, 16)?.min(1 << 14))),
            _ => Some(Array1::from_shape_fn(cout.min(1 << 14), |i| {
                i as f32 / 16.0
            })),
        };
        let input = if small(&input_shape) {
            let mut x = Array4::zeros(input_shape);
            for v in x.iter_mut() {
                *v = value(u)?;
            }
            x
        } else {
            Array4::zeros([0, 0, 0, 0])
        };
        Ok((
            Case {
                input,
                weights,
                bias,
                params,
            },
            input_shape,
        ))
    }

    pub fn bias_view(&self) -> Option<ArrayView1<'_, f32>> {
        self.bias.as_ref().map(|b| b.view())
    }
}

/// Output elements beyond which the targets do not compute (the reference
/// allocates its output; the fuzzer's memory is bounded).
pub const MAX_OUTPUT: usize = 1 << 16;

/// The tests' comparison with the CPU reference (the tolerance scaled to the
/// reduction length), from `tests/common/tolerance.rs`.
#[path = "../../tests/common/tolerance.rs"]
mod tolerance;
pub use tolerance::assert_matches_reference as assert_close;
