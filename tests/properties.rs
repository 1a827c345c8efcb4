//! Seeded property test: random layer configurations, GPU against the CPU
//! reference, in f32 and (where the adapter has SHADER_F16) in f16. Configurations the reference rejects must be rejected by the GPU
//! path with the same error.

mod common;

use common::strategies::{activation, padding};
use common::{assert_matches_reference_in, forward_with, random1, random4};
use conv2d_wgpu::{conv2d_cpu, Algorithm, Conv2dParams, GpuConv2d, Precision};
use proptest::prelude::*;

/// Cases per run; CI runs this many on each backend.
const CASES: u32 = 256;

#[derive(Debug, Clone)]
struct Config {
    input: [usize; 4],
    weights: [usize; 4],
    bias: bool,
    params: Conv2dParams,
    seed: u64,
}

fn config() -> impl Strategy<Value = Config> {
    (
        (1..3usize, 1..10usize, 1..10usize),
        (1..4usize, 1..9usize, 1..18usize, 0..4usize),
        (1..5usize, 1..5usize),
        ([1..4usize, 1..4usize], [1..4usize, 1..4usize]),
        (padding(), activation(), any::<bool>(), any::<u64>()),
    )
        .prop_map(
            |(
                (n, h, w),
                (groups, cin_g, cout_g, kind),
                (kh, kw),
                (stride, dilation),
                (padding, activation, bias, seed),
            )| {
                // One case in four is depthwise with channels in fours.
                let (groups, cin_g, cout_g) = if kind == 0 {
                    (4 * groups, 1, 1)
                } else {
                    (groups, cin_g, cout_g)
                };
                Config {
                    input: [n, h, w, groups * cin_g],
                    weights: [kh, kw, cin_g, groups * cout_g],
                    bias,
                    params: Conv2dParams {
                        stride,
                        dilation,
                        padding,
                        groups,
                        activation,
                    },
                    seed,
                }
            },
        )
}

/// The GPU (forced to `algorithm` where it supports the layer, else the
/// heuristic's choice) in `precision` against the CPU reference.
fn check(c: &Config, algorithm: Algorithm, precision: Precision) -> Result<(), TestCaseError> {
    let Some(ctx) = common::gpu() else {
        return Ok(());
    };
    let x = random4(c.input, c.seed);
    let w = random4(c.weights, c.seed.wrapping_add(1));
    let b = c
        .bias
        .then(|| random1(c.weights[3], c.seed.wrapping_add(2)));
    let b = b.as_ref().map(|b| b.view());
    let reference = conv2d_cpu(x.view(), w.view(), b, c.params);
    let gpu = GpuConv2d::new(ctx, w.view(), b, c.params)
        .and_then(|conv| conv.with_precision(precision))
        .and_then(|conv| {
            let heuristic = conv.forward(x.view());
            forward_with(conv, algorithm, &x).unwrap_or(heuristic)
        });
    match (gpu, reference) {
        (Ok(y), Ok(_)) => {
            let what = format!("{c:?} {precision:?}");
            assert_matches_reference_in(&y, x.view(), w.view(), b, c.params, precision, &what);
        }
        (Err(g), Err(r)) => prop_assert_eq!(g, r),
        (g, r) => prop_assert!(
            false,
            "{:?}: GPU {:?} but CPU {:?}",
            c,
            g.map(|_| ()),
            r.map(|_| ())
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn gpu_matches_cpu_on_random_configs(
        c in config(),
        algorithm in prop::sample::select(Algorithm::ALL.to_vec()),
    ) {
        check(&c, algorithm, Precision::F32)?;
    }

    #[test]
    fn gpu_matches_cpu_on_random_configs_in_f16(
        c in config(),
        algorithm in prop::sample::select(Algorithm::ALL.to_vec()),
    ) {
        // On an adapter without SHADER_F16 this checks the refusal once and
        // runs nothing.
        if common::gpu_f16().is_some() {
            check(&c, algorithm, Precision::F16)?;
        }
    }
}
