//! Device-resident chaining, async forms, threads, device loss and memory.

mod common;

use common::{assert_matches_reference, random1, random4};
use conv2d_wgpu::{
    conv2d_cpu, Activation, Conv2dError, Conv2dParams, GpuContext, GpuConv2d, GpuTensor, Padding,
};
use ndarray::Array4;

fn same(activation: Activation, groups: usize) -> Conv2dParams {
    Conv2dParams {
        padding: Padding::Same,
        groups,
        activation,
        ..Default::default()
    }
}

#[test]
fn handles_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<GpuContext>();
    assert_send_sync::<GpuConv2d>();
    assert_send_sync::<GpuTensor>();
}

#[test]
fn a_three_layer_chain_stays_on_the_device_and_matches_the_cpu() {
    let Some(_) = common::gpu() else { return };
    let ctx = &GpuContext::new().unwrap(); // its own, so other tests' work is not counted
                                           // 3x3 conv 3 -> 8 (relu6), depthwise 3x3 on 8 (silu), 1x1 conv 8 -> 5 (tanh).
    let layers = [
        (
            random4([3, 3, 3, 8], 1),
            random1(8, 2),
            same(Activation::Relu6, 1),
        ),
        (
            random4([3, 3, 1, 8], 3),
            random1(8, 4),
            same(Activation::Silu, 8),
        ),
        (
            random4([1, 1, 8, 5], 5),
            random1(5, 6),
            same(Activation::Tanh, 1),
        ),
    ];
    let x = random4([2, 12, 11, 3], 7);

    let mut expected = x.clone();
    for (w, b, p) in &layers {
        expected = conv2d_cpu(expected.view(), w.view(), Some(b.view()), *p).unwrap();
    }
    let gpu_layers: Vec<GpuConv2d> = layers
        .iter()
        .map(|(w, b, p)| GpuConv2d::new(ctx, w.view(), Some(b.view()), *p).unwrap())
        .collect();

    let before = ctx.stats();
    let mut t = ctx.upload(x.view()).unwrap();
    for layer in &gpu_layers {
        t = layer.forward_tensor(&t).unwrap();
    }
    let after_chain = ctx.stats();
    assert_eq!(
        after_chain.readbacks, before.readbacks,
        "the chain must read nothing back"
    );
    assert_eq!(
        after_chain.submits - before.submits,
        3,
        "one submit per layer"
    );
    assert_eq!(t.shape(), [2, 12, 11, 5]);
    let y = t.to_array().unwrap();
    assert_eq!(ctx.stats().readbacks - before.readbacks, 1);

    // Each layer in f32 on both sides: compare the chain with a tolerance that
    // grows with the three reductions (the last layer's check against the CPU
    // chain's own intermediate keeps the bound honest).
    let mut intermediate = x.clone();
    for (w, b, p) in &layers[..2] {
        intermediate = conv2d_cpu(intermediate.view(), w.view(), Some(b.view()), *p).unwrap();
    }
    let (w, b, p) = &layers[2];
    let tail = gpu_layers[2].forward(intermediate.view()).unwrap();
    assert_matches_reference(
        &tail,
        intermediate.view(),
        w.view(),
        Some(b.view()),
        *p,
        "last layer",
    );
    let worst = (&y - &expected).iter().fold(0.0f32, |m, d| m.max(d.abs()));
    assert!(worst < 1e-4, "chain differs from the CPU chain by {worst}");
}

#[test]
fn a_host_forward_is_one_submit_and_one_readback() {
    let Some(_) = common::gpu() else { return };
    let ctx = GpuContext::new().unwrap(); // its own, so other tests' work is not counted
    let w = random4([3, 3, 4, 8], 1);
    let p = same(Activation::Relu, 1);
    let conv = GpuConv2d::new(&ctx, w.view(), None, p).unwrap();
    for (i, shape) in [[1, 9, 9, 4], [1, 9, 9, 4], [2, 5, 5, 4], [1, 9, 9, 4]]
        .into_iter()
        .enumerate()
    {
        let x = random4(shape, 10 + i as u64);
        let before = ctx.stats();
        let y = conv.forward(x.view()).unwrap();
        let after = ctx.stats();
        assert_eq!(
            (
                after.submits - before.submits,
                after.readbacks - before.readbacks
            ),
            (1, 1)
        );
        assert_matches_reference(&y, x.view(), w.view(), None, p, &format!("call {i}"));
    }
}

