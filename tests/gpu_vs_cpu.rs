//! The GPU against the CPU reference over a table of edge shapes, every mode,
//! non-contiguous inputs, and NaN/infinity propagation.

mod common;

use common::{
    assert_matches_reference, assert_matches_reference_in, forward_with, params, random1, random4,
    Case,
};
use conv2d_wgpu::{Activation, Algorithm, Conv2dParams, GpuContext, GpuConv2d, Padding, Precision};
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
        for (cin, groups) in [(3, 1), (4, 1), (4, 4)] {
            cases.push(Case::new(
                [1, 6, 7, cin],
                [3, 3],
                4,
                params([1, 1], [1, 1], Padding::Same, groups, activation),
            ));
        }
    }
    // Tile-1, tile, tile+1 around the 64-invocation workgroup along channels and pixels.
    for cout in [63, 64, 65] {
        cases.push(Case::new([1, 3, 3, 2], [1, 1], cout, plain(Padding::Valid)));
    }
    // The tiled kernels: vec4 input (cin % 4 == 0) and scalar input, 8-pixel and
    // 16-channel register tiles: pixels 7, 8, 9 and channels 15, 16, 17, 4, 1.
    for (pixels_w, cout) in [(7, 16), (8, 15), (9, 17), (8, 4), (3, 1)] {
        cases.push(Case::new(
            [1, 1, pixels_w, 8],
            [1, 3],
            cout,
            plain(Padding::Same),
        ));
        cases.push(Case::new(
            [2, 3, pixels_w, 3],
            [3, 3],
            cout,
            plain(Padding::Same),
        ));
    }
    cases.push(Case::new(
        [2, 9, 7, 8],
        [3, 3],
        12,
        params([2, 1], [1, 2], Padding::Same, 1, Linear),
    ));
    cases.push(Case::new(
        [1, 8, 9, 4],
        [5, 5],
        20,
        plain(explicit(2, 0, 1, 3)),
    ));
    // Grouped layers as one register-tiled GEMM per group: vec4 input (4
    // channels per group), scalar input (3 per group), strided.
    cases.push(Case::new(
        [2, 7, 9, 8],
        [3, 3],
        8,
        params([1, 1], [1, 1], Padding::Same, 2, Linear),
    ));
    cases.push(Case::new(
        [1, 6, 7, 6],
        [3, 3],
        16,
        params([1, 1], [1, 1], Padding::Same, 2, Linear),
    ));
    cases.push(Case::new(
        [1, 9, 9, 16],
        [3, 3],
        32,
        params([2, 2], [1, 1], Padding::Same, 4, Linear),
    ));
    // Grouped Winograd, one product per group: 8 input and 12 output
    // channels per group (a partial column tile), and 20 of each.
    cases.push(Case::new(
        [1, 9, 11, 32],
        [3, 3],
        48,
        params([1, 1], [1, 1], Padding::Valid, 4, Linear),
    ));
    cases.push(Case::new(
        [2, 6, 5, 40],
        [3, 3],
        40,
        params([1, 1], [1, 1], Padding::Same, 2, Linear),
    ));
    // The workgroup-tiled GEMM with its edge checks compiled out (64-pixel,
    // 64-channel and 16-deep tiles divide the problem) and with them in.
    cases.push(Case::new([1, 8, 8, 16], [1, 1], 64, plain(Padding::Valid)));
    cases.push(Case::new([1, 8, 16, 16], [3, 3], 64, plain(Padding::Same)));
    cases.push(Case::new([2, 7, 9, 5], [3, 3], 70, plain(Padding::Same)));
    // The implicit GEMM's space-to-depth view (strided, channels not a
    // multiple of 4): B4's 7x7 stride 2 on odd sizes and two images, odd
    // explicit padding (the view's rows shifted), 11x11 stride 4 (AlexNet's
    // stem), 5x5 stride 2 on 2 channels, unequal strides with a ReLU.
    cases.push(Case::new(
        [2, 13, 11, 3],
        [7, 7],
        20,
        params([2, 2], [1, 1], Padding::Same, 1, Linear),
    ));
    cases.push(Case::new(
        [1, 12, 13, 3],
        [7, 7],
        9,
        params([2, 2], [1, 1], explicit(3, 1, 1, 4), 1, Linear),
    ));
    cases.push(Case::new(
        [1, 23, 27, 3],
        [11, 11],
        8,
        params([4, 4], [1, 1], Padding::Valid, 1, Linear),
    ));
    cases.push(Case::new(
        [1, 9, 10, 2],
        [5, 5],
        6,
        params([2, 2], [1, 1], Padding::Same, 1, Linear),
    ));
    cases.push(Case::new(
        [1, 10, 13, 1],
        [3, 7],
        5,
        params([3, 4], [1, 1], explicit(2, 0, 3, 1), 1, Activation::Relu),
    ));
    // GEMM views: 1x1 stride 1, and kernels covering the whole input.
    cases.push(Case::new([2, 5, 6, 8], [1, 1], 20, plain(Padding::Valid)));
    cases.push(Case::new([3, 4, 5, 3], [1, 1], 9, plain(Padding::Same)));
    cases.push(Case::new([3, 4, 3, 4], [4, 3], 18, plain(Padding::Valid)));
    cases.push(Case::new([2, 3, 3, 1], [3, 3], 5, plain(Padding::Valid)));
    // Depthwise vec4: strides, dilations (the register segment), rows of 7, 8, 9,
    // and a dilation too wide for the segment (per-tap loads).
    for (w, stride, dilation) in [(7, 1, 1), (8, 2, 1), (9, 1, 2), (17, 3, 2), (30, 1, 9)] {
        cases.push(Case::new(
            [2, 6, w, 8],
            [3, 3],
            8,
            params([1, stride], [1, dilation], Padding::Same, 8, Linear),
        ));
    }
    // The row kernel's sliding 3-wide rows, which CPU adapters otherwise
    // leave to the block and subgroup kernels at 3x3 stride 1: a row stride
    // of 2, and 5 rows of 3 taps.
    cases.push(Case::new(
        [2, 7, 9, 8],
        [3, 3],
        8,
        params([2, 1], [1, 1], Padding::Same, 8, Linear),
    ));
    cases.push(Case::new(
        [1, 8, 7, 12],
        [5, 3],
        12,
        params([1, 1], [1, 1], Padding::Same, 12, Linear),
    ));
    // Depthwise 3x3 stride 1 (SwiftShader's 4 x 4 blocks, the strips of 4
    // columns or, on 8-lane subgroups, 14 columns, up to 28 rows tall and
    // evened out): heights and widths that fill whole blocks and strips and
    // that leave part of one, several strips down and across, several
    // images, rows wholly in the padding.
    for (input, padding) in [
        ([3, 9, 10, 8], Padding::Same),
        ([2, 10, 5, 4], Padding::Valid),
        ([1, 4, 4, 4], explicit(3, 0, 0, 2)),
        ([2, 8, 8, 4], explicit(0, 2, 1, 1)),
        ([2, 19, 13, 8], Padding::Same),
        ([1, 33, 12, 4], explicit(2, 1, 0, 2)),
        ([1, 30, 29, 4], Padding::Same),
        ([2, 57, 15, 8], explicit(1, 0, 0, 1)),
        ([1, 29, 28, 4], Padding::Valid),
    ] {
        cases.push(Case::new(
            input,
            [3, 3],
            input[3],
            params([1, 1], [1, 1], padding, input[3], Linear),
        ));
    }
    cases.push(Case::new(
        [1, 5, 6, 12],
        [2, 4],
        12,
        params([2, 1], [1, 1], explicit(0, 1, 2, 1), 12, Linear),
    ));
    cases
}

