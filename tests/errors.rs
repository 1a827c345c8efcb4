//! Every error variant: bad input gives `Err` naming the shape or parameter,
//! from the CPU reference and the GPU layer alike, never a panic.

mod common;

use common::gpu_with_limits;
use conv2d_wgpu::{conv2d_cpu, Activation, Conv2dError, Conv2dParams, GpuConv2d, Padding};
use ndarray::{Array1, Array4};

fn cpu_err(x: [usize; 4], w: [usize; 4], b: Option<usize>, p: Conv2dParams) -> Conv2dError {
    let (x, w) = (Array4::<f32>::zeros(x), Array4::<f32>::zeros(w));
    let b = b.map(Array1::<f32>::zeros);
    conv2d_cpu(x.view(), w.view(), b.as_ref().map(|b| b.view()), p).unwrap_err()
}

/// The same input through the GPU layer (`new`, then `forward`): must give the
/// same error as the CPU reference.
fn gpu_agrees(
    x: [usize; 4],
    w: [usize; 4],
    b: Option<usize>,
    p: Conv2dParams,
    expected: &Conv2dError,
) {
    let Some(ctx) = common::gpu() else { return };
    let (xa, wa) = (Array4::<f32>::zeros(x), Array4::<f32>::zeros(w));
    let ba = b.map(Array1::<f32>::zeros);
    let got = GpuConv2d::new(ctx, wa.view(), ba.as_ref().map(|b| b.view()), p)
        .and_then(|conv| conv.forward(xa.view()))
        .unwrap_err();
    assert_eq!(got.to_string(), expected.to_string());
}

fn check(
    x: [usize; 4],
    w: [usize; 4],
    b: Option<usize>,
    p: Conv2dParams,
    mentions: &[&str],
) -> Conv2dError {
    let err = cpu_err(x, w, b, p);
    let message = err.to_string();
    for needle in mentions {
        assert!(
            message.contains(needle),
            "{message:?} should mention {needle:?}"
        );
    }
    gpu_agrees(x, w, b, p, &err);
    err
}

fn with(f: impl FnOnce(&mut Conv2dParams)) -> Conv2dParams {
    let mut p = Conv2dParams::default();
    f(&mut p);
    p
}

#[test]
fn channel_mismatch_names_both_shapes() {
    let e = check(
        [1, 5, 5, 3],
        [3, 3, 4, 8],
        None,
        Conv2dParams::default(),
        &["3 channels", "expect 4", "[3, 3, 4, 8]", "[1, 5, 5, 3]"],
    );
    assert!(matches!(
        e,
        Conv2dError::ChannelMismatch {
            input_channels: 3,
            expected: 4,
            ..
        }
    ));
    // With groups, weights hold cin / groups: 2 * 2 = 4 expected.
    let e = check(
        [1, 5, 5, 3],
        [3, 3, 2, 4],
        None,
        with(|p| p.groups = 2),
        &["groups 2"],
    );
    assert!(matches!(
        e,
        Conv2dError::ChannelMismatch { expected: 4, .. }
    ));
}

#[test]
fn bias_length_must_equal_cout() {
    let e = check(
        [1, 5, 5, 2],
        [3, 3, 2, 4],
        Some(3),
        Conv2dParams::default(),
        &["bias has 3", "4 output channels"],
    );
    assert!(matches!(
        e,
        Conv2dError::BiasLength {
            bias_len: 3,
            out_channels: 4,
            ..
        }
    ));
}

#[test]
fn zero_sized_dimensions() {
    let e = check(
        [1, 0, 5, 2],
        [3, 3, 2, 4],
        None,
        Conv2dParams::default(),
        &["input", "[1, 0, 5, 2]"],
    );
    assert!(matches!(
        e,
        Conv2dError::ZeroSizedDimension {
            tensor: "input",
            ..
        }
    ));
    let e = check(
        [1, 5, 5, 2],
        [3, 0, 2, 4],
        None,
        Conv2dParams::default(),
        &["weights"],
    );
    assert!(matches!(
        e,
        Conv2dError::ZeroSizedDimension {
            tensor: "weights",
            ..
        }
    ));
    let e = check(
        [1, 5, 5, 2],
        [3, 3, 2, 0],
        Some(0),
        Conv2dParams::default(),
        &["weights"],
    );
    assert!(matches!(
        e,
        Conv2dError::ZeroSizedDimension {
            tensor: "weights",
            ..
        }
    ));
    let e = check(
        [0, 5, 5, 2],
        [3, 3, 2, 4],
        Some(4),
        Conv2dParams::default(),
        &["input"],
    );
    assert!(matches!(
        e,
        Conv2dError::ZeroSizedDimension {
            tensor: "input",
            ..
        }
    ));
}

