//! The crate in a real browser: built for wasm32 and run by
//! `wasm-bindgen-test-runner` in headless Chromium on WebGPU (SwiftShader on a
//! machine without a GPU). Only the async forms wait for the device there;
//! the blocking ones return `Conv2dError::Blocking`. Run with
//! `web/test.sh` (see the README's "In the browser").
#![cfg(target_arch = "wasm32")]

#[path = "common/seed.rs"]
mod seed;
#[path = "common/tolerance.rs"]
mod tolerance;

use std::cell::RefCell;

use conv2d_wgpu::{
    conv2d_cpu, Activation, Algorithm, Conv2dError, Conv2dParams, GpuContext, GpuConv2d, Padding,
};
use ndarray::{Array1, Array4};
use tolerance::assert_matches_reference;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

thread_local! {
    static CONTEXT: RefCell<Option<GpuContext>> = const { RefCell::new(None) };
}

/// One context for the page, made with the async constructor.
async fn gpu() -> GpuContext {
    if let Some(ctx) = CONTEXT.with(|c| c.borrow().clone()) {
        return ctx;
    }
    let ctx = GpuContext::new_async()
        .await
        .expect("the browser offers a WebGPU adapter");
    web_sys_log(&format!("{ctx}"));
    CONTEXT.with(|c| *c.borrow_mut() = Some(ctx.clone()));
    ctx
}

fn web_sys_log(text: &str) {
    wasm_bindgen_test::console_log!("{}", text);
}

/// splitmix64: reproducible values in [-1, 1) without an OS random source.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn value(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }

    fn array4(&mut self, shape: [usize; 4]) -> Array4<f32> {
        Array4::from_shape_simple_fn(shape, || self.value())
    }
}

#[wasm_bindgen_test]
async fn the_seed_to_the_digit() {
    let ctx = gpu().await;
    let (x, w, b) = (seed::input(), seed::weights(), seed::bias());
    let conv = GpuConv2d::new_async(&ctx, w.view(), Some(b.view()), Conv2dParams::default())
        .await
        .unwrap();
    assert_eq!(conv.forward_async(&x).await.unwrap(), seed::keras_output());
    // Device-resident, read back with the async form.
    let y = conv.forward_tensor(&ctx.upload(&x).unwrap()).unwrap();
    assert_eq!(y.to_array_async().await.unwrap(), seed::keras_output());
}

const ACTIVATIONS: [Activation; 7] = [
    Activation::Linear,
    Activation::Relu,
    Activation::Relu6,
    Activation::LeakyRelu(0.2),
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Silu,
];

/// A seeded layer configuration: shapes, strides, dilations, groups (depthwise
/// one time in four), paddings and activations.
fn config(rng: &mut Rng) -> ([usize; 4], [usize; 4], Conv2dParams, bool) {
    let depthwise = rng.below(4) == 0;
    let groups = if depthwise {
        4 * (1 + rng.below(2))
    } else {
        1 + rng.below(3)
    };
    let (cin_g, cout_g) = if depthwise {
        (1, 1)
    } else {
        (1 + rng.below(8), 1 + rng.below(12))
    };
    let padding = match rng.below(3) {
        0 => Padding::Valid,
        1 => Padding::Same,
        _ => Padding::Explicit {
            top: rng.below(3),
            bottom: rng.below(3),
            left: rng.below(3),
            right: rng.below(3),
        },
    };
    let params = Conv2dParams {
        stride: [1 + rng.below(2), 1 + rng.below(3)],
        dilation: [1 + rng.below(2), 1 + rng.below(2)],
        padding,
        groups,
        activation: ACTIVATIONS[rng.below(ACTIVATIONS.len())],
    };
    let input = [
        1 + rng.below(2),
        6 + rng.below(10),
        6 + rng.below(10),
        groups * cin_g,
    ];
    let weights = [1 + rng.below(4), 1 + rng.below(4), cin_g, groups * cout_g];
    if rng.below(6) == 0 {
        // A matrix product: 1x1, stride 1, no padding, one group (Gemm).
        let cin = 1 + rng.below(12);
        let gemm = Conv2dParams {
            stride: [1, 1],
            dilation: [1, 1],
            padding: Padding::Valid,
            groups: 1,
            ..params
        };
        return (
            [input[0], input[1], input[2], cin],
            [1, 1, cin, 1 + rng.below(20)],
            gemm,
            true,
        );
    }
    if rng.below(6) == 0 {
        // 3x3, stride 1, no dilation, one group (Winograd's layers), any padding.
        let cin = 1 + rng.below(12);
        let winograd = Conv2dParams {
            stride: [1, 1],
            dilation: [1, 1],
            groups: 1,
            ..params
        };
        return (
            [input[0], input[1].max(3), input[2].max(3), cin],
            [3, 3, cin, 1 + rng.below(20)],
            winograd,
            rng.below(4) != 0,
        );
    }
    (input, weights, params, rng.below(4) != 0)
}