#[test]
fn edge_shapes_match_the_cpu_reference() {
    let Some(ctx) = common::gpu() else { return };
    let mut runs = std::collections::HashMap::new();
    for (i, case) in edge_table().iter().enumerate() {
        for algorithm in case.check(ctx, 1000 + i as u64) {
            *runs.entry(format!("{algorithm:?}")).or_insert(0) += 1;
        }
    }
    eprintln!("edge cases run per algorithm: {runs:?}");
    assert_eq!(
        runs.len(),
        conv2d_wgpu::Algorithm::ALL.len(),
        "every algorithm must be exercised"
    );
}

#[test]
fn edge_shapes_match_without_subgroups_or_weight_textures() {
    // Where the device has subgroups the GEMMs use their subgroup kernels, and
    // CPU adapters without them read weights through textures; a device
    // adopted without the feature, textures refused, runs the plain kernels.
    let Some(plain) = common::gpu_with_limits(|_| {}) else {
        return;
    };
    assert!(!plain
        .device()
        .features()
        .contains(conv2d_wgpu::wgpu::Features::SUBGROUP));
    conv2d_wgpu::introspect::use_weight_textures(&plain, Some(false));
    for (i, case) in edge_table().iter().enumerate() {
        case.check(&plain, 5000 + i as u64);
    }
}

