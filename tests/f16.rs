//! Half precision (`Precision::F16`): device memory, device-resident f16
//! tensors, chaining, mixing with f32, the host forms, `.npy` f16 weights, and
//! that the f16 tolerance catches what it should. The GPU-vs-CPU suites in f16
//! live with their f32 forms (gpu_vs_cpu, properties, split). On an adapter
//! without SHADER_F16 (GL, SwiftShader) these check the refusal instead.

mod common;

use common::{assert_matches_reference_in, gpu_f16, random1, random4, round_to_f16};
use conv2d_wgpu::half::f16;
use conv2d_wgpu::{
    Activation, Conv2dError, Conv2dParams, DType, GpuConv2d, GpuSequential, Padding, Precision,
};
use ndarray::Array4;

fn same(activation: Activation) -> Conv2dParams {
    Conv2dParams {
        padding: Padding::Same,
        activation,
        ..Default::default()
    }
}

#[test]
fn f16_halves_the_device_memory_of_weights_and_activations() {
    let Some(ctx) = gpu_f16() else { return };
    let w = random4([3, 3, 32, 64], 1);
    let b = random1(64, 2);
    let f32_layer = GpuConv2d::new(ctx, w.view(), Some(b.view()), same(Activation::Relu)).unwrap();
    let f32_weights = f32_layer.weight_bytes();
    let f16_layer = f32_layer.with_precision(Precision::F16).unwrap();
    assert_eq!(f16_layer.precision(), Precision::F16);
    assert_eq!(f32_weights, (3 * 3 * 32 * 64 + 64) * 4);
    assert_eq!(f16_layer.weight_bytes() * 2, f32_weights);

    let x = random4([1, 16, 16, 32], 3);
    let x32 = ctx.upload(&x).unwrap();
    let x16 = ctx.upload_as(&x, DType::F16).unwrap();
    assert_eq!((x32.dtype(), x16.dtype()), (DType::F32, DType::F16));
    assert_eq!(x16.device_bytes() * 2, x32.device_bytes());
    let y16 = f16_layer.forward_tensor(&x16).unwrap();
    assert_eq!(y16.dtype(), DType::F16);
    assert_eq!(y16.device_bytes(), 16 * 16 * 64 * 2);
}

#[test]
fn f16_tensors_round_trip_bit_for_bit() {
    let Some(ctx) = gpu_f16() else { return };
    // Odd element count (the buffer is padded to 4 bytes), subnormals,
    // infinities, NaN, negative zero.
    let values = [
        0.0,
        -0.0,
        1.0,
        -2.5,
        65504.0,
        6.0e-8,
        f32::INFINITY,
        f32::NAN,
        0.1,
    ];
    let halves = Array4::from_shape_fn((1, 3, 3, 1), |(_, h, w, _)| {
        f16::from_f32(values[h * 3 + w])
    });
    let t = ctx.upload_f16(&halves).unwrap();
    assert_eq!(t.dtype(), DType::F16);
    let back = t.to_array_f16().unwrap();
    let bits = |a: &Array4<f16>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back), bits(&halves));
    let widened = t.to_array().unwrap();
    for (w, h) in widened.iter().zip(halves.iter()) {
        assert_eq!(w.to_bits(), h.to_f32().to_bits());
    }
    // f32 data uploaded as f16 is rounded once, to nearest.
    let x = Array4::from_shape_vec((1, 1, 1, 3), vec![0.1f32, 1e6, 1.0 + 1.0 / 4096.0]).unwrap();
    let t = ctx.upload_as(&x, DType::F16).unwrap();
    assert_eq!(t.to_array().unwrap(), round_to_f16(x.view()));
    // Reading an f32 tensor as f16 rounds the same way.
    let t = ctx.upload(&x).unwrap();
    let rounded = t.to_array_f16().unwrap().mapv(f16::to_f32);
    assert_eq!(rounded, round_to_f16(x.view()));
}

