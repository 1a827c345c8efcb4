//! Inside a wgpu application: recording into the caller's encoder between its
//! own passes, tensors over the caller's buffers, outputs it preallocated,
//! stacks of layers in one submit, and ndarray's input forms.

mod common;

use common::{assert_matches_reference, random1, random4};
use conv2d_wgpu::wgpu::{self, BufferUsages};
use conv2d_wgpu::{
    conv2d_cpu, Activation, Algorithm, Conv2dError, Conv2dParams, GpuContext, GpuConv2d,
    GpuSequential, GpuTensor, Padding,
};
use ndarray::Array4;

fn same(activation: Activation) -> Conv2dParams {
    Conv2dParams {
        padding: Padding::Same,
        activation,
        ..Default::default()
    }
}

/// The application's own kernels: fill a buffer with `i % 7 * 0.25 - 0.5`,
/// and double one buffer into another.
const APP_WGSL: &str = "
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64)
fn fill(@builtin(global_invocation_id) id: vec3<u32>) {
    _ = arrayLength(&src); // same bindings as `double`
    if id.x < arrayLength(&dst) { dst[id.x] = f32(id.x % 7u) * 0.25 - 0.5; }
}
@compute @workgroup_size(64)
fn double(@builtin(global_invocation_id) id: vec3<u32>) {
    if id.x < arrayLength(&dst) { dst[id.x] = 2.0 * src[id.x]; }
}
";

fn app_pass(
    ctx: &GpuContext,
    encoder: &mut wgpu::CommandEncoder,
    entry: &str,
    src: &wgpu::Buffer,
    dst: &wgpu::Buffer,
) {
    let device = ctx.device();
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("app"),
        source: wgpu::ShaderSource::Wgsl(APP_WGSL.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: None,
        module: &module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    });
    let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: src.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: dst.as_entire_binding(),
            },
        ],
    });
    let mut pass = encoder.begin_compute_pass(&Default::default());
    pass.set_pipeline(&pipeline);
    pass.set_bind_group(0, &bind_group, &[]);
    pass.dispatch_workgroups((dst.size() as u32 / 4).div_ceil(64), 1, 1);
}

fn app_buffer(ctx: &GpuContext, shape: [usize; 4], usage: BufferUsages) -> wgpu::Buffer {
    ctx.device().create_buffer(&wgpu::BufferDescriptor {
        label: Some("app buffer"),
        size: 4 * shape.iter().product::<usize>() as u64,
        usage,
        mapped_at_creation: false,
    })
}

const TENSOR: BufferUsages = BufferUsages::STORAGE
    .union(BufferUsages::COPY_SRC)
    .union(BufferUsages::COPY_DST);

#[test]
fn encode_between_the_applications_own_passes() {
    let Some(ctx) = common::gpu() else { return };
    let shape = [1, 9, 11, 4];
    let w = random4([3, 3, 4, 8], 1);
    let b = random1(8, 2);
    let p = same(Activation::Relu);
    let conv = GpuConv2d::new(ctx, w.view(), Some(b.view()), p).unwrap();
    let input = GpuTensor::from_buffer(ctx, app_buffer(ctx, shape, TENSOR), shape).unwrap();
    let out_shape = conv.output_shape(shape).unwrap();
    let output = ctx.zeros(out_shape).unwrap();
    let doubled =
        GpuTensor::from_buffer(ctx, app_buffer(ctx, out_shape, TENSOR), out_shape).unwrap();

    let mut encoder = ctx.device().create_command_encoder(&Default::default());
    app_pass(ctx, &mut encoder, "fill", output.buffer(), input.buffer()); // before
    conv.encode(&mut encoder, &input, &output).unwrap();
    app_pass(
        ctx,
        &mut encoder,
        "double",
        output.buffer(),
        doubled.buffer(),
    ); // after
    ctx.queue().submit([encoder.finish()]);

    let x = Array4::from_shape_fn(shape, |(n, h, w_, c)| {
        let i = ((n * shape[1] + h) * shape[2] + w_) * shape[3] + c;
        (i % 7) as f32 * 0.25 - 0.5
    });
    assert_eq!(
        input.to_array().unwrap(),
        x,
        "the application's fill pass ran first"
    );
    let y = output.to_array().unwrap();
    assert_matches_reference(&y, x.view(), w.view(), Some(b.view()), p, "encode");
    assert_eq!(
        doubled.to_array().unwrap(),
        y.mapv(|v| 2.0 * v),
        "its pass after read ours"
    );
}

