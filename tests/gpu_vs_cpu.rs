//! The GPU against the CPU reference over a table of edge shapes, every mode,
//! non-contiguous inputs, and NaN/infinity propagation.

mod common;

use common::{assert_matches_reference, params, random1, random4, Case};
use conv2d_wgpu::{Activation, Conv2dParams, GpuConv2d, Padding};
use ndarray::{s, Array4, ShapeBuilder};

const ACTIVATIONS: [Activation; 7] = [
    Activation::Linear,
    Activation::Relu,
    Activation::Relu6,
    Activation::LeakyRelu(0.2),
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Silu,
];

fn explicit(top: usize, bottom: usize, left: usize, right: usize) -> Padding {
    Padding::Explicit {
        top,
        bottom,
        left,
        right,
    }
}

/// (input NHWC, [kh, kw], cout, params)
fn edge_table() -> Vec<Case> {
    use Activation::Linear;
    let plain = |padding| params([1, 1], [1, 1], padding, 1, Linear);
    let mut cases = vec![
        // Sizes of one.
        Case::new([1, 1, 1, 1], [1, 1], 1, plain(Padding::Valid)),
        Case::new([1, 1, 1, 1], [3, 3], 1, plain(Padding::Same)),
        // Odd sizes, non-square input and kernel.
        Case::new([1, 7, 5, 3], [3, 2], 5, plain(Padding::Valid)),
        Case::new([1, 5, 9, 3], [1, 4], 2, plain(Padding::Same)),
        // Kernel equal to the input (one output pixel).
        Case::new([1, 4, 3, 2], [4, 3], 3, plain(Padding::Valid)),
        // Kernel larger than the input, same padding.
        Case::new([1, 2, 3, 2], [5, 5], 2, plain(Padding::Same)),
        // Batch > 1.
        Case::new([3, 6, 6, 2], [3, 3], 4, plain(Padding::Same)),
        // Strides, square and not, with both paddings.
        Case::new(
            [2, 9, 8, 3],
            [3, 3],
            4,
            params([2, 2], [1, 1], Padding::Same, 1, Linear),
        ),
        Case::new(
            [1, 9, 8, 3],
            [3, 3],
            4,
            params([3, 1], [1, 1], Padding::Valid, 1, Linear),
        ),
        Case::new(
            [1, 8, 11, 2],
            [2, 3],
            3,
            params([1, 4], [1, 1], Padding::Same, 1, Linear),
        ),
        // Dilations, and stride with dilation (tf.nn.conv2d semantics).
        Case::new(
            [1, 9, 9, 2],
            [3, 3],
            2,
            params([1, 1], [2, 2], Padding::Valid, 1, Linear),
        ),
        Case::new(
            [1, 9, 10, 2],
            [3, 2],
            2,
            params([1, 1], [2, 3], Padding::Same, 1, Linear),
        ),
        Case::new(
            [1, 11, 10, 2],
            [3, 3],
            3,
            params([2, 3], [2, 2], Padding::Same, 1, Linear),
        ),
        Case::new(
            [1, 11, 10, 2],
            [2, 3],
            3,
            params([3, 2], [3, 2], Padding::Valid, 1, Linear),
        ),
        // Explicit, asymmetric padding.
        Case::new([1, 5, 6, 2], [3, 3], 2, plain(explicit(0, 2, 1, 0))),
        Case::new(
            [1, 4, 4, 1],
            [2, 2],
            1,
            params([2, 2], [1, 1], explicit(3, 1, 0, 2), 1, Linear),
        ),
        // Groups: grouped, depthwise, depthwise with a channel multiplier.
        Case::new(
            [1, 6, 6, 4],
            [3, 3],
            6,
            params([1, 1], [1, 1], Padding::Same, 2, Linear),
        ),
        Case::new(
            [1, 6, 5, 6],
            [3, 3],
            6,
            params([1, 1], [1, 1], Padding::Same, 6, Linear),
        ),
        Case::new(
            [2, 5, 5, 3],
            [3, 3],
            6,
            params([2, 1], [1, 2], Padding::Same, 3, Linear),
        ),
        Case::new(
            [1, 5, 5, 6],
            [2, 2],
            9,
            params([1, 1], [1, 1], explicit(1, 0, 0, 1), 3, Linear),
        ),
    ];
    // No bias.
    let mut unbiased = Case::new([1, 5, 5, 3], [3, 3], 2, plain(Padding::Same));
    unbiased.bias = false;
    cases.push(unbiased);
    // Every activation, on a shape with negative and positive pre-activations.
    for activation in ACTIVATIONS {
        cases.push(Case::new(
            [1, 6, 7, 3],
            [3, 3],
            4,
            params([1, 1], [1, 1], Padding::Same, 1, activation),
        ));
    }
    // Tile-1, tile, tile+1 around the 64-invocation workgroup along channels and pixels.
    for cout in [63, 64, 65] {
        cases.push(Case::new([1, 3, 3, 2], [1, 1], cout, plain(Padding::Valid)));
    }
    cases
}

