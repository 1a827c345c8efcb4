//! Shared test helpers: one GPU context per test binary, seeded random tensors,
//! and the GPU-vs-CPU comparison with a tolerance scaled to the reduction length.
#![allow(dead_code)] // each test binary uses a different subset

pub mod seed;
mod tolerance;

#[allow(unused_imports)] // each test binary uses a different subset
pub use tolerance::{
    assert_matches_reference, assert_matches_reference_in, round_to_f16, F16_UNDERFLOW,
    F16_UNIT_ROUNDOFF,
};

use std::sync::OnceLock;

use conv2d_wgpu::{
    Activation, Algorithm, Conv2dError, Conv2dParams, GpuContext, GpuConv2d, Padding, Precision,
};
use ndarray::{Array1, Array4};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Set to run the suite on a machine without any wgpu adapter: the GPU tests
/// then pass without running (with a message). Unset, no adapter is a failure.
pub const SKIP_GPU: &str = "CONV2D_WGPU_SKIP_GPU_TESTS";

/// The context all GPU tests of a binary share. Without an adapter this
/// panics with the install instructions, unless `CONV2D_WGPU_SKIP_GPU_TESTS`
/// is set, in which case it returns `None` and the GPU tests skip themselves.
pub fn gpu() -> Option<&'static GpuContext> {
    static CONTEXT: OnceLock<Option<GpuContext>> = OnceLock::new();
    CONTEXT
        .get_or_init(|| match GpuContext::new() {
            Ok(ctx) => {
                let info = ctx.adapter_info();
                eprintln!("GPU tests run on {} ({:?})", info.name, info.backend);
                Some(ctx)
            }
            Err(e) if std::env::var_os(SKIP_GPU).is_some() => {
                eprintln!(
                    "{SKIP_GPU} is set and there is no wgpu adapter ({e}): GPU tests skipped"
                );
                None
            }
            Err(e) => panic!(
                "no wgpu adapter, so the GPU tests cannot run: {e}\n\
                 No GPU is needed: install Mesa's CPU drivers, e.g. on Debian/Ubuntu\n\
                 \x20   apt-get install mesa-vulkan-drivers libvulkan1   (Vulkan: lavapipe)\n\
                 \x20   apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri   (GL: llvmpipe)\n\
                 and run again; or set {SKIP_GPU}=1 to run only the CPU tests."
            ),
        })
        .as_ref()
}

/// Set (CI does, on Vulkan) when the adapter must have `SHADER_F16`, so that
/// the f16 suites cannot silently skip.
pub const EXPECT_F16: &str = "CONV2D_WGPU_EXPECT_F16";

/// The shared context when it runs f16 layers. Where the adapter lacks
/// `SHADER_F16`, checks that asking for f16 is refused with an error naming
/// the feature and the adapter, and returns `None` (or panics when
/// `CONV2D_WGPU_EXPECT_F16` is set).
pub fn gpu_f16() -> Option<&'static GpuContext> {
    let ctx = gpu()?;
    if ctx.supports_f16() {
        return Some(ctx);
    }
    let name = &ctx.adapter_info().name;
    assert!(
        std::env::var_os(EXPECT_F16).is_none(),
        "{EXPECT_F16} is set but adapter {name:?} has no SHADER_F16:\n{ctx}"
    );
    let conv = GpuConv2d::new(
        ctx,
        Array4::ones((1, 1, 1, 1)).view(),
        None,
        Default::default(),
    )
    .expect("an f32 layer");
    match conv.with_precision(Precision::F16) {
        Err(e @ Conv2dError::MissingFeature { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("SHADER_F16") && message.contains(name.as_str()),
                "{message}"
            );
        }
        other => panic!("F16 without SHADER_F16 must be MissingFeature, got {other:?}"),
    }
    assert!(ctx.to_string().contains("f16: not available"), "{ctx}");
    eprintln!("adapter {name:?} has no SHADER_F16: the refusal is checked, f16 runs skipped");
    None
}

/// The precisions layers on `ctx` run in: f32, and f16 where the device has
/// `SHADER_F16` (required when `CONV2D_WGPU_EXPECT_F16` is set).
pub fn precisions(ctx: &GpuContext) -> Vec<Precision> {
    if ctx.supports_f16() {
        return vec![Precision::F32, Precision::F16];
    }
    assert!(
        std::env::var_os(EXPECT_F16).is_none(),
        "{EXPECT_F16} is set but the device has no SHADER_F16:\n{ctx}"
    );
    vec![Precision::F32]
}

/// Uniform values in [-1, 1), reproducible from `seed`.
pub fn random4(shape: [usize; 4], seed: u64) -> Array4<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    Array4::from_shape_simple_fn(shape, || rng.random_range(-1.0f32..1.0))
}

/// Uniform values in [-1, 1), reproducible from `seed`.
pub fn random1(len: usize, seed: u64) -> Array1<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    Array1::from_shape_simple_fn(len, || rng.random_range(-1.0f32..1.0))
}

/// One convolution to check: layer shape, parameters and input shape.
#[derive(Clone, Debug)]
pub struct Case {
    pub input: [usize; 4],
    /// HWIO.
    pub weights: [usize; 4],
    pub bias: bool,
    pub params: Conv2dParams,
}