#[test]
fn encode_checks_everything_before_recording() {
    let Some(ctx) = common::gpu() else { return };
    let conv = GpuConv2d::new(
        ctx,
        random4([3, 3, 2, 4], 1).view(),
        None,
        Conv2dParams::default(),
    )
    .unwrap();
    let x = ctx.upload(&random4([1, 6, 6, 2], 2)).unwrap();
    let mut encoder = ctx.device().create_command_encoder(&Default::default());
    let e = conv.encode(&mut encoder, &x, &x).unwrap_err();
    assert!(matches!(e, Conv2dError::AliasedTensors { .. }), "{e}");
    let wrong = ctx.zeros([1, 6, 6, 4]).unwrap();
    let e = conv.encode(&mut encoder, &x, &wrong).unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains("[1, 6, 6, 4]") && message.contains("[1, 4, 4, 4]"),
        "{message}"
    );
    let other = GpuContext::new().unwrap();
    let foreign = other.zeros([1, 4, 4, 4]).unwrap();
    let e = conv.encode(&mut encoder, &x, &foreign).unwrap_err();
    assert!(matches!(e, Conv2dError::ContextMismatch { .. }), "{e}");
    let bad_input = ctx.zeros([1, 6, 6, 3]).unwrap();
    let e = conv.encode(&mut encoder, &bad_input, &wrong).unwrap_err();
    assert!(matches!(e, Conv2dError::ChannelMismatch { .. }), "{e}");
    // Nothing was recorded: the encoder still finishes and submits cleanly.
    ctx.queue().submit([encoder.finish()]);
    ctx.wait().unwrap();
}