#[test]
fn zero_stride_dilation_and_groups() {
    let e = check(
        [1, 5, 5, 2],
        [3, 3, 2, 4],
        None,
        with(|p| p.stride = [1, 0]),
        &["stride", "[1, 0]"],
    );
    assert!(matches!(e, Conv2dError::InvalidStride { stride: [1, 0] }));
    let e = check(
        [1, 5, 5, 2],
        [3, 3, 2, 4],
        None,
        with(|p| p.dilation = [0, 2]),
        &["dilation", "[0, 2]"],
    );
    assert!(matches!(
        e,
        Conv2dError::InvalidDilation { dilation: [0, 2] }
    ));
    let e = check(
        [1, 5, 5, 2],
        [3, 3, 2, 4],
        None,
        with(|p| p.groups = 0),
        &["groups"],
    );
    assert!(matches!(e, Conv2dError::ZeroGroups { .. }));
}

#[test]
fn channels_not_divisible_by_groups() {
    // cout 5 with 2 groups.
    let e = check(
        [1, 5, 5, 4],
        [3, 3, 2, 5],
        None,
        with(|p| p.groups = 2),
        &["groups 2", "output channels 5"],
    );
    assert!(matches!(
        e,
        Conv2dError::GroupsMismatch {
            groups: 2,
            out_channels: 5,
            ..
        }
    ));
    // cin 5 with 2 groups cannot be expressed by weights (cin / groups = 2 gives 4): a channel mismatch.
    let e = check(
        [1, 5, 5, 5],
        [3, 3, 2, 4],
        None,
        with(|p| p.groups = 2),
        &["5 channels"],
    );
    assert!(matches!(e, Conv2dError::ChannelMismatch { .. }));
}

#[test]
fn empty_output_when_the_kernel_exceeds_the_valid_input() {
    let e = check(
        [1, 2, 5, 1],
        [3, 3, 1, 1],
        None,
        Conv2dParams::default(),
        &["empty", "[2, 5]", "[3, 3]"],
    );
    assert!(matches!(
        e,
        Conv2dError::EmptyOutput {
            padded_hw: [2, 5],
            kernel_extent: [3, 3],
            ..
        }
    ));
    // Dilation makes the kernel's extent 5.
    let e = check(
        [1, 4, 4, 1],
        [3, 3, 1, 1],
        None,
        with(|p| p.dilation = [2, 1]),
        &["[5, 3]"],
    );
    assert!(matches!(e, Conv2dError::EmptyOutput { .. }));
    // Explicit padding can rescue it; SAME always gives output.
    let pad = with(|p| {
        p.padding = Padding::Explicit {
            top: 1,
            bottom: 0,
            left: 0,
            right: 0,
        }
    });
    assert!(conv2d_cpu(
        Array4::zeros((1, 2, 5, 1)).view(),
        Array4::zeros((3, 3, 1, 1)).view(),
        None,
        pad
    )
    .is_ok());
}

#[test]
fn non_finite_leaky_relu_slope() {
    for slope in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let e = check(
            [1, 5, 5, 2],
            [3, 3, 2, 4],
            None,
            with(|p| p.activation = Activation::LeakyRelu(slope)),
            &["LeakyRelu slope"],
        );
        assert!(matches!(e, Conv2dError::NonFiniteSlope { .. }));
    }
}

#[test]
fn absurd_parameters_overflow_cleanly() {
    let e = check(
        [1, 5, 5, 2],
        [3, 3, 2, 4],
        None,
        with(|p| p.dilation = [usize::MAX, 1]),
        &["overflow"],
    );
    assert!(matches!(e, Conv2dError::SizeOverflow { .. }));
    let e = check(
        [1, 5, 5, 2],
        [3, 3, 2, 4],
        None,
        with(|p| {
            p.padding = Padding::Explicit {
                top: usize::MAX,
                bottom: 0,
                left: 0,
                right: 0,
            }
        }),
        &["overflow"],
    );
    assert!(matches!(e, Conv2dError::SizeOverflow { .. }));
}

