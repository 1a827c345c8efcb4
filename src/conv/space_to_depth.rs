//! Space-to-depth: a strided layer with few input channels (an RGB stem,
//! B4's 3 channels and stride 2) seen as a stride-1 layer over blocks of
//! `stride_h x stride_w` pixels, so that the vec4 implicit GEMM can run it.
//!
//! Along each axis (stride `s`, kernel `k`, padding `pad` before the input),
//! with `q = pad / s` and `e = pad % s`, input row `iy` of the layer is
//! row `Y = (iy + e) / s`, phase `dy = (iy + e) % s`, of the view: the view
//! has `ceil((in + e) / s)` rows of `s_h s_w cin` channels (`(dy, dx, c)`,
//! zeros outside the input), a kernel of `ceil(k / s)` taps (tap `b`, phase
//! `d` is the layer's tap `s b + d`, zero past `k`), stride 1 and `q` rows of
//! padding before. Output `oy` reads view rows `oy - q ..`, which are layer
//! rows `s oy - pad ..`: the layer's products, summed in another order, plus
//! products with zero weights.
//!
//! Per call, one dispatch packs the input into a scratch tensor of the view
//! (`shaders/space_to_depth/input.wgsl`); the weights are rearranged once per
//! layer on the device (`weights.wgsl`, `LayerWeights::space_to_depth`).

use crate::semantics::geometry::{ConvGeometry, LayerShape};

/// A kernel that runs a layer through its view: the layer's own geometry
/// (what the packing reads) and the shifts of its input into the view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpaceToDepth {
    pub layer: ConvGeometry,
    pub shifts: [usize; 2],
}

/// The most multiply-adds the view may do per product of the layer (its
/// kernel rounded up to whole blocks): 7x7 stride 2 does 64 / 49.
const MAX_WASTE: f64 = 1.5;

/// The layers the view runs: one group, no dilation, a stride above 1,
/// channels the vec4 kernels cannot read (cin % 4 != 0) that become a
/// multiple of 4 in the view, and a kernel that fills its blocks well
/// (`MAX_WASTE`).
pub(crate) fn applies(layer: &LayerShape) -> bool {
    let p = &layer.params;
    let [k_h, k_w, in_c, _] = layer.weights;
    fits([k_h, k_w], in_c, p.stride, p.dilation, p.groups)
}

/// [`applies`], asked of a layer's geometry on one input.
pub(crate) fn applies_to(g: &ConvGeometry) -> bool {
    fits([g.k_h, g.k_w], g.in_c, g.stride, g.dilation, g.groups)
}

/// The conditions of [`applies`], on the numbers both forms know.
fn fits(
    kernel: [usize; 2],
    in_c: usize,
    stride: [usize; 2],
    dilation: [usize; 2],
    groups: usize,
) -> bool {
    let ([k_h, k_w], [s_h, s_w]) = (kernel, stride);
    // In f64 and checked: any size may come here (the fuzzer's regression
    // inputs have strides near usize::MAX).
    let blocks = |k: usize, s: usize| k.div_ceil(s) as f64 * s as f64;
    let waste = blocks(k_h, s_h) * blocks(k_w, s_w) / (k_h as f64 * k_w as f64);
    let view_c = in_c.checked_mul(s_h).and_then(|c| c.checked_mul(s_w));
    groups == 1
        && dilation == [1, 1]
        && stride != [1, 1]
        && !in_c.is_multiple_of(4)
        && view_c.is_some_and(|c| c.is_multiple_of(4))
        && waste <= MAX_WASTE
}

/// One axis of the view: (input extent, kernel taps, padding before, the
/// shift `e` of the layer's rows into the view's blocks).
fn axis(input: usize, kernel: usize, pad: usize, stride: usize) -> (usize, usize, usize, usize) {
    let (blocks_before, shift) = (pad / stride, pad % stride);
    (
        (input + shift).div_ceil(stride),
        kernel.div_ceil(stride),
        blocks_before,
        shift,
    )
}

