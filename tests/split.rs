//! Work beyond the device's binding and dispatch limits is split transparently
//! (batch chunks, row bands with their halo, output-channel chunks of the
//! weights) and gives the CPU reference's answer. CI reaches the split paths on
//! small data by lowering the limits of a device adopted with `from_wgpu`.

mod common;

use common::{assert_matches_reference_in, forward_with, gpu_with_limits, random1, random4};
use conv2d_wgpu::{Activation, Algorithm, Conv2dParams, GpuContext, GpuConv2d, Padding};

fn check(
    ctx: &GpuContext,
    input: [usize; 4],
    weights: [usize; 4],
    params: Conv2dParams,
    seed: u64,
) {
    let x = random4(input, seed);
    let w = random4(weights, seed + 1);
    let b = random1(weights[3], seed + 2);
    // In f16 too, where the device has it: element offsets are in 2-byte units.
    for precision in common::precisions(ctx) {
        let what = format!("{input:?} {weights:?} {params:?} in {precision:?}");
        let layer = || {
            GpuConv2d::new(ctx, w.view(), Some(b.view()), params)
                .and_then(|conv| conv.with_precision(precision))
                .unwrap()
        };
        // Every algorithm that can run the layer splits the same way.
        for algorithm in Algorithm::ALL {
            let Some(y) = forward_with(layer(), algorithm, &x) else {
                continue;
            };
            let what = format!("{what} with {algorithm:?}");
            let b = Some(b.view());
            assert_matches_reference_in(
                &y.unwrap(),
                x.view(),
                w.view(),
                b,
                params,
                precision,
                &what,
            );
        }
        // The device-resident path too.
        let dtype = precision.dtype();
        let y = layer()
            .forward_tensor(&ctx.upload_as(x.view(), dtype).unwrap())
            .unwrap();
        assert_eq!(y.dtype(), dtype);
        let y = y.to_array().unwrap();
        let b = Some(b.view());
        assert_matches_reference_in(&y, x.view(), w.view(), b, params, precision, &what);
    }
}

fn with(stride: usize, dilation: usize, padding: Padding, groups: usize) -> Conv2dParams {
    Conv2dParams {
        stride: [stride, stride],
        dilation: [dilation, dilation],
        padding,
        groups,
        activation: Activation::Relu,
    }
}

#[test]
fn splits_by_batch_rows_and_channels_under_a_small_binding_limit() {
    // 4 KiB per binding (about 1000 floats); the tensors below are 2-20x that.
    let Some(ctx) = gpu_with_limits(|l| l.max_storage_buffer_binding_size = 4096) else {
        return;
    };
    // Whole images per piece: each image is 8 x 8 x 4 = 256 floats.
    check(
        &ctx,
        [9, 8, 8, 4],
        [3, 3, 4, 4],
        with(1, 1, Padding::Same, 1),
        1,
    );
    // Row bands with halo, every padding mode, strides and dilations.
    check(
        &ctx,
        [2, 40, 20, 3],
        [3, 3, 3, 4],
        with(1, 1, Padding::Same, 1),
        2,
    );
    check(
        &ctx,
        [1, 41, 20, 3],
        [3, 3, 3, 4],
        with(2, 1, Padding::Same, 1),
        3,
    );
    check(
        &ctx,
        [1, 41, 20, 3],
        [3, 2, 3, 4],
        with(1, 2, Padding::Valid, 1),
        4,
    );
    let explicit = Padding::Explicit {
        top: 3,
        bottom: 5,
        left: 1,
        right: 0,
    };
    check(
        &ctx,
        [2, 30, 20, 3],
        [4, 3, 3, 2],
        with(3, 1, explicit, 1),
        5,
    );
    // Weights beyond one binding: 3 x 3 x 16 x 16 = 2304 floats, split by output channel,
    // also with groups and the bias indexed across chunks.
    check(
        &ctx,
        [1, 6, 6, 16],
        [3, 3, 16, 16],
        with(1, 1, Padding::Same, 1),
        6,
    );
    check(
        &ctx,
        [1, 6, 6, 32],
        [3, 3, 16, 32],
        with(1, 1, Padding::Same, 2),
        7,
    );
}

#[test]
fn splits_dispatches_beyond_the_workgroup_limit() {
    // 3 x 3 workgroups of 64 per dispatch: 576 outputs; the output here has 3600.
    let Some(ctx) = gpu_with_limits(|l| l.max_compute_workgroups_per_dimension = 3) else {
        return;
    };
    check(
        &ctx,
        [2, 30, 15, 2],
        [3, 3, 2, 4],
        with(1, 1, Padding::Same, 1),
        8,
    );
    check(
        &ctx,
        [3, 6, 6, 2],
        [3, 3, 2, 4],
        with(1, 1, Padding::Same, 1),
        9,
    );
}
