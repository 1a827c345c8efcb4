//! A competent CPU convolution, so that "GPU vs CPU" compares the GPU with
//! something fair: im2col (in row blocks) + a blocked, multithreaded GEMM from
//! the `gemm` crate; 1x1 stride-1 layers skip im2col; depthwise layers run a
//! channel-vectorised direct loop. Matches the reference within rounding.

use gemm::Parallelism;
use ndarray::{Array4, ArrayView1, ArrayView4};
use rayon::prelude::*;

use crate::semantics::error::Result;
use crate::semantics::geometry::{shape4, ConvGeometry, LayerShape};
use crate::semantics::params::Conv2dParams;

/// Below this many multiply-adds the reference's plain loops are faster.
pub(crate) const SMALL_MACS: usize = 1 << 16;

/// Floats per im2col block: about 4 MiB of scratch, so a block stays in cache
/// while the GEMM packs it (larger blocks measured slower for large kernels).
const BLOCK_FLOATS: usize = 1 << 20;

/// Computes the same as [`conv2d_cpu`](crate::conv2d_cpu), fast: im2col plus a
/// multithreaded GEMM (the `gemm` crate, on rayon's threads), with a direct
/// channel-vectorised loop for depthwise layers.
///
/// Results match the reference within f32 rounding of the sums. One difference
/// in edge cases: padding is multiplied as zeros here, so an infinite weight
/// that meets the padding gives NaN where the reference (which skips padding)
/// does not.
///
/// # Errors
/// The same shape and parameter errors as [`conv2d_cpu`](crate::conv2d_cpu).
///
/// # Example
/// ```
/// use conv2d_wgpu::{conv2d_cpu, conv2d_cpu_fast, Conv2dParams, Padding};
/// use ndarray::Array4;
/// let x = Array4::from_shape_fn((1, 9, 9, 8), |(_, h, w, c)| (h * 9 + w + c) as f32 / 100.0);
/// let w = Array4::from_shape_fn((3, 3, 8, 16), |(a, b, c, d)| (a + b + c + d) as f32 / 50.0);
/// let p = Conv2dParams { padding: Padding::Same, ..Default::default() };
/// let fast = conv2d_cpu_fast(x.view(), w.view(), None, p)?;
/// let reference = conv2d_cpu(x.view(), w.view(), None, p)?;
/// assert!(fast.iter().zip(&reference).all(|(a, b)| (a - b).abs() < 1e-4));
/// # Ok::<(), conv2d_wgpu::Conv2dError>(())
/// ```
pub fn conv2d_cpu_fast(
    x: ArrayView4<f32>,
    weights: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    params: Conv2dParams,
) -> Result<Array4<f32>> {
    conv2d_cpu_fast_path(x, weights, bias, params, SMALL_MACS).map(|(y, _)| y)
}

/// Which code [`conv2d_cpu_fast_path`] ran.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuPath {
    /// The reference's loops (below the size threshold).
    Reference,
    /// im2col (or the input itself for a plain 1x1) and the GEMM, per group.
    Gemm,
    /// The channel-vectorised depthwise loop.
    Depthwise,
}

/// [`conv2d_cpu_fast`] with the size threshold below which it runs the
/// reference's loops given (`SMALL_MACS` there), and which path ran, so that
/// tests can make small random layers take the fast paths and prove they did.
#[doc(hidden)]
pub fn conv2d_cpu_fast_path(
    x: ArrayView4<f32>,
    weights: ArrayView4<f32>,
    bias: Option<ArrayView1<f32>>,
    params: Conv2dParams,
    small_macs: usize,
) -> Result<(Array4<f32>, CpuPath)> {
    let layer = LayerShape::new(shape4(weights.shape()), bias.map(|b| b.len()), params)?;
    let g = layer.geometry(shape4(x.shape()))?;
    let macs = g.batch * g.out_h * g.out_w * g.out_c * g.k_h * g.k_w * g.in_c_per_group();
    if macs < small_macs {
        // Threads and packing cost more than they save: the plain loops win.
        let y = crate::cpu::reference::conv2d_cpu(x, weights, bias, params)?;
        return Ok((y, CpuPath::Reference));
    }
    let x = x.as_standard_layout();
    let w = weights.as_standard_layout();
    let (x, w) = (x.as_slice().unwrap(), w.as_slice().unwrap());
    let mut y = vec![0.0f32; g.batch * g.out_h * g.out_w * g.out_c];
    // Start every output at its bias; the products are accumulated onto it.
    if let Some(b) = bias {
        let b = b.to_vec();
        y.par_chunks_mut(g.out_c)
            .for_each(|row| row.copy_from_slice(&b));
    }
    let path = if g.groups == g.in_c && g.groups > 1 {
        depthwise(&g, x, w, &mut y);
        CpuPath::Depthwise
    } else {
        grouped_gemm(&g, x, w, &mut y);
        CpuPath::Gemm
    };
    let activation = params.activation;
    y.par_iter_mut().for_each(|v| *v = activation.apply(*v));
    let y = Array4::from_shape_vec(g.output_shape(), y).expect("output has its shape's length");
    Ok((y, path))
}

