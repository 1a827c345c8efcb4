//! The worked example of ../shared/SEED.md (a Keras `Conv2D`), reproduced to the digit.

mod common;

use conv2d_wgpu::{conv2d_cpu, Conv2dParams, GpuConv2d};
use ndarray::{Array1, Array4};

/// Input, weights and bias exactly as in the seed's Keras program.
fn seed() -> (Array4<f32>, Array4<f32>, Array1<f32>) {
    let data = [
        [
            [1., 2., 3., 0.],
            [2., 0., 1., 2.],
            [0., 1., 2., 0.],
            [0., 0., 3., 1.],
        ],
        [
            [0., 2., 1., 3.],
            [1., 1., 0., 1.],
            [2., 2., 3., 2.],
            [3., 1., 0., 0.],
        ],
    ];
    // np.stack([k00, k01, k10, k11], -1) reshaped to (3, 3, 2, 2): weights[.., .., i, j] = kernel_ij.
    let kernels = [
        [[0., 1., 0.], [2., 0., 3.], [0., 4., 0.]],
        [[2., 0., 1.], [0., 1., 0.], [1., 0., 3.]],
        [[0., 0., 0.], [0., 1., 0.], [0., 0., 0.]],
        [[1., 0., 0.], [0., 2., 3.], [2., 0., 0.]],
    ];
    let x = Array4::from_shape_fn((1, 4, 4, 2), |(_, y, x, c)| data[c][y][x]);
    let w = Array4::from_shape_fn((3, 3, 2, 2), |(ky, kx, i, j)| kernels[2 * i + j][ky][kx]);
    (x, w, Array1::from(vec![1.0, -1.0]))
}

/// Keras' printed output (seed-keras-conv2d.txt): y_0 = [[15, 18], [9, 19]], y_1 = [[16, 14], [34, 21]].
fn keras_output() -> Array4<f32> {
    let y = [[[15., 18.], [9., 19.]], [[16., 14.], [34., 21.]]];
    Array4::from_shape_fn((1, 2, 2, 2), |(_, r, c, o)| y[o][r][c])
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
