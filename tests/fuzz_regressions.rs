//! Every crash the coverage-guided fuzzer (`fuzz/`) found, as a test. Each
//! names the target and what was wrong.

mod common;

use common::{assert_matches_reference, random1, random4, Case};
use conv2d_wgpu::{conv2d_cpu_fast_path, Conv2dParams, CpuPath, Padding};

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