#[test]
fn edge_shapes_match_with_weights_in_textures() {
    // The implicit GEMM's and Winograd's texture kernels (chosen by
    // themselves on CPU adapters without subgroups), on whatever adapter this is.
    let Some(ctx) = common::gpu_with_limits(|_| {}) else {
        return;
    };
    conv2d_wgpu::introspect::use_weight_textures(&ctx, Some(true));
    let (mut gemms, mut winograd) = (0, 0);
    for (i, case) in edge_table().iter().enumerate() {
        let ran = case.check(&ctx, 6000 + i as u64);
        gemms += ran
            .iter()
            .filter(|a| matches!(a, Algorithm::ImplicitGemm | Algorithm::Gemm))
            .count();
        winograd += ran.iter().filter(|a| **a == Algorithm::Winograd).count();
    }
    assert!(gemms > 20, "{gemms}");
    assert!(winograd > 5, "{winograd}");
}

#[test]
fn edge_shapes_match_with_narrow_register_tiles() {
    // The 4-pixel register-tiled GEMMs that SwiftShader runs (its compiler
    // takes minutes on the 8-pixel ones) and its 4 x 4-block depthwise
    // kernel, here on whatever adapter this is.
    let Some(ctx) = common::gpu_with_limits(|_| {}) else {
        return;
    };
    conv2d_wgpu::introspect::use_narrow_tiles(&ctx, true);
    let (mut runs, mut depthwise) = (0, 0);
    for (i, case) in edge_table().iter().enumerate() {
        let ran = case.check(&ctx, 7000 + i as u64);
        runs += ran
            .iter()
            .filter(|a| **a == Algorithm::ImplicitGemm)
            .count();
        depthwise += ran.iter().filter(|a| **a == Algorithm::Depthwise).count();
    }
    assert!(runs > 20, "{runs}");
    assert!(depthwise > 10, "{depthwise}");
}

#[test]
fn edge_shapes_match_with_register_gemms_in_workgroups_of_64() {
    // CPU adapters run the register-tiled GEMMs in workgroups of one SIMD
    // row of 8, GPUs in workgroups of 64: here the latter on any adapter,
    // on a context of its own with every feature (subgroups included).
    if common::gpu().is_none() {
        return;
    }
    let ctx = GpuContext::new().expect("a second context on the adapter");
    conv2d_wgpu::introspect::use_row_workgroups(&ctx, Some(false));
    let mut gemms = 0;
    for (i, case) in edge_table().iter().enumerate() {
        let ran = case.check(&ctx, 8000 + i as u64);
        gemms += ran
            .iter()
            .filter(|a| matches!(a, Algorithm::ImplicitGemm | Algorithm::Gemm))
            .count();
    }
    assert!(gemms > 20, "{gemms}");
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
    // In the input and in the weights, next to padding, through every activation
    // and every algorithm that can run the layer, in every precision the
    // device has.
    let Some(ctx) = common::gpu() else { return };
    for precision in common::precisions(ctx) {
        for (groups, cin) in [(1, 3), (1, 4), (4, 4)] {
            for activation in ACTIVATIONS {
                let mut x = random4([1, 6, 9, cin], 21);
                x[[0, 1, 1, 0]] = f32::NAN;
                x[[0, 4, 4, 1]] = f32::INFINITY;
                x[[0, 0, 8, 0]] = f32::NEG_INFINITY;
                let b = random1(4, 23);
                let p = Conv2dParams {
                    padding: Padding::Same,
                    groups,
                    activation,
                    ..Default::default()
                };
                for algorithm in Algorithm::ALL {
                    let mut w = random4([3, 3, cin / groups, 4], 22);
                    // An infinite weight meeting the padding on the top row: the
                    // reference skips padding taps, and so do all kernels but
                    // TiledGemm and Winograd, which multiply padding as zeros
                    // (documented).
                    if !matches!(algorithm, Algorithm::TiledGemm | Algorithm::Winograd) {
                        w[[0, 0, 0, 1]] = f32::INFINITY;
                    }
                    let conv = GpuConv2d::new(ctx, w.view(), Some(b.view()), p)
                        .and_then(|c| c.with_precision(precision))
                        .unwrap();
                    let Some(y) = forward_with(conv, algorithm, &x) else {
                        continue;
                    };
                    let y = y.unwrap();
                    let what =
                        format!("{activation:?} {algorithm:?} groups {groups} {precision:?}");
                    assert!(
                        y.iter().any(|v| v.is_nan()),
                        "{what}: NaN must reach the output"
                    );
                    let b = Some(b.view());
                    let y = if algorithm == Algorithm::Winograd {
                        winograd_tiles_checked(y, &x, w.view(), b, p, precision, &what)
                    } else {
                        y
                    };
                    assert_matches_reference_in(&y, x.view(), w.view(), b, p, precision, &what);
                }
            }
        }
    }
}

