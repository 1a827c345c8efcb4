//! The fast CPU path against the reference: seeded random configurations
//! (grouped, depthwise, strided, dilated, padded) with the size threshold
//! lowered to 0 so that every one of them runs the GEMM or depthwise path (each
//! case asserts which path ran and counts it), plus the benchmark's layer kinds
//! at the real threshold.

mod common;

use common::strategies::padding;
use common::{assert_matches_reference, random1, random4};
use conv2d_wgpu::{
    conv2d_cpu, conv2d_cpu_fast, conv2d_cpu_fast_path, Activation, Conv2dParams, CpuPath, Padding,
};
use proptest::prelude::*;

/// Random layers generated; those whose shapes are invalid (both paths must
/// then return the same error) do not count towards the fast-path runs.
const CASES: u32 = 512;

#[test]
fn fast_paths_match_the_reference_on_random_layers() {
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let strategy = (
        (1..3usize, 1..12usize, 1..12usize),
        (1..4usize, 1..9usize, 1..9usize, any::<bool>()),
        (1..5usize, 1..5usize),
        [1..4usize, 1..4usize],
        [1..3usize, 1..3usize],
        padding(),
        any::<bool>(),
        any::<u64>(),
    );
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
    let runs = std::cell::Cell::new((0usize, 0usize));
    let mut runner = TestRunner::new_with_rng(config, rng);
    let result = runner.run(&strategy, |case| {
        let (
            (n, h, w),
            (groups, cin_g, cout_g, depthwise),
            (kh, kw),
            stride,
            dilation,
            padding,
            bias,
            seed,
        ) = case;
        let (cin_g, groups) = if depthwise {
            (1, groups * 3)
        } else {
            (cin_g, groups)
        };
        let input = [n, h, w, cin_g * groups];
        let weights = [kh, kw, cin_g, cout_g * groups];
        let params = Conv2dParams {
            stride,
            dilation,
            padding,
            groups,
            activation: Activation::Relu,
        };
        let x = random4(input, seed);
        let wt = random4(weights, seed ^ 1);
        let b = bias.then(|| random1(weights[3], seed ^ 2));
        let b = b.as_ref().map(|b| b.view());
        // Threshold 0: no layer falls back to the reference's loops.
        let fast = conv2d_cpu_fast_path(x.view(), wt.view(), b, params, 0);
        match (fast, conv2d_cpu(x.view(), wt.view(), b, params)) {
            (Ok((y, path)), Ok(_)) => {
                let is_depthwise = cin_g == 1 && groups > 1;
                let expected = if is_depthwise {
                    CpuPath::Depthwise
                } else {
                    CpuPath::Gemm
                };
                prop_assert_eq!(path, expected);
                let (gemm, dw) = runs.get();
                runs.set(if is_depthwise {
                    (gemm, dw + 1)
                } else {
                    (gemm + 1, dw)
                });
                assert_matches_reference(&y, x.view(), wt.view(), b, params, "cpu fast");
            }
            (Err(f), Err(r)) => prop_assert_eq!(f.to_string(), r.to_string()),
            (f, r) => prop_assert!(
                false,
                "fast {:?} but reference {:?}",
                f.map(|_| ()),
                r.map(|_| ())
            ),
        }
        Ok(())
    });
    result.unwrap();
    let (gemm, depthwise) = runs.get();
    eprintln!(
        "of {CASES} random layers, the GEMM path ran {gemm} and the depthwise path {depthwise}"
    );
    assert!(
        gemm + depthwise >= 256,
        "only {} random layers ran a fast path",
        gemm + depthwise
    );
    assert!(
        depthwise >= 32 && gemm >= 128,
        "GEMM {gemm}, depthwise {depthwise}"
    );
}

#[test]
fn the_real_threshold_sends_tiny_layers_to_the_reference_and_large_ones_fast() {
    let p = Conv2dParams::default();
    let small = (random4([1, 4, 4, 2], 1), random4([3, 3, 2, 2], 2));
    let (_, path) = conv2d_cpu_fast_path(small.0.view(), small.1.view(), None, p, 1 << 16).unwrap();
    assert_eq!(path, CpuPath::Reference);
    let large = (random4([1, 32, 32, 16], 3), random4([3, 3, 16, 16], 4));
    let (_, path) = conv2d_cpu_fast_path(large.0.view(), large.1.view(), None, p, 1 << 16).unwrap();
    assert_eq!(path, CpuPath::Gemm);
}

#[test]
fn benchmark_layer_kinds_match_the_reference() {
    let same = |groups| Conv2dParams {
        padding: Padding::Same,
        groups,
        ..Default::default()
    };
    let cases = [
        ([1, 20, 20, 16], [3, 3, 16, 16], same(1)), // like B2/B5
        ([1, 14, 14, 32], [1, 1, 32, 24], Conv2dParams::default()), // like B3 (1x1)
        (
            [1, 30, 30, 3],
            [7, 7, 3, 8],
            Conv2dParams {
                stride: [2, 2],
                ..same(1)
            },
        ), // like B4
        ([1, 20, 20, 16], [3, 3, 1, 16], same(16)), // like B6 (depthwise)
        ([2, 64, 70, 4], [3, 3, 4, 4], same(1)),    // more pixels than one im2col block
    ];
    for (i, (input, weights, params)) in cases.into_iter().enumerate() {
        let x = random4(input, i as u64);
        let w = random4(weights, 100 + i as u64);
        let b = random1(weights[3], 200 + i as u64);
        let y = conv2d_cpu_fast(x.view(), w.view(), Some(b.view()), params).unwrap();
        assert_matches_reference(
            &y,
            x.view(),
            w.view(),
            Some(b.view()),
            params,
            &format!("{input:?} {weights:?}"),
        );
    }
}
