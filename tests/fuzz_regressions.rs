//! Every crash the coverage-guided fuzzer (`fuzz/`) found, as a test. Each
//! names the target and what was wrong.

mod common;

use common::{assert_matches_reference, random1, random4, Case};
use conv2d_wgpu::{
    conv2d_cpu, conv2d_cpu_fast_path, Algorithm, Conv2dParams, CpuPath, GpuConv2d, Padding,
};

/// `layer_cpu`: a 1x1 stride-1 layer with padding only at the bottom (or
/// right) has more output pixels than input pixels; the fast path took the
/// input as its im2col matrix and read past its end (AddressSanitizer:
/// heap-buffer-overflow in the GEMM), giving wrong numbers.
fn one_by_one_padded_after() -> Vec<([usize; 4], Conv2dParams)> {
    let explicit = |bottom, right| Padding::Explicit {
        top: 0,
        bottom,
        left: 0,
        right,
    };
    [(1, 0), (0, 1), (2, 3)]
        .into_iter()
        .map(|(bottom, right)| {
            let params = Conv2dParams {
                dilation: [1, 3],
                padding: explicit(bottom, right),
                ..Default::default()
            };
            ([1, 9, 9, 1], params)
        })
        .collect()
}

#[test]
fn cpu_fast_one_by_one_with_bottom_or_right_padding() {
    for (input, params) in one_by_one_padded_after() {
        let x = random4(input, 1);
        let w = random4([1, 1, 1, 5], 2);
        let b = random1(5, 3);
        let (y, path) =
            conv2d_cpu_fast_path(x.view(), w.view(), Some(b.view()), params, 0).unwrap();
        assert_eq!(path, CpuPath::Gemm);
        assert_matches_reference(&y, x.view(), w.view(), Some(b.view()), params, "fast path");
    }
}

#[test]
fn gpu_one_by_one_with_bottom_or_right_padding() {
    let Some(ctx) = common::gpu() else { return };
    for (input, params) in one_by_one_padded_after() {
        Case::new(input, [1, 1], 5, params).check(ctx, 7);
        Case::new([2, 20, 17, 8], [1, 1], 12, params).check(ctx, 8);
    }
}

/// `gpu_forward`: forcing an algorithm checks support on a probe input (the
/// kernel's own extent). With a stride too large to compute, the probe failed
/// validation and `with_algorithm` returned that error, naming the probe's
/// made-up input (`input 4`) instead of the caller's (`input 2`).
#[test]
fn forcing_an_algorithm_reports_the_callers_input_not_the_probe() {
    let Some(ctx) = common::gpu() else { return };
    let params = Conv2dParams {
        stride: [1, 3617008641903833699],
        dilation: [3, 3],
        ..Default::default()
    };
    let w = random4([2, 2, 1, 4], 1);
    let x = random4([1, 5, 2, 1], 2);
    every_algorithm_fails_as_the_reference(ctx, &w, &x, params);
}

/// `gpu_forward`: the probe's kernel extent `(k - 1) * dilation + 1`
/// overflowed for a huge dilation (a panic in debug builds, a wrapped probe in
/// release). Now every algorithm either refuses the layer or the forward call
/// returns the reference's own error.
#[test]
fn forcing_an_algorithm_with_a_huge_dilation_does_not_overflow() {
    let Some(ctx) = common::gpu() else { return };
    let params = Conv2dParams {
        dilation: [usize::MAX / 2 + 1, 1],
        ..Default::default()
    };
    let w = random4([3, 1, 4, 4], 1);
    let x = random4([1, 5, 5, 4], 2);
    every_algorithm_fails_as_the_reference(ctx, &w, &x, params);
}

/// Forced to each algorithm, the layer either refuses it or its forward call
/// returns the CPU reference's own error.
fn every_algorithm_fails_as_the_reference(
    ctx: &conv2d_wgpu::GpuContext,
    w: &ndarray::Array4<f32>,
    x: &ndarray::Array4<f32>,
    params: Conv2dParams,
) {
    let reference = conv2d_cpu(x.view(), w.view(), None, params).unwrap_err();
    for algorithm in Algorithm::ALL {
        let conv = GpuConv2d::new(ctx, w.view(), None, params).unwrap();
        let gpu = match conv.with_algorithm(algorithm) {
            Ok(conv) => conv.forward(x.view()).unwrap_err(),
            Err(e) => e,
        };
        if matches!(gpu, conv2d_wgpu::Conv2dError::UnsupportedAlgorithm { .. }) {
            continue;
        }
        assert_eq!(gpu.to_string(), reference.to_string(), "{algorithm:?}");
    }
}

/// `gpu_forward`: a dilated kernel as wide as the input (2x2 taps 2 apart on
/// a 2x2 image, `same` padding after it) was run as a matrix product over the
/// whole input, by `Gemm` and `TiledGemm`, as if its taps were next to each
/// other: wrong numbers (e.g. 0.27 where the reference gives 0). Now the
/// heuristic's algorithm and every forced one that accepts it match.
#[test]
fn a_dilated_kernel_as_wide_as_the_input_is_not_a_matrix_product() {
    let Some(ctx) = common::gpu() else { return };
    for stride in [[2, 2], [3, 2], [1, 1]] {
        let params = Conv2dParams {
            stride,
            dilation: [2, 2],
            padding: Padding::Same,
            ..Default::default()
        };
        let w = random4([2, 2, 2, 1], 1);
        let b = random1(1, 2);
        let x = random4([1, 2, 2, 2], 3);
        let heuristic = GpuConv2d::new(ctx, w.view(), Some(b.view()), params).unwrap();
        let y = heuristic.forward(x.view()).unwrap();
        assert_matches_reference(&y, x.view(), w.view(), Some(b.view()), params, "heuristic");
        for algorithm in Algorithm::ALL {
            let Ok(conv) = GpuConv2d::new(ctx, w.view(), Some(b.view()), params)
                .unwrap()
                .with_algorithm(algorithm)
            else {
                continue;
            };
            match conv.forward(x.view()) {
                Ok(y) => {
                    let what = format!("{algorithm:?} stride {stride:?}");
                    assert_matches_reference(&y, x.view(), w.view(), Some(b.view()), params, &what);
                }
                Err(conv2d_wgpu::Conv2dError::UnsupportedAlgorithm { .. }) => {}
                Err(e) => panic!("{algorithm:?}: {e}"),
            }
        }
    }
}