#[test]
fn from_buffer_names_each_missing_usage_and_a_short_buffer() {
    let Some(ctx) = common::gpu() else { return };
    let shape = [1, 2, 3, 4];
    for missing in [
        BufferUsages::STORAGE,
        BufferUsages::COPY_SRC,
        BufferUsages::COPY_DST,
    ] {
        let buffer = app_buffer(ctx, shape, TENSOR.difference(missing));
        let e = GpuTensor::from_buffer(ctx, buffer, shape).unwrap_err();
        assert!(matches!(e, Conv2dError::BufferUsage { .. }), "{e}");
        assert!(
            e.to_string().contains(&format!("{missing:?}")),
            "{e} should name {missing:?}"
        );
    }
    let short = app_buffer(ctx, [1, 2, 3, 3], TENSOR);
    let e = GpuTensor::from_buffer(ctx, short, shape).unwrap_err();
    assert!(
        matches!(
            e,
            Conv2dError::BufferSize {
                needed: 96,
                size: 72,
                ..
            }
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("96") && e.to_string().contains("72"),
        "{e}"
    );
    // A good one round-trips, and its buffer comes back out.
    let buffer = app_buffer(ctx, shape, TENSOR);
    let x = random4(shape, 3);
    ctx.queue()
        .write_buffer(&buffer, 0, bytemuck::cast_slice(x.as_slice().unwrap()));
    let t = GpuTensor::from_buffer(ctx, buffer.clone(), shape).unwrap();
    assert_eq!(t.to_array().unwrap(), x);
    assert_eq!(t.into_buffer(), buffer);
}

#[test]
fn into_calls_allocate_nothing_over_a_thousand_calls() {
    let Some(_) = common::gpu() else { return };
    let ctx = GpuContext::new().unwrap(); // its own counters
    let w = random4([3, 3, 4, 4], 1);
    let p = same(Activation::Linear);
    let conv = GpuConv2d::new(&ctx, w.view(), None, p).unwrap();
    let x = random4([1, 8, 8, 4], 2);
    let input = ctx.upload(&x).unwrap();
    let output = ctx.zeros([1, 8, 8, 4]).unwrap();
    let mut host = Array4::<f32>::zeros((1, 8, 8, 4));
    // First calls make the buffers and bind groups.
    conv.forward_tensor_into(&input, &output).unwrap();
    conv.forward_into(&x, host.view_mut()).unwrap();
    let warm = ctx.stats();
    for _ in 0..1000 {
        conv.forward_tensor_into(&input, &output).unwrap();
        conv.forward_into(&x, host.view_mut()).unwrap();
    }
    let after = ctx.stats();
    eprintln!(
        "1,000 x (forward_tensor_into + forward_into): buffers created {}, bind groups created {}, submits {}, readbacks {}",
        after.buffers_created - warm.buffers_created,
        after.bind_groups_created - warm.bind_groups_created,
        after.submits - warm.submits,
        after.readbacks - warm.readbacks
    );
    assert_eq!(after.buffers_created, warm.buffers_created);
    assert_eq!(after.bind_groups_created, warm.bind_groups_created);
    assert_eq!(after.submits - warm.submits, 2000);
    assert_matches_reference(&host, x.view(), w.view(), None, p, "forward_into");
    assert_matches_reference(
        &output.to_array().unwrap(),
        x.view(),
        w.view(),
        None,
        p,
        "into",
    );
    let e = conv
        .forward_into(&x, Array4::zeros((1, 8, 8, 3)).view_mut())
        .unwrap_err();
    assert!(matches!(e, Conv2dError::OutputShape { .. }), "{e}");
}

#[test]
fn a_stack_equals_the_cpu_chain_in_one_submit() {
    let Some(_) = common::gpu() else { return };
    let ctx = GpuContext::new().unwrap();
    let x = random4([2, 13, 15, 3], 1);
    let specs = [
        ([3, 3, 3, 8], same(Activation::Relu6), 2),
        (
            [3, 3, 1, 8],
            Conv2dParams {
                groups: 8,
                ..same(Activation::Silu)
            },
            3,
        ),
        (
            [1, 1, 8, 5],
            Conv2dParams {
                stride: [2, 2],
                ..same(Activation::Tanh)
            },
            4,
        ),
    ];
    let mut layers = Vec::new();
    let mut expected = x.clone();
    for (shape, params, seed) in specs {
        let w = random4(shape, seed);
        let b = random1(shape[3], seed + 10);
        layers.push(GpuConv2d::new(&ctx, w.view(), Some(b.view()), params).unwrap());
        expected = conv2d_cpu(expected.view(), w.view(), Some(b.view()), params).unwrap();
    }
    let stack = GpuSequential::new(layers).unwrap();
    let input = ctx.upload(&x).unwrap();
    for round in 0..3 {
        let before = ctx.stats();
        let y = stack.forward_tensor(&input).unwrap();
        let after = ctx.stats();
        assert_eq!(after.submits - before.submits, 1, "one submit per call");
        assert_eq!(
            after.readbacks, before.readbacks,
            "no readback until to_array"
        );
        let y = y.to_array().unwrap();
        let worst = y
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 1e-4, "round {round}: worst difference {worst}");
        if round > 0 {
            assert_eq!(
                after.bind_groups_created, before.bind_groups_created,
                "round {round}"
            );
        }
    }
    let e = GpuSequential::new(Vec::new()).unwrap_err();
    assert!(matches!(e, Conv2dError::EmptySequential), "{e}");
}

#[test]
fn forward_and_upload_take_what_ndarray_users_pass() {
    let Some(ctx) = common::gpu() else { return };
    let w = random4([1, 1, 2, 2], 1);
    let conv = GpuConv2d::new(ctx, w.view(), None, Conv2dParams::default()).unwrap();
    let x = random4([1, 3, 3, 2], 2);
    let by_ref = conv.forward(&x).unwrap();
    let by_view = conv.forward(x.view()).unwrap();
    let by_async = pollster::block_on(conv.forward_async(&x)).unwrap();
    assert_eq!(by_ref, by_view);
    assert_eq!(by_ref, by_async);
    assert_eq!(ctx.upload(&x).unwrap().to_array().unwrap(), x);
    assert_eq!(ctx.upload(x.view()).unwrap().to_array().unwrap(), x);
}

