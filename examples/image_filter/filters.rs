//! The filters of `image_filter` (and of the web page in `web/`): each is a
//! depthwise convolution, one kernel per colour channel (`groups = 3`).

use conv2d_wgpu::{Conv2dParams, Padding};
use ndarray::Array4;

/// The filters by name, in the order a menu shows them.
pub const FILTERS: [&str; 4] = ["sobel", "gaussian", "sharpen", "box"];

/// How the outputs of a filter become the three colours of a picture.
pub enum Combine {
    /// Output channel c is colour c.
    Direct,
    /// Outputs 2c and 2c + 1 are d/dx and d/dy of colour c: show their magnitude.
    Magnitude,
}

/// Same padding (the picture keeps its size), one group per colour.
pub fn filter_params() -> Conv2dParams {
    Conv2dParams {
        padding: Padding::Same,
        groups: 3,
        ..Default::default()
    }
}

/// Depthwise HWIO weights `(k, k, 1, 3 * multiplier)` for a named filter.
pub fn filter_weights(name: &str) -> Result<(Array4<f32>, Combine), String> {
    let per_channel = |k: usize, taps: &[f32]| {
        Array4::from_shape_fn((k, k, 1, 3), |(y, x, _, _)| taps[y * k + x])
    };
    Ok(match name {
        "gaussian" => {
            let row = [1.0, 4.0, 6.0, 4.0, 1.0];
            let taps: Vec<f32> = (0..25).map(|i| row[i / 5] * row[i % 5] / 256.0).collect();
            (per_channel(5, &taps), Combine::Direct)
        }
        "box" => (per_channel(5, &[1.0 / 25.0; 25]), Combine::Direct),
        "sharpen" => (
            per_channel(3, &[0., -1., 0., -1., 5., -1., 0., -1., 0.]),
            Combine::Direct,
        ),
        "sobel" => {
            // Channel multiplier 2: output 2c is d/dx of colour c, 2c + 1 is d/dy.
            let gx = [-1., 0., 1., -2., 0., 2., -1., 0., 1.];
            let gy = [-1., -2., -1., 0., 0., 0., 1., 2., 1.];
            let w = Array4::from_shape_fn((3, 3, 1, 6), |(y, x, _, o)| {
                let taps = if o % 2 == 0 { &gx } else { &gy };
                taps[y * 3 + x] / 4.0
            });
            (w, Combine::Magnitude)
        }
        other => {
            return Err(format!(
                "unknown filter {other:?}: one of {}",
                FILTERS.join(", ")
            ))
        }
    })
}

/// NHWC `(1, height, width, 3)` in [0, 1] from 8-bit pixels, `channels`
/// bytes each (3 for RGB, 4 for RGBA; alpha is dropped).
pub fn input_from_pixels(
    pixels: &[u8],
    width: usize,
    height: usize,
    channels: usize,
) -> Array4<f32> {
    Array4::from_shape_fn((1, height, width, 3), |(_, y, x, c)| {
        f32::from(pixels[(y * width + x) * channels + c]) / 255.0
    })
}

/// 8-bit RGB pixels, row by row, from a filter's output.
pub fn pixels_from_output(y: &Array4<f32>, combine: &Combine) -> Vec<u8> {
    let (height, width) = (y.shape()[1], y.shape()[2]);
    let mut pixels = Vec::with_capacity(height * width * 3);
    for r in 0..height {
        for c in 0..width {
            for colour in 0..3 {
                let v = match combine {
                    Combine::Magnitude => {
                        y[[0, r, c, 2 * colour]].hypot(y[[0, r, c, 2 * colour + 1]])
                    }
                    Combine::Direct => y[[0, r, c, colour]],
                };
                pixels.push((v.clamp(0.0, 1.0) * 255.0).round() as u8);
            }
        }
    }
    pixels
}

/// The largest absolute difference between two outputs of the same shape.
pub fn max_difference(a: &Array4<f32>, b: &Array4<f32>) -> f32 {
    a.iter()
        .zip(b)
        .fold(0.0f32, |m, (p, q)| m.max((p - q).abs()))
}
