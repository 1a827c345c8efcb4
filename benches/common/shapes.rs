//! The benchmark shapes of ../shared/BENCH.md (B1-B10) and the kernel-size
//! sweep, shared by `benches/conv2d.rs` and `examples/bench_table.rs`.

use conv2d_wgpu::{Conv2dParams, Padding};
use ndarray::Array4;

/// One benchmark layer: NHWC input, a square kernel, output channels, parameters.
pub struct Shape {
    pub id: String,
    pub input: [usize; 4],
    pub kernel: usize,
    pub cout: usize,
    pub params: Conv2dParams,
}

impl Shape {
    /// Weights HWIO for this layer.
    pub fn weights_shape(&self) -> [usize; 4] {
        [
            self.kernel,
            self.kernel,
            self.input[3] / self.params.groups,
            self.cout,
        ]
    }
}

/// B1-B10, then the sweep's k = 9 and 11 (B7-B10 are its k = 1, 3, 5, 7):
/// 1x64x64x32 -> 32, same padding.
pub fn shapes() -> Vec<Shape> {
    let same = Conv2dParams {
        padding: Padding::Same,
        ..Default::default()
    };
    let shape = |id: &str, input, kernel, cout, params| Shape {
        id: id.into(),
        input,
        kernel,
        cout,
        params,
    };
    let mut shapes = vec![
        shape("B1", [1, 4, 4, 2], 3, 2, Conv2dParams::default()),
        shape("B2", [1, 56, 56, 64], 3, 64, same),
        shape("B3", [1, 28, 28, 256], 1, 256, Conv2dParams::default()),
        shape(
            "B4",
            [1, 224, 224, 3],
            7,
            64,
            Conv2dParams {
                stride: [2, 2],
                ..same
            },
        ),
        shape("B5", [8, 32, 32, 64], 3, 64, same),
        shape(
            "B6",
            [1, 56, 56, 128],
            3,
            128,
            Conv2dParams {
                groups: 128,
                ..same
            },
        ),
    ];
    for (i, k) in [1, 3, 5, 7, 9, 11].into_iter().enumerate() {
        let id = if i < 4 {
            format!("B{}", 7 + i)
        } else {
            format!("k{k}")
        };
        shapes.push(shape(&id, [1, 64, 64, 32], k, 32, same));
    }
    shapes
}

/// Deterministic values in [-1, 1) (a multiplicative hash of the index).
pub fn filled(shape: [usize; 4], seed: usize) -> Array4<f32> {
    Array4::from_shape_fn(shape, |(a, b, c, d)| {
        (((a * 131 + b * 31 + c * 7 + d + seed) * 2654435761usize) % 1000) as f32 / 500.0 - 1.0
    })
}
