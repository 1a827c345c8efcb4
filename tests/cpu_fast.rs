//! The fast CPU path against the reference: the same seeded random
//! configurations as the GPU property test, plus the benchmark's layer kinds.

mod common;

use common::strategies::padding;
use common::{assert_matches_reference, random1, random4};
use conv2d_wgpu::{conv2d_cpu, conv2d_cpu_fast, Activation, Conv2dParams, Padding};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_matches_the_reference(
        (n, h, w) in (1..3usize, 1..12usize, 1..12usize),
        (groups, cin_g, cout_g, depthwise) in (1..4usize, 1..9usize, 1..9usize, any::<bool>()),
        (kh, kw) in (1..5usize, 1..5usize),
        stride in [1..4usize, 1..4usize],
        dilation in [1..3usize, 1..3usize],
        padding in padding(),
        bias in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let (cin_g, groups) = if depthwise { (1, groups * 3) } else { (cin_g, groups) };
        let input = [n, h, w, cin_g * groups];
        let weights = [kh, kw, cin_g, cout_g * groups];
        let params = Conv2dParams { stride, dilation, padding, groups, activation: Activation::Relu };
        let x = random4(input, seed);
        let wt = random4(weights, seed ^ 1);
        let b = bias.then(|| random1(weights[3], seed ^ 2));
        let b = b.as_ref().map(|b| b.view());
        match (conv2d_cpu_fast(x.view(), wt.view(), b, params), conv2d_cpu(x.view(), wt.view(), b, params)) {
            (Ok(y), Ok(_)) => assert_matches_reference(&y, x.view(), wt.view(), b, params, "cpu fast"),
            (Err(f), Err(r)) => prop_assert_eq!(f.to_string(), r.to_string()),
            (f, r) => prop_assert!(false, "fast {:?} but reference {:?}", f.map(|_| ()), r.map(|_| ())),
        }
    }
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