#[wasm_bindgen_test]
async fn gpu_matches_the_cpu_on_seeded_configurations() {
    let ctx = gpu().await;
    let mut rng = Rng(2026);
    let (mut compared, mut rejected) = (0, 0);
    let mut per_algorithm = std::collections::BTreeMap::new();
    for case in 0..60 {
        let (input, weights, params, bias) = config(&mut rng);
        let x = rng.array4(input);
        let w = rng.array4(weights);
        let b = bias.then(|| Array1::from_shape_simple_fn(weights[3], || rng.value()));
        let b = b.as_ref().map(|b| b.view());
        let what = format!("case {case}: input {input:?} weights {weights:?} {params:?}");
        let reference = conv2d_cpu(x.view(), w.view(), b, params);
        // Every algorithm that can run the layer, forced in turn.
        for algorithm in Algorithm::ALL {
            let layer = GpuConv2d::new_async(&ctx, w.view(), b, params)
                .await
                .and_then(|conv| conv.with_algorithm(algorithm));
            let conv = match layer {
                Ok(conv) => conv,
                Err(Conv2dError::UnsupportedAlgorithm { .. }) => continue,
                Err(e) => {
                    assert_eq!(Err(e), reference.clone().map(|_| ()), "{what}");
                    rejected += 1;
                    break;
                }
            };
            match (conv.forward_async(&x).await, &reference) {
                (Err(Conv2dError::UnsupportedAlgorithm { .. }), _) => continue,
                (Ok(y), Ok(_)) => {
                    let label = format!("{what} with {algorithm:?}");
                    assert_matches_reference(&y, x.view(), w.view(), b, params, &label);
                    *per_algorithm.entry(format!("{algorithm:?}")).or_insert(0) += 1;
                    compared += 1;
                }
                (Err(g), Err(r)) => {
                    assert_eq!(&g, r, "{what}");
                    rejected += 1;
                    break;
                }
                (g, r) => panic!(
                    "{what}: GPU {:?} but CPU {:?}",
                    g.map(|_| ()),
                    r.as_ref().map(|_| ())
                ),
            }
        }
    }
    web_sys_log(&format!(
        "60 configurations: {compared} GPU runs compared with the CPU, {rejected} rejected as on the CPU; per algorithm {per_algorithm:?}"
    ));
    assert!(compared >= 100, "{compared}");
    for algorithm in [
        "Direct",
        "ImplicitGemm",
        "Gemm",
        "Depthwise",
        "TiledGemm",
        "Winograd",
    ] {
        assert!(
            per_algorithm.contains_key(algorithm),
            "{algorithm} never ran: {per_algorithm:?}"
        );
    }
}

#[wasm_bindgen_test]
async fn bad_input_is_an_error_and_blocking_calls_say_so() {
    let ctx = gpu().await;
    let w = Array4::<f32>::ones((3, 3, 2, 4));
    let conv = GpuConv2d::new_async(&ctx, w.view(), None, Conv2dParams::default())
        .await
        .unwrap();
    // Channels that do not match the weights.
    let e = conv
        .forward_async(&Array4::<f32>::ones((1, 5, 5, 3)))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("3"), "{e}");
    // A zero stride, a bias of the wrong length.
    let zero_stride = Conv2dParams {
        stride: [0, 1],
        ..Default::default()
    };
    assert!(GpuConv2d::new_async(&ctx, w.view(), None, zero_stride)
        .await
        .is_err());
    let bias = Array1::<f32>::zeros(3);
    assert!(
        GpuConv2d::new_async(&ctx, w.view(), Some(bias.view()), Conv2dParams::default())
            .await
            .is_err()
    );
    // What would block the page returns an Err naming the async form.
    let x = Array4::<f32>::ones((1, 5, 5, 2));
    for e in [
        GpuContext::new().unwrap_err(),
        conv.forward(&x).unwrap_err(),
        ctx.wait().unwrap_err(),
        conv.forward_tensor(&ctx.upload(&x).unwrap())
            .unwrap()
            .to_array()
            .unwrap_err(),
    ] {
        assert!(matches!(e, Conv2dError::Blocking { .. }), "{e:?}");
        assert!(e.to_string().contains("async"), "{e}");
    }
    // The layer still works after all that.
    assert_eq!(conv.forward_async(&x).await.unwrap()[[0, 1, 1, 3]], 18.0);
}