/// `y[pixels, cout] += im2col(x)[pixels, K] x w[K, cout]`, per group.
fn grouped_gemm(g: &ConvGeometry, x: &[f32], w: &[f32], y: &mut [f32]) {
    let (cin_g, cout_g) = (g.in_c_per_group(), g.out_c_per_group());
    let k = g.k_h * g.k_w * cin_g;
    let pixels = g.batch * g.out_h * g.out_w;
    // The input itself is the im2col matrix only when output pixels are input
    // pixels: no padding on any side (bottom or right padding adds output rows
    // the input does not have; found by the fuzzer).
    let plain = g.groups == 1
        && g.k_h == 1
        && g.k_w == 1
        && g.stride == [1, 1]
        && g.pad_top == 0
        && g.pad_left == 0
        && [g.out_h, g.out_w] == [g.in_h, g.in_w];
    let block = (BLOCK_FLOATS / k).clamp(128, 4096);
    let mut columns = Vec::new();
    for start in (0..pixels).step_by(block) {
        let rows = block.min(pixels - start);
        for group in 0..g.groups {
            // The left operand: the input itself for a plain 1x1, else im2col.
            let (lhs, lhs_rs) = if plain {
                (&x[start * g.in_c..], g.in_c)
            } else {
                columns.resize(rows * k, 0.0);
                im2col(g, x, group, start, &mut columns);
                (&columns[..], k)
            };
            // SAFETY: the strides describe lhs (rows x k), w's group columns
            // (k x cout_g inside k x cout) and y's block (rows x cout_g inside
            // pixels x cout), all within their slices.
            unsafe {
                gemm::gemm(
                    rows,
                    cout_g,
                    k,
                    y[start * g.out_c + group * cout_g..].as_mut_ptr(),
                    1,
                    g.out_c as isize,
                    true,
                    lhs.as_ptr(),
                    1,
                    lhs_rs as isize,
                    w[group * cout_g..].as_ptr(),
                    1,
                    g.out_c as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::Rayon(0),
                );
            }
        }
    }
}

/// Rows `start..` of the im2col matrix of one group: for each output pixel the
/// `kh * kw * cin_g` input values it reads, zeros for padding.
fn im2col(g: &ConvGeometry, x: &[f32], group: usize, start: usize, columns: &mut [f32]) {
    let cin_g = g.in_c_per_group();
    let k = g.k_h * g.k_w * cin_g;
    columns.par_chunks_mut(k).enumerate().for_each(|(i, row)| {
        let pixel = start + i;
        let ox = pixel % g.out_w;
        let oy = (pixel / g.out_w) % g.out_h;
        let n = pixel / (g.out_w * g.out_h);
        for ky in 0..g.k_h {
            let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize - g.pad_top as isize;
            for kx in 0..g.k_w {
                let ix = (ox * g.stride[1] + kx * g.dilation[1]) as isize - g.pad_left as isize;
                let dst = &mut row[(ky * g.k_w + kx) * cin_g..][..cin_g];
                if iy < 0 || iy >= g.in_h as isize || ix < 0 || ix >= g.in_w as isize {
                    dst.fill(0.0);
                } else {
                    let at = ((n * g.in_h + iy as usize) * g.in_w + ix as usize) * g.in_c
                        + group * cin_g;
                    dst.copy_from_slice(&x[at..at + cin_g]);
                }
            }
        }
    });
}

/// Depthwise (with any channel multiplier): for each output pixel, taps outer,
/// channels inner, so the inner loop is contiguous and vectorises.
fn depthwise(g: &ConvGeometry, x: &[f32], w: &[f32], y: &mut [f32]) {
    let multiplier = g.out_c_per_group();
    y.par_chunks_mut(g.out_w * g.out_c)
        .enumerate()
        .for_each(|(row, out)| {
            let oy = row % g.out_h;
            let n = row / g.out_h;
            for ky in 0..g.k_h {
                let iy = (oy * g.stride[0] + ky * g.dilation[0]) as isize - g.pad_top as isize;
                if iy < 0 || iy >= g.in_h as isize {
                    continue;
                }
                for kx in 0..g.k_w {
                    let taps = &w[(ky * g.k_w + kx) * g.out_c..][..g.out_c];
                    for (ox, pixel) in out.chunks_mut(g.out_c).enumerate() {
                        let ix =
                            (ox * g.stride[1] + kx * g.dilation[1]) as isize - g.pad_left as isize;
                        if ix < 0 || ix >= g.in_w as isize {
                            continue;
                        }
                        let at = ((n * g.in_h + iy as usize) * g.in_w + ix as usize) * g.in_c;
                        let input = &x[at..at + g.in_c];
                        if multiplier == 1 {
                            for ((o, &t), &v) in pixel.iter_mut().zip(taps).zip(input) {
                                *o += v * t;
                            }
                        } else {
                            for (oc, (o, &t)) in pixel.iter_mut().zip(taps).enumerate() {
                                *o += input[oc / multiplier] * t;
                            }
                        }
                    }
                }
            }
        });
}