#[test]
fn edge_shapes_match_the_cpu_reference() {
    let Some(ctx) = common::gpu() else { return };
    for (i, case) in edge_table().iter().enumerate() {
        case.check(ctx, 1000 + i as u64);
    }
}

#[test]
fn non_contiguous_inputs_match_the_cpu_reference() {
    let Some(ctx) = common::gpu() else { return };
    let base = random4([2, 9, 10, 6], 7);
    let w = random4([3, 3, 3, 4], 8);
    let b = random1(4, 9);
    let p = params([1, 2], [1, 1], Padding::Same, 1, Activation::Linear);
    let conv = GpuConv2d::new(ctx, w.view(), Some(b.view()), p).unwrap();
    // Strided in every axis, channels sliced.
    let sliced = base.slice(s![.., ..;2, 1..;3, 1..;2]);
    let y = conv.forward(sliced).unwrap();
    assert_matches_reference(&y, sliced, w.view(), Some(b.view()), p, "sliced input");
    // Column-major storage.
    let mut fortran = Array4::zeros(sliced.raw_dim().f());
    fortran.assign(&sliced);
    let y_f = conv.forward(fortran.view()).unwrap();
    assert_eq!(y_f, y, "same logical input must give the same output");
    // Non-contiguous weights and bias for the layer itself.
    let w_big = random4([3, 3, 6, 8], 10);
    let w_view = w_big.slice(s![.., .., ..;2, 1..;2]);
    let conv = GpuConv2d::new(ctx, w_view, Some(b.view()), p).unwrap();
    let y = conv.forward(sliced).unwrap();
    assert_matches_reference(&y, sliced, w_view, Some(b.view()), p, "sliced weights");
}

#[test]
fn nan_and_infinity_propagate_as_on_the_cpu() {
    let Some(ctx) = common::gpu() else { return };
    for activation in ACTIVATIONS {
        let mut x = random4([1, 6, 6, 2], 21);
        x[[0, 1, 1, 0]] = f32::NAN;
        x[[0, 4, 4, 1]] = f32::INFINITY;
        x[[0, 0, 5, 0]] = f32::NEG_INFINITY;
        let w = random4([3, 3, 2, 2], 22);
        let b = random1(2, 23);
        let p = Conv2dParams {
            padding: Padding::Same,
            activation,
            ..Default::default()
        };
        let y = GpuConv2d::new(ctx, w.view(), Some(b.view()), p)
            .unwrap()
            .forward(x.view())
            .unwrap();
        assert!(
            y.iter().any(|v| v.is_nan()),
            "{activation:?}: NaN must reach the output"
        );
        assert_matches_reference(
            &y,
            x.view(),
            w.view(),
            Some(b.view()),
            p,
            &format!("{activation:?}"),
        );
    }
}

#[test]
fn activation_extremes_match_the_cpu() {
    // Pre-activations of +-100 and +-1e30: sigmoid, tanh and silu must saturate
    // as on the CPU, not overflow into NaN.
    let Some(ctx) = common::gpu() else { return };
    let x = Array4::from_shape_vec((1, 1, 4, 1), vec![100.0, -100.0, 1e30, -1e30]).unwrap();
    let w = Array4::ones((1, 1, 1, 1));
    for activation in ACTIVATIONS {
        let p = Conv2dParams {
            activation,
            ..Default::default()
        };
        let y = GpuConv2d::new(ctx, w.view(), None, p)
            .unwrap()
            .forward(x.view())
            .unwrap();
        assert_matches_reference(
            &y,
            x.view(),
            w.view(),
            None,
            p,
            &format!("{activation:?} extremes"),
        );
    }
}

#[test]
fn a_layer_is_reusable_across_input_shapes() {
    let Some(ctx) = common::gpu() else { return };
    let w = random4([3, 3, 2, 3], 31);
    let p = Conv2dParams {
        padding: Padding::Same,
        ..Default::default()
    };
    let conv = GpuConv2d::new(ctx, w.view(), None, p).unwrap();
    for (i, shape) in [[1, 4, 4, 2], [2, 7, 3, 2], [1, 4, 4, 2]]
        .into_iter()
        .enumerate()
    {
        let x = random4(shape, 40 + i as u64);
        let y = conv.forward(x.view()).unwrap();
        assert_matches_reference(&y, x.view(), w.view(), None, p, &format!("{shape:?}"));
    }
}
