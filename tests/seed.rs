//! The worked example of ../shared/SEED.md (a Keras `Conv2D`), reproduced to the digit.

mod common;

use common::seed;
use conv2d_wgpu::{conv2d_cpu, Conv2dParams, GpuConv2d};
use ndarray::{Array1, Array4};

/// Input, weights and bias of the seed's Keras program (`tests/common/seed.rs`,
/// typed in from ../shared/SEED.md).
fn seed() -> (Array4<f32>, Array4<f32>, Array1<f32>) {
    (seed::input(), seed::weights(), seed::bias())
}

/// Keras' printed output (seed-keras-conv2d.txt): y_0 = [[15, 18], [9, 19]], y_1 = [[16, 14], [34, 21]].
fn keras_output() -> Array4<f32> {
    seed::keras_output()
}

#[test]
fn the_seed_data_is_the_documents() {
    // Spot checks against the text of ../shared/SEED.md, independent of seed.rs's layout code.
    let (x, w, b) = seed();
    assert_eq!((x[[0, 0, 2, 0]], x[[0, 3, 0, 1]]), (3.0, 3.0)); // data_0[0][2], data_1[3][0]
    assert_eq!(w[[1, 2, 0, 0]], 3.0); // kernel_00[1][2]
    assert_eq!(w[[2, 2, 0, 1]], 3.0); // kernel_01[2][2]
    assert_eq!(w[[1, 1, 1, 0]], 1.0); // kernel_10[1][1]
    assert_eq!(w[[2, 0, 1, 1]], 2.0); // kernel_11[2][0]
    assert_eq!(b.to_vec(), vec![1.0, -1.0]);
    assert_eq!(keras_output()[[0, 1, 0, 1]], 34.0); // y_1[1][0]
}

#[test]
fn cpu_reference_reproduces_the_seed_exactly() {
    let (x, w, b) = seed();
    let y = conv2d_cpu(x.view(), w.view(), Some(b.view()), Conv2dParams::default()).unwrap();
    assert_eq!(y, keras_output());
}

#[test]
fn gpu_reproduces_the_seed_exactly() {
    let Some(ctx) = common::gpu() else { return };
    let (x, w, b) = seed();
    let conv = GpuConv2d::new(ctx, w.view(), Some(b.view()), Conv2dParams::default()).unwrap();
    assert_eq!(conv.forward(x.view()).unwrap(), keras_output());
    assert_eq!(conv.output_shape([1, 4, 4, 2]).unwrap(), [1, 2, 2, 2]);
    assert_eq!(conv.param_count(), 38, "Keras' model.summary() says 38");
}

#[test]
fn param_count_without_bias_counts_weights_only() {
    let Some(ctx) = common::gpu() else { return };
    let (_, w, _) = seed();
    let conv = GpuConv2d::new(ctx, w.view(), None, Conv2dParams::default()).unwrap();
    assert_eq!(conv.param_count(), 36);
}