#[test]
fn f16_layers_chain_on_the_device() {
    gpu_f16();
    // A context of its own: the counters below must not see other tests' work.
    let Some(ctx) = common::gpu_with_limits(|_| {}).filter(|c| c.supports_f16()) else {
        return;
    };
    let ctx = &ctx;
    let w1 = random4([3, 3, 4, 8], 10);
    let w2 = random4([1, 1, 8, 4], 11);
    let b1 = random1(8, 12);
    let p = same(Activation::Relu);
    let first = GpuConv2d::new(ctx, w1.view(), Some(b1.view()), p)
        .and_then(|c| c.with_precision(Precision::F16))
        .unwrap();
    let second = GpuConv2d::new(ctx, w2.view(), None, p)
        .and_then(|c| c.with_precision(Precision::F16))
        .unwrap();
    let x = random4([2, 9, 7, 4], 13);
    let x16 = ctx.upload_as(&x, DType::F16).unwrap();
    let before = ctx.stats();
    let mid = first.forward_tensor(&x16).unwrap();
    let y = second.forward_tensor(&mid).unwrap();
    let after = ctx.stats();
    assert_eq!(
        after.readbacks, before.readbacks,
        "no readback between layers"
    );
    assert_eq!(after.submits - before.submits, 2);
    assert_eq!((mid.dtype(), y.dtype()), (DType::F16, DType::F16));
    // Each layer against the reference on its own (f16) input.
    let mid_host = mid.to_array().unwrap();
    assert_matches_reference_in(
        &mid_host,
        x.view(),
        w1.view(),
        Some(b1.view()),
        p,
        Precision::F16,
        "first",
    );
    let y_host = y.to_array().unwrap();
    assert_matches_reference_in(
        &y_host,
        mid_host.view(),
        w2.view(),
        None,
        p,
        Precision::F16,
        "second",
    );

    // The same stack as one GpuSequential gives the same bits, in one submit.
    let stack = GpuSequential::new(vec![first, second]).unwrap();
    let before = ctx.stats();
    let y_stack = stack.forward_tensor(&x16).unwrap();
    assert_eq!(ctx.stats().submits - before.submits, 1);
    assert_eq!(y_stack.dtype(), DType::F16);
    assert_eq!(y_stack.to_array().unwrap(), y_host);
}