#[test]
fn a_dropped_tensor_buffer_is_reused_without_corrupting_pending_work() {
    let Some(ctx) = common::gpu() else { return };
    let p = same(Activation::Linear, 1);
    let (w1, w2) = (random4([3, 3, 4, 4], 1), random4([3, 3, 4, 4], 2));
    let first = GpuConv2d::new(ctx, w1.view(), None, p).unwrap();
    let second = GpuConv2d::new(ctx, w2.view(), None, p).unwrap();
    let (x, other) = (random4([1, 12, 12, 4], 3), random4([1, 12, 12, 4], 4));
    let t1 = first
        .forward_tensor(&ctx.upload(x.view()).unwrap())
        .unwrap();
    let y = second.forward_tensor(&t1).unwrap(); // queued: reads t1
    drop(t1); // its buffer becomes spare...
    let t3 = first
        .forward_tensor(&ctx.upload(other.view()).unwrap())
        .unwrap(); // ...and is written here
    let expected = conv2d_cpu(x.view(), w1.view(), None, p).unwrap();
    assert_matches_reference(
        &y.to_array().unwrap(),
        expected.view(),
        w2.view(),
        None,
        p,
        "pending read",
    );
    assert_matches_reference(
        &t3.to_array().unwrap(),
        other.view(),
        w1.view(),
        None,
        p,
        "reused buffer",
    );
}

