//! Winograd F(2x2, 3x3): the layers it runs, the weight transform's size
//! (computed once per layer on the device, `LayerWeights::winograd`), the
//! scratch it needs per piece, and the sizes of its three dispatches (input transform, batched products, output
//! transform; `shaders/winograd/`).
//!
//! Each 2 x 2 block of outputs (a tile) reads a 4 x 4 block of input d. With
//! `V = B^T d B` and `U = G g G^T` per channel pair, the block is
//! `A^T [sum over ci of V (.) U] A`: 16 products per input/output channel pair
//! instead of 36. F(2x2, 3x3) rather than F(4x4, 3x3) for accuracy: B^T and
//! A^T have entries 0 and +-1, so an input outside an output's 3 x 3 window
//! never enters that output's rounding, and the errors stay within the bound
//! the tests hold every kernel to; F(4x4)'s transforms mix the whole 6 x 6
//! block into each output and measured 1.9x that bound with one input channel.

use crate::conv::kernels::{KernelKind, WORKGROUP_SIZE};
use crate::semantics::geometry::{ConvGeometry, LayerShape};

/// Positions of a transformed 4 x 4 tile: the number of batched products.
pub(crate) const POSITIONS: u64 = 16;
/// Output rows and columns per tile.
const TILE: usize = 2;

/// G of F(2x2, 3x3) (4 x 3).
#[cfg(test)]
const G: [[f64; 3]; 4] = [
    [1.0, 0.0, 0.0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0.0, 0.0, 1.0],
];

/// The layers Winograd runs: 3x3 kernels, stride 1, no dilation, one group
/// or groups of a multiple of 4 input and output channels (the products run
/// once per group, on vec4-aligned slices of the transformed input, weights
/// and products).
pub(crate) fn applies(layer: &LayerShape) -> bool {
    let p = &layer.params;
    let per_group_aligned = layer.weights[2].is_multiple_of(4)
        && (layer.weights[3] / p.groups.max(1)).is_multiple_of(4);
    layer.weights[0] == 3
        && layer.weights[1] == 3
        && p.stride == [1, 1]
        && p.dilation == [1, 1]
        && (p.groups == 1 || per_group_aligned)
}

/// f32 elements of the transformed weights: 16 x cin (padded to 4) x `w_stride`.
pub(crate) fn weight_elements(in_c: usize, w_stride: usize) -> u64 {
    POSITIONS * in_c.next_multiple_of(4) as u64 * w_stride as u64
}

/// `U = G g G^T` of every (input, output) channel pair, from weights packed
/// as `(3, 3, cin, w_stride)`: 16 matrices (position xi = 4 i + j), each
/// `cin` padded to 4 rows (zeros) of `w_stride` columns; in f64 and rounded
/// once. The layer computes it on the device (`shaders/winograd/weights.wgsl`);
/// this is that kernel's specification, for the tests.
#[cfg(test)]
pub(crate) fn transform_weights(packed: &[f32], in_c: usize, w_stride: usize) -> Vec<f32> {
    let rows = in_c.next_multiple_of(4);
    let mut u = vec![0.0f32; POSITIONS as usize * rows * w_stride];
    let g = |ky: usize, kx: usize, ci: usize, co: usize| {
        f64::from(packed[((ky * 3 + kx) * in_c + ci) * w_stride + co])
    };
    for ci in 0..in_c {
        for co in 0..w_stride {
            for (i, gi) in G.iter().enumerate() {
                for (j, gj) in G.iter().enumerate() {
                    let mut sum = 0.0;
                    for (ky, a) in gi.iter().enumerate() {
                        for (kx, b) in gj.iter().enumerate() {
                            sum += a * g(ky, kx, ci, co) * b;
                        }
                    }
                    u[((i * 4 + j) * rows + ci) * w_stride + co] = sum as f32;
                }
            }
        }
    }
    u
}

/// Tiles of `images` images of the output of `g`.
pub(crate) fn tiles(g: &ConvGeometry, images: usize) -> u64 {
    (images * g.out_h.div_ceil(TILE) * g.out_w.div_ceil(TILE)) as u64
}

