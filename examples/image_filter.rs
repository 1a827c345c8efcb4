//! Filters a picture on the GPU: each filter is a depthwise `GpuConv2d` (one
//! kernel per colour channel, `groups = 3`).
//!
//! ```sh
//! cargo run --release --example image_filter -- INPUT.png OUTPUT.png [sobel|gaussian|sharpen|box] [--check]
//! cargo run --release --example image_filter -- --make-sample docs/sample.png
//! ```
//! `--check` also runs the filter through the CPU reference and fails if the
//! two differ by more than rounding. `--make-sample` draws the project's
//! sample picture (shapes and gradients, made here, nothing downloaded).

use conv2d_wgpu::{conv2d_cpu, Conv2dParams, GpuContext, GpuConv2d, Padding};
use image::{Rgb, RgbImage};
use ndarray::Array4;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--make-sample") {
        let path = args.get(1).ok_or("--make-sample needs an output path")?;
        sample().save(path)?;
        println!("wrote {path}");
        return Ok(());
    }
    let check = args.iter().any(|a| a == "--check");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let [input, output, rest @ ..] = positional.as_slice() else {
        return Err(
            "usage: image_filter INPUT.png OUTPUT.png [sobel|gaussian|sharpen|box] [--check]"
                .into(),
        );
    };
    let filter = rest.first().map_or("sobel", |f| f.as_str());

    let picture = image::open(input)?.to_rgb8();
    let (w, h) = picture.dimensions();
    let x = Array4::from_shape_fn((1, h as usize, w as usize, 3), |(_, y, x, c)| {
        f32::from(picture.get_pixel(x as u32, y as u32)[c]) / 255.0
    });

    let (weights, combine) = filter_weights(filter)?;
    let params = Conv2dParams {
        padding: Padding::Same,
        groups: 3,
        ..Default::default()
    };
    let ctx = GpuContext::new()?;
    let conv = GpuConv2d::new(&ctx, weights.view(), None, params)?;
    let start = std::time::Instant::now();
    let y = conv.forward(x.view())?;
    println!(
        "{filter} on {w}x{h} with {:?} on {}: {:.2?}",
        conv.algorithm_for([1, h as usize, w as usize, 3])?,
        ctx.adapter_info().name,
        start.elapsed()
    );
    if check {
        let reference = conv2d_cpu(x.view(), weights.view(), None, params)?;
        let worst = (&y - &reference).iter().fold(0.0f32, |m, d| m.max(d.abs()));
        assert!(worst < 1e-4, "GPU and CPU differ by {worst}");
        println!("checked against the CPU reference: max difference {worst:.1e}");
    }

    let mut out = RgbImage::new(w, h);
    for (x_pos, y_pos, pixel) in out.enumerate_pixels_mut() {
        let (r, c) = (y_pos as usize, x_pos as usize);
        let value = |channel: usize| {
            let v = match combine {
                // Gradient magnitude from the (d/dx, d/dy) pair of each colour.
                Combine::Magnitude => {
                    y[[0, r, c, 2 * channel]].hypot(y[[0, r, c, 2 * channel + 1]])
                }
                Combine::Direct => y[[0, r, c, channel]],
            };
            (v.clamp(0.0, 1.0) * 255.0).round() as u8
        };
        *pixel = Rgb([value(0), value(1), value(2)]);
    }
    out.save(output)?;
    println!("wrote {output}");
    Ok(())
}

enum Combine {
    Direct,
    Magnitude,
}

/// Depthwise HWIO weights `(k, k, 1, 3 * multiplier)` for a named filter.
fn filter_weights(name: &str) -> Result<(Array4<f32>, Combine), String> {
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
                "unknown filter {other:?}: sobel, gaussian, sharpen or box"
            ))
        }
    })
}

/// The sample picture: a colour gradient, a checkerboard, discs and stripes.
fn sample() -> RgbImage {
    let size = 192u32;
    RgbImage::from_fn(size, size, |x, y| {
        let (fx, fy) = (x as f32 / size as f32, y as f32 / size as f32);
        let mut rgb = [fx, fy, 1.0 - fx * fy];
        if x < 64 && y > 128 && ((x / 8) + (y / 8)) % 2 == 0 {
            rgb = [0.05, 0.05, 0.05];
        }
        for (cx, cy, r, colour) in [
            (120.0, 60.0, 34.0, [0.95, 0.2, 0.15]),
            (140.0, 140.0, 26.0, [0.1, 0.6, 0.2]),
        ] {
            if (x as f32 - cx).hypot(y as f32 - cy) < r {
                rgb = colour;
            }
        }
        if (20..60).contains(&x) && (20..100).contains(&y) && (y / 6) % 2 == 0 {
            rgb = [1.0, 0.85, 0.1];
        }
        Rgb(rgb.map(|v| (v * 255.0) as u8))
    })
}
