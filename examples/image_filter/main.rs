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

mod filters;

use conv2d_wgpu::{conv2d_cpu, GpuContext, GpuConv2d};
use filters::{
    filter_params, filter_weights, input_from_pixels, max_difference, pixels_from_output,
};
use image::{Rgb, RgbImage};

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
    let x = input_from_pixels(picture.as_raw(), w as usize, h as usize, 3);

    let (weights, combine) = filter_weights(filter)?;
    let params = filter_params();
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
        let worst = max_difference(&y, &reference);
        assert!(worst < 1e-4, "GPU and CPU differ by {worst}");
        println!("checked against the CPU reference: max difference {worst:.1e}");
    }

    let out = RgbImage::from_raw(w, h, pixels_from_output(&y, &combine))
        .ok_or("the output is not the size of the picture")?;
    out.save(output)?;
    println!("wrote {output}");
    Ok(())
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