/// f32 elements of the transformed input (V) and of the products (M) of `images` images.
pub(crate) fn scratch_elements(g: &ConvGeometry, images: usize, w_stride: usize) -> (u64, u64) {
    let tiles = tiles(g, images);
    (
        POSITIONS * tiles * g.in_c.next_multiple_of(4) as u64,
        POSITIONS * tiles * w_stride as u64,
    )
}

/// Images one piece may hold: its input, output (`element_bytes` each),
/// transformed input and products (f32) within `binding_bytes`, and each
/// dispatch within `max_workgroups`; 0 when one image does not fit.
pub(crate) fn images_per_piece(
    g: &ConvGeometry,
    w_stride: usize,
    element_bytes: u64,
    binding_bytes: u64,
    max_workgroups: u64,
) -> usize {
    let (v, m) = scratch_elements(g, 1, w_stride);
    let in_image = (g.in_h * g.in_w * g.in_c) as u64 * element_bytes;
    let out_image = (g.out_h * g.out_w * g.out_c) as u64 * element_bytes;
    let by_binding = binding_bytes / in_image.max(out_image).max(v.max(m) * 4).max(1);
    // A dispatch of k images has at most k times one image's workgroups
    // (whichever kernel runs the products).
    let widest = [KernelKind::WinogradGemm, KernelKind::WinogradGemmSubgroup]
        .into_iter()
        .flat_map(|products| dispatch_sizes(g, 1, w_stride, products))
        .map(|(workgroups, _)| workgroups)
        .max()
        .unwrap_or(1);
    let by_dispatch = max_workgroups / widest.max(1);
    by_binding.min(by_dispatch).min(g.batch as u64) as usize
}

/// Workgroups and `p.total` of the three dispatches of `images` images, the
/// products run by the kernel `products` (of each group's dispatch).
pub(crate) fn dispatch_sizes(
    g: &ConvGeometry,
    images: usize,
    w_stride: usize,
    products: KernelKind,
) -> [(u64, u64); 3] {
    let group = u64::from(WORKGROUP_SIZE);
    let tiles = tiles(g, images);
    let in_c4 = g.in_c.div_ceil(4) as u64;
    let out_c4 = (w_stride / 4) as u64;
    let input = tiles * in_c4;
    let (tiles_each, columns4) = products.products_tile();
    let runs = tiles.div_ceil(u64::from(tiles_each));
    let group_out_c4 = g.out_c_per_group().div_ceil(4) as u64;
    let col_tiles = group_out_c4.div_ceil(u64::from(columns4));
    let output = tiles * out_c4;
    [
        (input.div_ceil(group), input),
        (POSITIONS * col_tiles * runs.div_ceil(group), runs),
        (output.div_ceil(group), output),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// F(2x2, 3x3) on one tile, in f64, against the direct sum.
    #[test]
    fn transforms_compute_the_convolution_of_a_tile() {
        let bt = [
            [1.0, 0.0, -1.0, 0.0],
            [0.0, 1.0, 1.0, 0.0],
            [0.0, -1.0, 1.0, 0.0],
            [0.0, 1.0, 0.0, -1.0],
        ];
        let at = [[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]];
        let d: Vec<f64> = (0..16).map(|i| f64::from(i * 7 % 11) - 5.0).collect();
        let w: Vec<f32> = (0..9).map(|i| (i * 5 % 7) as f32 - 3.0).collect();
        let u = transform_weights(&w, 1, 1);
        // u has 4 rows per position (cin padded), one column.
        let u = |xi: usize| f64::from(u[xi * 4]);
        let mut v = [[0.0; 4]; 4];
        for i in 0..4 {
            for j in 0..4 {
                for y in 0..4 {
                    for x in 0..4 {
                        v[i][j] += bt[i][y] * d[y * 4 + x] * bt[j][x];
                    }
                }
            }
        }
        for oy in 0..2 {
            for ox in 0..2 {
                let mut y = 0.0;
                for i in 0..4 {
                    for j in 0..4 {
                        y += at[oy][i] * v[i][j] * u(i * 4 + j) * at[ox][j];
                    }
                }
                let mut direct = 0.0;
                for ky in 0..3 {
                    for kx in 0..3 {
                        direct += d[(oy + ky) * 4 + ox + kx] * f64::from(w[ky * 3 + kx]);
                    }
                }
                assert!((y - direct).abs() < 1e-9, "({oy}, {ox}): {y} vs {direct}");
            }
        }
    }
}