#[test]
fn encode_records_split_pieces_too() {
    // 4 KiB bindings: the input below is split into row bands and the weights
    // into output-channel chunks, each a dispatch recorded by `encode`.
    let Some(ctx) = common::gpu_with_limits(|l| l.max_storage_buffer_binding_size = 4096) else {
        return;
    };
    let x = random4([2, 24, 20, 4], 1);
    let w = random4([3, 3, 4, 12], 2);
    let b = random1(12, 3);
    let p = same(Activation::Relu);
    let conv = GpuConv2d::new(&ctx, w.view(), Some(b.view()), p).unwrap();
    let input = ctx.upload(&x).unwrap();
    let output = ctx
        .zeros(conv.output_shape(input.shape()).unwrap())
        .unwrap();
    let mut encoder = ctx.device().create_command_encoder(&Default::default());
    conv.encode(&mut encoder, &input, &output).unwrap();
    ctx.queue().submit([encoder.finish()]);
    let y = output.to_array().unwrap();
    assert_matches_reference(&y, x.view(), w.view(), Some(b.view()), p, "encode, split");
}

/// `encode` into the application's encoder submits nothing of its own, also
/// for kernels that read copies of the weights (Winograd's transform, weights
/// in a texture): `new` and `with_algorithm` make those (found by
/// `examples/wgpu_app` on an application device without subgroups, where the
/// texture copy used to be submitted by the first `encode`).
#[test]
fn encode_submits_nothing_even_for_kernels_reading_weight_copies() {
    let Some(ctx) = common::gpu_with_limits(|_| {}) else {
        return;
    };
    let p = Conv2dParams {
        padding: Padding::Same,
        ..Default::default()
    };
    // A 3x3 layer (Winograd's transform), and a strided RGB stem (the
    // implicit GEMM's space-to-depth weights).
    let stem = Conv2dParams {
        stride: [2, 2],
        ..p
    };
    let cases = [
        ([3, 3, 32, 32], [1, 12, 12, 32], p, Algorithm::Winograd),
        ([7, 7, 3, 16], [1, 24, 20, 3], stem, Algorithm::ImplicitGemm),
    ];
    for (textures, (w_shape, x_shape, p, algorithm)) in [true, false]
        .into_iter()
        .flat_map(|t| cases.map(|c| (t, c)))
    {
        let w = random4(w_shape, 41);
        let x = random4(x_shape, 42);
        conv2d_wgpu::introspect::use_weight_textures(&ctx, Some(textures));
        let layers = [
            GpuConv2d::new(&ctx, w.view(), None, p).unwrap(),
            GpuConv2d::new(&ctx, w.view(), None, p)
                .unwrap()
                .with_algorithm(algorithm)
                .unwrap(),
            GpuConv2d::new(&ctx, w.view(), None, p)
                .unwrap()
                .with_algorithm(Algorithm::ImplicitGemm)
                .unwrap(),
        ];
        let input = ctx.upload(x.view()).unwrap();
        for conv in &layers {
            let output = ctx.zeros(conv.output_shape(x_shape).unwrap()).unwrap();
            let before = ctx.stats().submits;
            let mut encoder = ctx.device().create_command_encoder(&Default::default());
            conv.encode(&mut encoder, &input, &output).unwrap();
            assert_eq!(ctx.stats().submits, before, "textures {textures}");
            ctx.queue().submit([encoder.finish()]);
            let y = output.to_array().unwrap();
            assert_matches_reference(&y, x.view(), w.view(), None, p, "encoded");
        }
    }
    conv2d_wgpu::introspect::use_weight_textures(&ctx, None);
}