#[test]
fn infinite_weights_on_layers_whose_taps_never_reach_padding_match_the_cpu() {
    // No tap reaches the padding (1x1 'same', 3x3 'valid'): the GEMMs read
    // padding as zeros even with infinite weights, and nothing changes.
    let Some(ctx) = common::gpu() else { return };
    for precision in common::precisions(ctx) {
        for (k, padding) in [(1, Padding::Same), (3, Padding::Valid)] {
            let x = random4([1, 5, 7, 8], 31);
            let mut w = random4([k, k, 8, 8], 32);
            w[[0, 0, 0, 1]] = f32::INFINITY;
            w[[k - 1, 0, 3, 5]] = f32::NEG_INFINITY;
            let p = Conv2dParams {
                padding,
                ..Default::default()
            };
            for algorithm in [Algorithm::ImplicitGemm, Algorithm::Gemm] {
                let conv = GpuConv2d::new(ctx, w.view(), None, p)
                    .and_then(|c| c.with_precision(precision))
                    .unwrap();
                let Some(y) = forward_with(conv, algorithm, &x) else {
                    continue;
                };
                let y = y.unwrap();
                let what = format!("{k}x{k} {padding:?} {algorithm:?} {precision:?}");
                assert!(y.iter().any(|v| v.is_infinite()), "{what}");
                assert_matches_reference_in(&y, x.view(), w.view(), None, p, precision, &what);
            }
        }
    }
}

#[test]
fn weights_beyond_f16_range_meet_padding_as_infinities_in_f16() {
    // 1e5 is finite in f32 and an infinity in f16: the f16 layer must skip
    // the padding next to it, as the reference does with the rounded weights.
    let Some(ctx) = common::gpu() else { return };
    if !common::precisions(ctx).contains(&Precision::F16) {
        return;
    }
    let x = random4([1, 6, 9, 4], 41);
    let mut w = random4([3, 3, 4, 8], 42);
    w[[0, 0, 0, 1]] = 1e5;
    let p = Conv2dParams {
        padding: Padding::Same,
        ..Default::default()
    };
    let conv = GpuConv2d::new(ctx, w.view(), None, p)
        .and_then(|c| c.with_precision(Precision::F16))
        .unwrap();
    let y = forward_with(conv, Algorithm::ImplicitGemm, &x)
        .expect("the implicit GEMM runs this layer")
        .unwrap();
    assert!(y.iter().any(|v| v.is_infinite()));
    let what = "1e5 weight in f16 next to padding";
    assert_matches_reference_in(&y, x.view(), w.view(), None, p, Precision::F16, what);
}