#[test]
fn what_cannot_be_split_small_enough_is_an_error_naming_sizes() {
    // 4 KiB per binding: about 1000 floats.
    let Some(ctx) = gpu_with_limits(|l| l.max_storage_buffer_binding_size = 4096) else {
        return;
    };
    let p = Conv2dParams {
        padding: Padding::Same,
        ..Default::default()
    };
    // One output row of 300 x 4 floats cannot be bound.
    let conv = GpuConv2d::new(&ctx, Array4::zeros((3, 3, 1, 4)).view(), None, p).unwrap();
    let e = conv
        .forward(Array4::zeros((1, 2, 300, 1)).view())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Conv2dError::TensorTooLarge {
                tensor: "one output row",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("[1, 1, 300, 4]"), "{e}");
    // The 3 input rows one output row reads (3 x 200 x 2 floats) cannot be bound.
    let conv = GpuConv2d::new(&ctx, Array4::zeros((3, 3, 2, 1)).view(), None, p).unwrap();
    let e = conv
        .forward(Array4::zeros((1, 4, 200, 2)).view())
        .unwrap_err();
    assert!(
        e.to_string().contains("input rows one output row reads"),
        "{e}"
    );
    // One vec4 column of output channels' weights (3 x 3 x 50 x 4 floats) cannot be bound.
    let e = GpuConv2d::new(&ctx, Array4::zeros((3, 3, 50, 2)).view(), None, p)
        .err()
        .unwrap();
    assert!(
        matches!(
            e,
            Conv2dError::TensorTooLarge {
                tensor: "weights of 4 output channels",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn tensors_beyond_the_largest_buffer_are_errors() {
    let Some(ctx) = gpu_with_limits(|l| l.max_buffer_size = 1 << 16) else {
        return;
    };
    let e = ctx
        .upload(Array4::zeros((1, 128, 129, 1)).view())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Conv2dError::TensorTooLarge {
                tensor: "input",
                limit_name: "max_buffer_size",
                ..
            }
        ),
        "{e}"
    );
    let conv = GpuConv2d::new(
        &ctx,
        Array4::zeros((1, 1, 1, 2)).view(),
        None,
        Conv2dParams::default(),
    )
    .unwrap();
    let e = conv
        .forward(Array4::zeros((1, 128, 100, 1)).view())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Conv2dError::TensorTooLarge {
                tensor: "output",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_row_beyond_the_dispatch_limit_is_an_error() {
    // 2 x 2 workgroups of 64: at most 256 outputs per dispatch; one row has 300.
    let Some(ctx) = gpu_with_limits(|l| l.max_compute_workgroups_per_dimension = 2) else {
        return;
    };
    let conv = GpuConv2d::new(
        &ctx,
        Array4::zeros((1, 1, 1, 3)).view(),
        None,
        Conv2dParams::default(),
    )
    .unwrap();
    let e = conv
        .forward(Array4::zeros((1, 2, 100, 1)).view())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Conv2dError::DispatchTooLarge {
                outputs: 300,
                max_per_dimension: 2,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn workgroup_size_beyond_the_device_limit() {
    let Some(ctx) = gpu_with_limits(|l| l.max_compute_invocations_per_workgroup = 32) else {
        return;
    };
    let w = Array4::<f32>::zeros((1, 1, 1, 1));
    let e = GpuConv2d::new(&ctx, w.view(), None, Conv2dParams::default())
        .err()
        .unwrap();
    assert!(
        matches!(e, Conv2dError::WorkgroupTooLarge { limit: 32, .. }),
        "{e}"
    );
}

#[test]
fn workgroup_memory_beyond_the_device_limit() {
    // The tiled GEMM stages 8 KiB in workgroup memory; a device allowing 4 KiB
    // gets an error naming both, before wgpu sees the pipeline.
    let Some(ctx) = gpu_with_limits(|l| l.max_compute_workgroup_storage_size = 4096) else {
        return;
    };
    let conv = GpuConv2d::new(
        &ctx,
        Array4::zeros((3, 3, 4, 64)).view(),
        None,
        Conv2dParams::default(),
    )
    .unwrap()
    .with_algorithm(conv2d_wgpu::Algorithm::TiledGemm)
    .unwrap();
    let e = conv
        .forward(Array4::zeros((1, 16, 16, 4)).view())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Conv2dError::WorkgroupMemoryTooLarge {
                bytes: 8192,
                limit: 4096
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("max_compute_workgroup_storage_size"),
        "{e}"
    );
}

#[test]
fn forcing_an_algorithm_that_cannot_run_the_layer_is_an_error() {
    let Some(ctx) = common::gpu() else { return };
    let grouped = Conv2dParams {
        groups: 2,
        ..Default::default()
    };
    let conv = GpuConv2d::new(ctx, Array4::zeros((3, 3, 2, 4)).view(), None, grouped).unwrap();
    for algorithm in [
        conv2d_wgpu::Algorithm::ImplicitGemm,
        conv2d_wgpu::Algorithm::Depthwise,
        conv2d_wgpu::Algorithm::TiledGemm,
        conv2d_wgpu::Algorithm::Winograd,
    ] {
        let conv = GpuConv2d::new(ctx, Array4::zeros((3, 3, 2, 4)).view(), None, grouped).unwrap();
        let e = conv.with_algorithm(algorithm).err().unwrap();
        assert!(
            matches!(e, Conv2dError::UnsupportedAlgorithm { groups: 2, algorithm: a, .. } if a == algorithm),
            "{e}"
        );
        assert!(e.to_string().contains(&format!("{algorithm:?}")), "{e}");
    }
    // Gemm depends on the input: a 3x3 kernel is a GEMM only over a 3x3 input.
    let gemm = conv.with_algorithm(conv2d_wgpu::Algorithm::Gemm).unwrap();
    let e = gemm
        .forward(Array4::zeros((1, 5, 5, 4)).view())
        .unwrap_err();
    assert!(
        matches!(
            e,
            Conv2dError::UnsupportedAlgorithm {
                algorithm: conv2d_wgpu::Algorithm::Gemm,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn winograd_refuses_what_it_cannot_run_naming_why() {
    let Some(ctx) = common::gpu() else { return };
    let winograd = conv2d_wgpu::Algorithm::Winograd;
    // Not a 3x3 stride-1 layer.
    for (kernel, stride, dilation) in [(5, 1, 1), (3, 2, 1), (3, 1, 2)] {
        let params = Conv2dParams {
            stride: [stride, stride],
            dilation: [dilation, dilation],
            ..Default::default()
        };
        let w = Array4::zeros((kernel, kernel, 4, 4));
        let e = GpuConv2d::new(ctx, w.view(), None, params)
            .unwrap()
            .with_algorithm(winograd)
            .unwrap_err();
        assert!(e.to_string().contains("3x3 kernel with stride 1"), "{e}");
    }
    // One image whose transformed input (16 floats per 2 x 2 outputs and
    // input channel: 81 tiles x 16 x 4 = 20 KiB) exceeds a binding of 16 KiB,
    // though the image itself (5 KiB) and the transformed weights (1 KiB)
    // fit: the forward pass says so.
    let Some(small) = gpu_with_limits(|l| l.max_storage_buffer_binding_size = 16 << 10) else {
        return;
    };
    let w = Array4::from_elem((3, 3, 4, 4), 0.1f32);
    let same = Conv2dParams {
        padding: Padding::Same,
        ..Default::default()
    };
    let x = Array4::from_elem((1, 18, 18, 4), 1.0f32);
    let conv = GpuConv2d::new(&small, w.view(), None, same).unwrap();
    let e = conv
        .with_algorithm(winograd)
        .unwrap()
        .forward(x.view())
        .unwrap_err();
    assert!(
        matches!(e, Conv2dError::UnsupportedAlgorithm { algorithm, .. } if algorithm == winograd),
        "{e}"
    );
    assert!(
        e.to_string().contains("max_storage_buffer_binding_size"),
        "{e}"
    );
}

#[test]
fn wgpu_validation_errors_are_captured_not_panicked() {
    // The direct kernel binds four storage buffers; a device allowing two fails
    // pipeline validation inside wgpu. The error scope must turn that into Err
    // (the default handler would panic this test).
    let Some(ctx) = gpu_with_limits(|l| l.max_storage_buffers_per_shader_stage = 2) else {
        return;
    };
    let w = Array4::<f32>::zeros((1, 1, 1, 1));
    let e = GpuConv2d::new(&ctx, w.view(), None, Conv2dParams::default())
        .err()
        .unwrap();
    assert!(
        matches!(
            e,
            Conv2dError::Gpu {
                kind: conv2d_wgpu::GpuErrorKind::Validation,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.gpu_kind(), Some(conv2d_wgpu::GpuErrorKind::Validation));
    assert!(e.to_string().contains("wgpu validation error"), "{e}");
}