/// The view of layer geometry `g` (for which [`applies_to`] holds), and the
/// shifts `[e_h, e_w]` of the layer's input into it.
pub(crate) fn view(g: &ConvGeometry) -> (ConvGeometry, [usize; 2]) {
    let (in_h, k_h, pad_top, shift_h) = axis(g.in_h, g.k_h, g.pad_top, g.stride[0]);
    let (in_w, k_w, pad_left, shift_w) = axis(g.in_w, g.k_w, g.pad_left, g.stride[1]);
    let view = ConvGeometry {
        in_h,
        in_w,
        in_c: g.in_c * g.stride[0] * g.stride[1],
        k_h,
        k_w,
        stride: [1, 1],
        pad_top,
        pad_left,
        ..*g
    };
    (view, [shift_h, shift_w])
}

/// Elements of the packed input (the view's input tensor).
pub(crate) fn input_elements(view: &ConvGeometry) -> u64 {
    (view.batch * view.in_h * view.in_w * view.in_c) as u64
}

/// The view's weight shape `[kh', kw', cin', cout]` for a layer's weights.
pub(crate) fn weight_shape(weights: [usize; 4], stride: [usize; 2]) -> [usize; 4] {
    [
        weights[0].div_ceil(stride[0]),
        weights[1].div_ceil(stride[1]),
        weights[2] * stride[0] * stride[1],
        weights[3],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::semantics::params::{Conv2dParams, Padding};

    fn layer(k: usize, cin: usize, stride: [usize; 2]) -> LayerShape {
        let params = Conv2dParams {
            stride,
            padding: Padding::Same,
            ..Default::default()
        };
        LayerShape::new([k, k, cin, 8], None, params).unwrap()
    }

    #[test]
    fn applies_to_strided_few_channel_layers_that_fill_their_blocks() {
        assert!(applies(&layer(7, 3, [2, 2]))); // B4: 64 / 49
        assert!(applies(&layer(11, 3, [4, 4]))); // AlexNet's stem: 144 / 121
        assert!(applies(&layer(5, 2, [2, 2]))); // 36 / 25
        assert!(!applies(&layer(3, 3, [2, 2]))); // 16 / 9: too many zeros
        assert!(!applies(&layer(7, 4, [2, 2]))); // vec4 already
        assert!(!applies(&layer(7, 3, [1, 1]))); // no blocks
        assert!(!applies(&layer(7, 3, [2, 1]))); // 6 channels, not a multiple of 4
        assert!(!applies(&layer(7, 3, [usize::MAX, 2]))); // no overflow either
    }

    #[test]
    fn the_view_reads_the_rows_the_layer_reads() {
        // Every (output row, tap) of the layer maps to a view row and phase
        // holding the same layer row, and the view's output size is the layer's.
        for (input, k, s) in [(224, 7, 2), (9, 3, 3), (10, 5, 2), (17, 11, 4)] {
            let g = layer(k, 3, [s, s])
                .geometry([1, input, input + 1, 3])
                .unwrap();
            let (v, [e_h, _]) = view(&g);
            assert_eq!((v.out_h, v.out_w), (g.out_h, g.out_w));
            for oy in 0..g.out_h {
                for ky in 0..k {
                    let row = (oy * s + ky) as i64 - g.pad_top as i64;
                    let view_row = oy as i64 - v.pad_top as i64 + (ky / s) as i64;
                    let layer_row = view_row * s as i64 + (ky % s) as i64 - e_h as i64;
                    assert_eq!(
                        layer_row, row,
                        "input {input}, k {k}, s {s}, oy {oy}, ky {ky}"
                    );
                    if (0..input as i64).contains(&row) {
                        assert!((0..v.in_h as i64).contains(&view_row));
                    }
                }
            }
        }
    }
}
