//! Winograd's error beside the implicit GEMM's, against an f64 reference, on
//! the 3x3 benchmark shapes B2, B5, B8 with inputs of ordinary, large and
//! tiny magnitude (weights and bias in [-1, 1)).
//!
//! `cargo run --release --example winograd_error`
//!
//! Per shape and scale it prints the largest |GPU - f64| relative to the
//! largest |y|, and the largest |GPU - f64| as a fraction of the bound the
//! tests hold every kernel to, `3 (K + 1) eps sum |x w|` per element.

use conv2d_wgpu::{Algorithm, Conv2dParams, GpuContext, GpuConv2d};
use ndarray::{Array1, Array4};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "../benches/common/shapes.rs"]
#[allow(dead_code)] // the benchmarks' helpers this example does not use
mod shapes;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ctx = GpuContext::new()?;
    println!("adapter: {}", ctx.adapter_info().name);
    println!();
    println!("| shape | input scale | algorithm | max err / max abs y | max err / test bound |");
    println!("|---|---:|---|---:|---:|");
    for shape in shapes::shapes()
        .into_iter()
        .filter(|s| ["B2", "B5", "B8"].contains(&s.id.as_str()))
    {
        for scale in [1.0f32, 1e30, 1e-30] {
            let x = random(shape.input, 1).mapv(|v| v * scale);
            let w = random(shape.weights_shape(), 2);
            let b = Array1::from_shape_fn(shape.cout, |i| i as f32 / shape.cout as f32 - 0.5);
            let (exact, magnitude) = reference_f64(&x, &w, &b, shape.params);
            let k = (w.len() / shape.cout) as f64;
            for algorithm in [Algorithm::Winograd, Algorithm::ImplicitGemm] {
                let conv = GpuConv2d::new(&ctx, w.view(), Some(b.view()), shape.params)?
                    .with_algorithm(algorithm)?;
                let y = conv.forward(x.view())?;
                let mut worst = 0.0f64;
                let mut worst_bound = 0.0f64;
                let mut largest = 0.0f64;
                for ((got, want), m) in y.iter().zip(&exact).zip(&magnitude) {
                    let err = (f64::from(*got) - want).abs();
                    worst = worst.max(err);
                    largest = largest.max(want.abs());
                    let bound = 3.0 * (k + 1.0) * f64::from(f32::EPSILON) * m;
                    worst_bound = worst_bound.max(err / bound);
                }
                println!(
                    "| {} | {scale:e} | {algorithm:?} | {:.2e} | {:.4} |",
                    shape.id,
                    worst / largest,
                    worst_bound
                );
            }
        }
    }
    Ok(())
}

fn random(shape: [usize; 4], seed: u64) -> Array4<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    Array4::from_shape_simple_fn(shape, || rng.random_range(-1.0f32..1.0))
}

/// The convolution ('same' padding, stride 1, 3x3) in f64, and the sum of
/// |x w| + |b| per output.
fn reference_f64(
    x: &Array4<f32>,
    w: &Array4<f32>,
    b: &Array1<f32>,
    params: Conv2dParams,
) -> (Array4<f64>, Array4<f64>) {
    assert_eq!(params.stride, [1, 1]);
    let (n, h, wd, cin) = x.dim();
    let (kh, kw, _, cout) = w.dim();
    let mut y = Array4::<f64>::zeros((n, h, wd, cout));
    let mut m = Array4::<f64>::zeros((n, h, wd, cout));
    for img in 0..n {
        for oy in 0..h {
            for ox in 0..wd {
                for co in 0..cout {
                    let (mut sum, mut mag) = (f64::from(b[co]), f64::from(b[co].abs()));
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let (iy, ix) = (oy + ky, ox + kx);
                            if iy < 1 || ix < 1 || iy > h || ix > wd {
                                continue;
                            }
                            for ci in 0..cin {
                                let p = f64::from(x[[img, iy - 1, ix - 1, ci]])
                                    * f64::from(w[[ky, kx, ci, co]]);
                                sum += p;
                                mag += p.abs();
                            }
                        }
                    }
                    y[[img, oy, ox, co]] = sum;
                    m[[img, oy, ox, co]] = mag;
                }
            }
        }
    }
    (y, m)
}
