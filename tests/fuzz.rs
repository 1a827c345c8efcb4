//! Bad input, fuzzed: arbitrary shapes (zero included), strides, dilations,
//! groups, paddings (huge included) and activations (NaN slopes included) thrown
//! at `GpuConv2d::new`/`forward` and `conv2d_cpu`. Each call either returns `Ok`
//! equal to the CPU reference or `Err` with the reference's error: never a panic,
//! hang or abort. Tensor sizes stay small so every accepted case runs quickly.

mod common;

use common::{assert_matches_reference_in, random1, random4};
use conv2d_wgpu::{conv2d_cpu, Activation, Conv2dParams, GpuConv2d, Padding, Precision};
use proptest::prelude::*;

/// Inputs per run (per backend in CI).
const CASES: u32 = 1000;

/// Mostly small, sometimes absurd.
fn extent() -> impl Strategy<Value = usize> {
    prop_oneof![
        24 => 0..5usize,
        1 => Just(usize::MAX),
        1 => Just(1usize << 31),
        1 => Just(1usize << 40),
    ]
}

/// Mostly valid (1..5), sometimes 0 or absurd.
fn step() -> impl Strategy<Value = usize> {
    prop_oneof![60 => 1..5usize, 1 => Just(0usize), 2 => extent()]
}

fn padding() -> impl Strategy<Value = Padding> {
    prop_oneof![
        Just(Padding::Valid),
        Just(Padding::Same),
        (extent(), extent(), extent(), extent()).prop_map(|(top, bottom, left, right)| {
            Padding::Explicit {
                top,
                bottom,
                left,
                right,
            }
        }),
    ]
}

fn activation() -> impl Strategy<Value = Activation> {
    prop_oneof![
        Just(Activation::Linear),
        Just(Activation::Relu),
        Just(Activation::Relu6),
        any::<f32>().prop_map(Activation::LeakyRelu),
        Just(Activation::Sigmoid),
        Just(Activation::Tanh),
        Just(Activation::Silu),
    ]
}

fn params() -> impl Strategy<Value = Conv2dParams> {
    (
        [step(), step()],
        [step(), step()],
        padding(),
        prop_oneof![0..5usize, Just(usize::MAX)],
        activation(),
    )
        .prop_map(
            |(stride, dilation, padding, groups, activation)| Conv2dParams {
                stride,
                dilation,
                padding,
                groups,
                activation,
            },
        )
}

#[derive(Debug, Clone)]
struct Layer {
    input: [usize; 4],
    weights: [usize; 4],
    bias_len: Option<usize>,
    params: Conv2dParams,
}

/// Shapes drawn independently: mostly inconsistent, so mostly errors.
fn anything() -> impl Strategy<Value = Layer> {
    (
        [0..4usize, 0..8usize, 0..8usize, 0..7usize],
        [0..5usize, 0..5usize, 0..5usize, 0..7usize],
        prop_oneof![Just(None), (0..8usize).prop_map(Some)],
        params(),
    )
        .prop_map(|(input, weights, bias_len, params)| Layer {
            input,
            weights,
            bias_len,
            params,
        })
}

/// Consistent channels and groups with arbitrary strides, dilations, paddings
/// and activations: a mix of answers and errors.
fn consistent() -> impl Strategy<Value = Layer> {
    (
        [1..3usize, 1..8usize, 1..8usize],
        [1..4usize, 1..4usize, 1..4usize, 1..4usize],
        1..4usize,
        any::<bool>(),
        params(),
    )
        .prop_map(
            |([n, h, w], [kh, kw, cin_g, cout_g], groups, bias, params)| Layer {
                input: [n, h, w, cin_g * groups],
                weights: [kh, kw, cin_g, cout_g * groups],
                bias_len: bias.then_some(cout_g * groups),
                params: Conv2dParams { groups, ..params },
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_layers_give_the_reference_answer_or_its_error(
        layer in prop_oneof![1 => anything(), 3 => consistent()],
        seed in any::<u64>(),
        half in any::<bool>(),
    ) {
        let Some(ctx) = common::gpu() else { return Ok(()) };
        // Half the cases in f16 where the device has it.
        let precision = if half && ctx.supports_f16() { Precision::F16 } else { Precision::F32 };
        let Layer { input, weights, bias_len, params } = layer;
        let x = random4(input, seed);
        let w = random4(weights, seed ^ 1);
        let b = bias_len.map(|len| random1(len, seed ^ 2));
        let b = b.as_ref().map(|b| b.view());
        let reference = conv2d_cpu(x.view(), w.view(), b, params);
        let gpu = GpuConv2d::new(ctx, w.view(), b, params)
            .and_then(|conv| conv.with_precision(precision))
            .and_then(|conv| conv.forward(x.view()));
        match (gpu, reference) {
            (Ok(y), Ok(_)) => {
                assert_matches_reference_in(&y, x.view(), w.view(), b, params, precision, "fuzz");
            }
            (Err(g), Err(r)) => prop_assert_eq!(g.to_string(), r.to_string()),
            (g, r) => prop_assert!(false, "GPU {:?} but CPU {:?}", g.map(|_| ()), r.map(|_| ())),
        }
    }
}