impl Case {
    pub fn new(input: [usize; 4], kernel: [usize; 2], cout: usize, params: Conv2dParams) -> Self {
        let cin_per_group = input[3] / params.groups.max(1);
        Case {
            input,
            weights: [kernel[0], kernel[1], cin_per_group, cout],
            bias: true,
            params,
        }
    }

    /// Runs the case on the GPU with every algorithm that supports it, and on
    /// the CPU, with data from `seed`, and compares. Returns the algorithms run.
    pub fn check(&self, ctx: &GpuContext, seed: u64) -> Vec<Algorithm> {
        self.check_in(ctx, seed, Precision::F32).0
    }

    /// [`Case::check`] with the layer run in `precision`; also returns the
    /// largest error seen as a fraction of the tolerance.
    pub fn check_in(
        &self,
        ctx: &GpuContext,
        seed: u64,
        precision: Precision,
    ) -> (Vec<Algorithm>, f32) {
        let x = random4(self.input, seed);
        let w = random4(self.weights, seed + 1);
        let b = self.bias.then(|| random1(self.weights[3], seed + 2));
        let b = b.as_ref().map(|b| b.view());
        let mut ran = Vec::new();
        let mut worst = 0.0f32;
        for algorithm in Algorithm::ALL {
            let what = format!("{self:?} with {algorithm:?} in {precision:?}");
            let conv = GpuConv2d::new(ctx, w.view(), b, self.params)
                .and_then(|conv| conv.with_precision(precision))
                .unwrap_or_else(|e| panic!("{what}: GpuConv2d::new failed: {e}"));
            let Some(y) = forward_with(conv, algorithm, &x) else {
                continue;
            };
            let y = y.unwrap_or_else(|e| panic!("{what}: forward failed: {e}"));
            let ratio = assert_matches_reference_in(
                &y,
                x.view(),
                w.view(),
                b,
                self.params,
                precision,
                &what,
            );
            worst = worst.max(ratio);
            ran.push(algorithm);
        }
        assert!(
            ran.contains(&Algorithm::Direct),
            "{self:?}: the direct kernel must always run"
        );
        (ran, worst)
    }
}

/// `conv` forced to `algorithm` on `x`; `None` when the algorithm does not
/// support this layer or input.
pub fn forward_with(
    conv: GpuConv2d,
    algorithm: Algorithm,
    x: &Array4<f32>,
) -> Option<Result<Array4<f32>, Conv2dError>> {
    let conv = match conv.with_algorithm(algorithm) {
        Err(Conv2dError::UnsupportedAlgorithm { .. }) => return None,
        other => other.expect("with_algorithm fails only as unsupported"),
    };
    match conv.forward(x.view()) {
        Err(Conv2dError::UnsupportedAlgorithm { .. }) => None,
        other => Some(other),
    }
}

/// Shorthand for parameters in tables.
pub fn params(
    stride: [usize; 2],
    dilation: [usize; 2],
    padding: Padding,
    groups: usize,
    activation: Activation,
) -> Conv2dParams {
    Conv2dParams {
        stride,
        dilation,
        padding,
        groups,
        activation,
    }
}

/// A fresh context on the same kind of adapter, with limits lowered by `lower`
/// (adopted through `GpuContext::from_wgpu`), with `SHADER_F16` where the
/// adapter has it and no other feature. `None` as for [`gpu`].
pub fn gpu_with_limits(lower: impl FnOnce(&mut conv2d_wgpu::wgpu::Limits)) -> Option<GpuContext> {
    use conv2d_wgpu::wgpu;
    gpu()?;
    let instance =
        wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
    let adapter =
        pollster::block_on(instance.request_adapter(&Default::default())).expect("adapter");
    let mut limits = adapter.limits();
    lower(&mut limits);
    let descriptor = wgpu::DeviceDescriptor {
        required_limits: limits,
        required_features: adapter.features() & wgpu::Features::SHADER_F16,
        ..Default::default()
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&descriptor))
        .expect("device with lowered limits");
    Some(GpuContext::from_wgpu(device, queue))
}

/// Property-test strategies shared by the seeded suites.
pub mod strategies {
    use conv2d_wgpu::{Activation, Padding};
    use proptest::prelude::*;

    /// `valid`, `same`, or explicit padding of 0..3 on each side.
    pub fn padding() -> impl Strategy<Value = Padding> {
        prop_oneof![
            Just(Padding::Valid),
            Just(Padding::Same),
            (0..3usize, 0..3usize, 0..3usize, 0..3usize).prop_map(|(top, bottom, left, right)| {
                Padding::Explicit {
                    top,
                    bottom,
                    left,
                    right,
                }
            }),
        ]
    }

    /// Every activation; LeakyRelu slopes in [-2, 2).
    pub fn activation() -> impl Strategy<Value = Activation> {
        prop_oneof![
            Just(Activation::Linear),
            Just(Activation::Relu),
            Just(Activation::Relu6),
            (-2.0f32..2.0).prop_map(Activation::LeakyRelu),
            Just(Activation::Sigmoid),
            Just(Activation::Tanh),
            Just(Activation::Silu),
        ]
    }
}
