//! The worked example this crate started from: a Keras `Conv2D` layer (two 3x3
//! kernels per output channel, bias `[1, -1]`, valid padding) evaluated on one
//! 4x4 image with 2 channels. Keras printed the output in [`keras_output`];
//! `tests/seed.rs` checks the CPU reference and the GPU against it, to the digit.
//! Test data, not API: the tests use it through `common`, the examples with
//! `#[path = "../tests/common/seed.rs"] mod seed;`.

use ndarray::{Array1, Array4};

/// Input channels 0 and 1 (`data_0`, `data_1` in the seed), as rows.
const DATA: [[[f32; 4]; 4]; 2] = [
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

/// `kernel_00`, `kernel_01`, `kernel_10`, `kernel_11`: `kernel_ij` maps input
/// channel i to output channel j.
const KERNELS: [[[f32; 3]; 3]; 4] = [
    [[0., 1., 0.], [2., 0., 3.], [0., 4., 0.]],
    [[2., 0., 1.], [0., 1., 0.], [1., 0., 3.]],
    [[0., 0., 0.], [0., 1., 0.], [0., 0., 0.]],
    [[1., 0., 0.], [0., 2., 3.], [2., 0., 0.]],
];

/// The image, NHWC `(1, 4, 4, 2)`.
pub fn input() -> Array4<f32> {
    Array4::from_shape_fn((1, 4, 4, 2), |(_, y, x, c)| DATA[c][y][x])
}

/// The kernels, HWIO `(3, 3, 2, 2)`: `weights[.., .., i, j]` is `kernel_ij`. (The
/// seed's Python stacks them as `(3, 3, 4)` and Keras' initializer reshapes that
/// to `(3, 3, 2, 2)`, which is why `kernel[:, :, 2 * i + j]` is `kernel_ij`.)
pub fn weights() -> Array4<f32> {
    Array4::from_shape_fn((3, 3, 2, 2), |(ky, kx, i, j)| KERNELS[2 * i + j][ky][kx])
}

/// The bias, `[1, -1]`.
pub fn bias() -> Array1<f32> {
    Array1::from(vec![1.0, -1.0])
}

/// What Keras printed: `y_0 = [[15, 18], [9, 19]]`, `y_1 = [[16, 14], [34, 21]]`,
/// NHWC `(1, 2, 2, 2)`.
pub fn keras_output() -> Array4<f32> {
    let y = [[[15., 18.], [9., 19.]], [[16., 14.], [34., 21.]]];
    Array4::from_shape_fn((1, 2, 2, 2), |(_, r, c, o)| y[o][r][c])
}