#[test]
fn a_tensor_from_another_context_is_an_error() {
    let Some(ctx) = common::gpu() else { return };
    let other = GpuContext::new().unwrap();
    let conv = GpuConv2d::new(
        ctx,
        random4([1, 1, 2, 2], 1).view(),
        None,
        Conv2dParams::default(),
    )
    .unwrap();
    let foreign = other.upload(random4([1, 3, 3, 2], 2).view()).unwrap();
    let e = conv.forward_tensor(&foreign).unwrap_err();
    assert!(
        matches!(
            e,
            Conv2dError::ContextMismatch {
                shape: [1, 3, 3, 2],
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("another GpuContext"), "{e}");
}

#[test]
fn async_forms_run_on_a_plain_executor() {
    let Some(_) = common::gpu() else { return };
    futures::executor::block_on(async {
        let ctx = GpuContext::new_async().await.unwrap();
        let w = random4([3, 3, 2, 3], 11);
        let p = same(Activation::Sigmoid, 1);
        let conv = GpuConv2d::new(&ctx, w.view(), None, p).unwrap();
        let inputs: Vec<Array4<f32>> = (0..4)
            .map(|i| random4([1, 5 + i, 6, 2], 20 + i as u64))
            .collect();
        // Several forwards in flight on one executor thread.
        let outputs =
            futures::future::join_all(inputs.iter().map(|x| conv.forward_async(x.view()))).await;
        for (x, y) in inputs.iter().zip(outputs) {
            assert_matches_reference(&y.unwrap(), x.view(), w.view(), None, p, "forward_async");
        }
        let t = conv
            .forward_tensor(&ctx.upload(inputs[0].view()).unwrap())
            .unwrap();
        let y = t.to_array_async().await.unwrap();
        assert_matches_reference(&y, inputs[0].view(), w.view(), None, p, "to_array_async");
    });
}

#[test]
fn eight_threads_share_layers_with_mixed_shapes() {
    let Some(ctx) = common::gpu() else { return };
    let layers: Vec<_> = [
        (random4([3, 3, 2, 4], 1), same(Activation::Relu, 1)),
        (random4([3, 3, 1, 2], 2), same(Activation::Linear, 2)),
        (random4([1, 1, 2, 3], 3), Conv2dParams::default()),
    ]
    .into_iter()
    .map(|(w, p)| (GpuConv2d::new(ctx, w.view(), None, p).unwrap(), w, p))
    .collect();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for thread in 0..8 {
            let (layers, calls) = (&layers, &calls);
            s.spawn(move || {
                for i in 0..50 {
                    let (conv, w, p) = &layers[(thread + i) % layers.len()];
                    let x = random4(
                        [1 + i % 2, 3 + (thread + i) % 5, 4 + i % 3, 2],
                        (thread * 100 + i) as u64,
                    );
                    let y = if i % 2 == 0 {
                        conv.forward(x.view()).unwrap()
                    } else {
                        conv.forward_tensor(&ctx.upload(x.view()).unwrap())
                            .unwrap()
                            .to_array()
                            .unwrap()
                    };
                    assert_matches_reference(
                        &y,
                        x.view(),
                        w.view(),
                        None,
                        *p,
                        &format!("thread {thread} call {i}"),
                    );
                    calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(calls.into_inner(), 400);
}

#[test]
fn a_lost_device_gives_errors_on_every_later_call() {
    let Some(_) = common::gpu() else { return };
    let ctx = GpuContext::new().unwrap(); // its own device, destroyed below
    let w = random4([3, 3, 2, 2], 1);
    let conv = GpuConv2d::new(&ctx, w.view(), None, Conv2dParams::default()).unwrap();
    let x = random4([1, 5, 5, 2], 2);
    let kept = ctx.upload(x.view()).unwrap();
    ctx.device().destroy();
    let lost = |e: Conv2dError| assert!(matches!(e, Conv2dError::DeviceLost(_)), "{e}");
    for _ in 0..3 {
        lost(conv.forward(x.view()).unwrap_err());
        lost(conv.forward_tensor(&kept).unwrap_err());
        lost(kept.to_array().unwrap_err());
        lost(ctx.upload(x.view()).unwrap_err());
        lost(
            GpuConv2d::new(&ctx, w.view(), None, Conv2dParams::default())
                .err()
                .unwrap(),
        );
        lost(futures::executor::block_on(conv.forward_async(x.view())).unwrap_err());
    }
}

#[test]
fn a_buffer_handed_out_is_never_recycled_for_another_output() {
    let Some(_) = common::gpu() else { return };
    let ctx = GpuContext::new().unwrap(); // its own spare buffers
    let w = random4([1, 1, 4, 4], 1);
    let conv = GpuConv2d::new(&ctx, w.view(), None, Conv2dParams::default()).unwrap();
    let (a, b) = (random4([1, 6, 6, 4], 2), random4([1, 6, 6, 4], 3));
    let input_a = ctx.upload(a.view()).unwrap();
    let first = conv.forward_tensor(&input_a).unwrap();
    let expected = first.to_array().unwrap();
    let kept = first.buffer().clone(); // the application keeps the buffer
    drop(first);
    // The next outputs of the same size must not land in the kept buffer.
    let input_b = ctx.upload(b.view()).unwrap();
    let later: Vec<_> = (0..3)
        .map(|_| conv.forward_tensor(&input_b).unwrap())
        .collect();
    assert!(later.iter().all(|t| t.buffer() != &kept));
    // Read the kept buffer as an application would.
    let staging = ctx
        .device()
        .create_buffer(&conv2d_wgpu::wgpu::BufferDescriptor {
            label: None,
            size: kept.size(),
            usage: conv2d_wgpu::wgpu::BufferUsages::MAP_READ
                | conv2d_wgpu::wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
    let mut encoder = ctx.device().create_command_encoder(&Default::default());
    encoder.copy_buffer_to_buffer(&kept, 0, &staging, 0, kept.size());
    ctx.queue().submit([encoder.finish()]);
    staging.map_async(conv2d_wgpu::wgpu::MapMode::Read, .., |r| r.unwrap());
    ctx.wait().unwrap();
    let bytes = staging.get_mapped_range(..).unwrap().to_vec();
    let values: Vec<f32> = bytemuck::cast_slice(&bytes).to_vec();
    assert_eq!(values, expected.iter().copied().collect::<Vec<_>>());
}