#[test]
fn mixing_f16_and_f32_is_an_error_naming_both() {
    let Some(ctx) = gpu_f16() else { return };
    let w = random4([3, 3, 2, 4], 20);
    let f32_layer = GpuConv2d::new(ctx, w.view(), None, Conv2dParams::default()).unwrap();
    let f16_layer = GpuConv2d::new(ctx, w.view(), None, Conv2dParams::default())
        .and_then(|c| c.with_precision(Precision::F16))
        .unwrap();
    let x = random4([1, 6, 6, 2], 21);
    let x32 = ctx.upload(&x).unwrap();
    let x16 = ctx.upload_as(&x, DType::F16).unwrap();
    let cases = [
        (f32_layer.forward_tensor(&x16).unwrap_err(), "f16", "f32"),
        (f16_layer.forward_tensor(&x32).unwrap_err(), "f32", "f16"),
    ];
    for (e, tensor, layer) in cases {
        let message = e.to_string();
        assert!(
            matches!(
                e,
                Conv2dError::DTypeMismatch {
                    shape: [1, 6, 6, 2],
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(
            message.contains(&format!("holds {tensor}"))
                && message.contains(&format!("runs in {layer}")),
            "{message}"
        );
    }
    // An output tensor of the wrong type, through forward_tensor_into and encode.
    let out32 = ctx.zeros([1, 4, 4, 4]).unwrap();
    let e = f16_layer.forward_tensor_into(&x16, &out32).unwrap_err();
    assert!(
        matches!(
            e,
            Conv2dError::DTypeMismatch {
                shape: [1, 4, 4, 4],
                tensor: DType::F32,
                layer: DType::F16
            }
        ),
        "{e:?}"
    );
    let out16 = ctx.zeros_as([1, 4, 4, 4], DType::F16).unwrap();
    f16_layer.forward_tensor_into(&x16, &out16).unwrap();
    // A stack that would feed an f32 output into an f16 layer.
    let w2 = random4([1, 1, 4, 4], 22);
    let next16 = GpuConv2d::new(ctx, w2.view(), None, Conv2dParams::default())
        .and_then(|c| c.with_precision(Precision::F16))
        .unwrap();
    let e = GpuSequential::new(vec![f32_layer, next16]).unwrap_err();
    assert!(
        matches!(
            e,
            Conv2dError::DTypeMismatch {
                shape: [1, 1, 4, 4],
                tensor: DType::F32,
                layer: DType::F16
            }
        ),
        "{e:?}"
    );
}

#[test]
fn f16_host_forms_agree() {
    let Some(ctx) = gpu_f16() else { return };
    let w = random4([3, 3, 3, 5], 30);
    let b = random1(5, 31);
    let p = same(Activation::Silu);
    let conv = GpuConv2d::new(ctx, w.view(), Some(b.view()), p)
        .and_then(|c| c.with_precision(Precision::F16))
        .unwrap();
    // An odd number of input (3 x 5 x 3 = 45) and output (75) elements.
    let x = random4([1, 3, 5, 3], 32);
    let y = conv.forward(&x).unwrap();
    assert_matches_reference_in(
        &y,
        x.view(),
        w.view(),
        Some(b.view()),
        p,
        Precision::F16,
        "forward",
    );
    let mut into = Array4::zeros((1, 3, 5, 5));
    for _ in 0..2 {
        conv.forward_into(&x, into.view_mut()).unwrap();
        assert_eq!(into, y);
    }
    let y_async = futures::executor::block_on(conv.forward_async(&x)).unwrap();
    assert_eq!(y_async, y);
    // The host form rounds the input once: the same as uploading it as f16.
    let t = conv
        .forward_tensor(&ctx.upload_as(&x, DType::F16).unwrap())
        .unwrap();
    assert_eq!(t.to_array().unwrap(), y);
    // Every output is an f16 value.
    assert_eq!(round_to_f16(y.view()), y);
    // with_precision back to F32 runs in f32 again (from the f16-rounded weights).
    let back = conv.with_precision(Precision::F32).unwrap();
    assert_eq!(back.precision(), Precision::F32);
    assert_eq!(
        back.forward_tensor(&ctx.upload(&x).unwrap())
            .unwrap()
            .dtype(),
        DType::F32
    );
}

#[test]
fn the_f16_tolerance_rejects_an_error_of_two_units_in_the_last_place() {
    // The comparison must be able to fail: an f16 result nudged by 2 ulp at
    // one element (well above the rounding it allows) is rejected.
    let Some(ctx) = gpu_f16() else { return };
    let w = random4([3, 3, 4, 4], 40);
    let p = Conv2dParams::default();
    let conv = GpuConv2d::new(ctx, w.view(), None, p)
        .and_then(|c| c.with_precision(Precision::F16))
        .unwrap();
    let x = random4([1, 5, 5, 4], 41);
    let mut y = conv.forward(&x).unwrap();
    assert_matches_reference_in(
        &y,
        x.view(),
        w.view(),
        None,
        p,
        Precision::F16,
        "as computed",
    );
    let v = f16::from_f32(y[[0, 1, 1, 1]]);
    y[[0, 1, 1, 1]] = f16::from_bits(v.to_bits() + 2).to_f32();
    let nudged = std::panic::catch_unwind(|| {
        assert_matches_reference_in(&y, x.view(), w.view(), None, p, Precision::F16, "nudged")
    });
    assert!(
        nudged.is_err(),
        "a 2-ulp error must fail the f16 comparison"
    );
}