/// Winograd (F(2x2, 3x3), 'same' padding here) mixes the 4 x 4 input window
/// of each 2 x 2 output tile: a non-finite input reaches every output of the
/// tiles whose window holds it (as NaN where infinities of both signs meet).
/// Checks that every output the reference makes non-finite is non-finite
/// there, and returns `y` with those tiles' outputs replaced by the
/// reference's, for the usual comparison of all the others.
fn winograd_tiles_checked(
    mut y: Array4<f32>,
    x: &Array4<f32>,
    w: ndarray::ArrayView4<f32>,
    b: Option<ndarray::ArrayView1<f32>>,
    p: Conv2dParams,
    precision: Precision,
    what: &str,
) -> Array4<f32> {
    // The reference on the data as the layer stores it.
    let (xs, ws, bs) = match precision {
        Precision::F16 => (
            common::round_to_f16(x.view()),
            common::round_to_f16(w),
            b.map(|b| b.mapv(|v| conv2d_wgpu::half::f16::from_f32(v).to_f32())),
        ),
        _ => (x.clone(), w.to_owned(), b.map(|b| b.to_owned())),
    };
    let reference =
        conv2d_wgpu::conv2d_cpu(xs.view(), ws.view(), bs.as_ref().map(|b| b.view()), p).unwrap();
    let (h, wd) = (x.shape()[1] as i64, x.shape()[2] as i64);
    let mut touched = 0;
    for ((n, oy, ox, c), value) in y.indexed_iter_mut() {
        let (top, left) = ((oy / 2 * 2) as i64 - 1, (ox / 2 * 2) as i64 - 1);
        let window_finite = (top..top + 4).all(|iy| {
            (left..left + 4).all(|ix| {
                !(0..h).contains(&iy)
                    || !(0..wd).contains(&ix)
                    || x.slice(s![n, iy as usize, ix as usize, ..])
                        .iter()
                        .all(|v| v.is_finite())
            })
        });
        let expected = reference[[n, oy, ox, c]];
        if !expected.is_finite() {
            assert!(
                !value.is_finite(),
                "{what}: at {:?} GPU {value} but CPU {expected}",
                (n, oy, ox, c)
            );
        }
        if !window_finite {
            *value = expected;
            touched += 1;
        }
    }
    assert!(touched > 0, "{what}: the non-finite inputs reach some tile");
    y
}

#[test]
fn activation_extremes_match_the_cpu() {
    // Pre-activations of +-100 and +-1e30 (infinite in f16): sigmoid, tanh and
    // silu must saturate as on the CPU, not overflow into NaN.
    let Some(ctx) = common::gpu() else { return };
    let x = Array4::from_shape_vec((1, 1, 4, 1), vec![100.0, -100.0, 1e30, -1e30]).unwrap();
    let w = Array4::ones((1, 1, 1, 1));
    for precision in common::precisions(ctx) {
        for activation in ACTIVATIONS {
            let p = Conv2dParams {
                activation,
                ..Default::default()
            };
            for algorithm in Algorithm::ALL {
                let conv = GpuConv2d::new(ctx, w.view(), None, p)
                    .and_then(|c| c.with_precision(precision))
                    .unwrap();
                let Some(y) = forward_with(conv, algorithm, &x) else {
                    continue;
                };
                let what = format!("{activation:?} {algorithm:?} extremes {precision:?}");
                let y = y.unwrap();
                assert_matches_reference_in(&y, x.view(), w.view(), None, p, precision, &what);
            }
        }
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

#[test]
fn edge_shapes_match_the_cpu_reference_in_f16() {
    // Every algorithm in f16 storage against the reference on f16-rounded
    // data, with the tolerance of `assert_matches_reference_in`.
    let Some(ctx) = common::gpu_f16() else { return };
    let mut runs = std::collections::HashMap::new();
    let mut worst = 0.0f32;
    for (i, case) in edge_table().iter().enumerate() {
        let (ran, ratio) = case.check_in(ctx, 1000 + i as u64, Precision::F16);
        for algorithm in ran {
            *runs.entry(format!("{algorithm:?}")).or_insert(0) += 1;
        }
        worst = worst.max(ratio);
    }
    eprintln!(
        "f16 edge cases run per algorithm: {runs:?}; largest error {worst:.3} of the tolerance"
    );
    assert_eq!(
        runs.len(),
        conv2d_wgpu::Algorithm::ALL.len(),
        "every algorithm must run in f16"
    );
}
