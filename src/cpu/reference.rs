//! The CPU reference: plain nested loops, the oracle every GPU result is checked against.

use ndarray::{Array4, ArrayView1, ArrayView4};

use crate::semantics::error::Result;
use crate::semantics::geometry::{shape4, LayerShape};
use crate::semantics::params::Conv2dParams;

/// Computes `activation(conv2d(x, weights) + bias)` on the CPU with Keras semantics.
///
/// `x` is NHWC `(n, h, w, cin)`, `weights` HWIO `(kh, kw, cin / groups, cout)`,
/// `bias` `(cout)`. Any views work, contiguous or not. Each output is accumulated
/// in `f32` over `(ky, kx, ci)` in that order, then the bias is added, then the
/// activation applied. Padded positions are skipped, not multiplied by zero, so
/// NaN and infinity propagate only from real input elements.
///
/// # Errors
/// Any shape or parameter error of [`Conv2dError`](crate::Conv2dError): a channel
/// or bias mismatch, a zero-sized dimension, a zero stride, dilation or group
/// count, an empty output, a non-finite LeakyRelu slope.
///
/// # Example
/// ```
/// use conv2d_wgpu::{conv2d_cpu, Conv2dParams, Padding};
/// use ndarray::{Array1, Array4};
/// // A 3x3 box sum over a 3x3 image of ones, SAME padding.
/// let x = Array4::<f32>::ones((1, 3, 3, 1));
/// let w = Array4::<f32>::ones((3, 3, 1, 1));
/// let b = Array1::from(vec![0.5]);
/// let params = Conv2dParams { padding: Padding::Same, ..Default::default() };
/// let y = conv2d_cpu(x.view(), w.view(), Some(b.view()), params)?;
/// assert_eq!(y[[0, 0, 0, 0]], 4.5); // corner: 4 neighbours in the image
/// assert_eq!(y[[0, 1, 1, 0]], 9.5); // centre: all 9
/// # Ok::<(), conv2d_wgpu::Conv2dError>(())
/// ```
pub fn conv2d_cpu(
    x: ArrayView4<f32>,
    weights: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    params: Conv2dParams,
) -> Result<Array4<f32>> {
    let layer = LayerShape::new(shape4(weights.shape()), bias.map(|b| b.len()), params)?;
    let g = layer.geometry(shape4(x.shape()))?;
    let (cin_g, cout_g) = (g.in_c_per_group(), g.out_c_per_group());
    let mut y = Array4::<f32>::zeros(g.output_shape());
    for ((n, oy, ox, oc), out) in y.indexed_iter_mut() {
        let c0 = (oc / cout_g) * cin_g;
        let mut acc = 0.0f32;
        for ky in 0..g.k_h {
            let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize - g.pad_top as isize;
            if iy < 0 || iy >= g.in_h as isize {
                continue;
            }
            for kx in 0..g.k_w {
                let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize - g.pad_left as isize;
                if ix < 0 || ix >= g.in_w as isize {
                    continue;
                }
                let (iy, ix) = (iy as usize, ix as usize);
                for ci in 0..cin_g {
                    acc += x[[n, iy, ix, c0 + ci]] * weights[[ky, kx, ci, oc]];
                }
            }
        }
        let biased = acc + bias.map_or(0.0, |b| b[oc]);
        *out = params.activation.apply(biased);
    }
    Ok(y)
}
