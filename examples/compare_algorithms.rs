//! Forced algorithms side by side on benchmark shapes, alternated call by call
//! in one process (so that a machine that speeds up or slows down mid-run
//! affects all alike), device-resident, median per algorithm.
//!
//! ```sh
//! cargo run --release --example compare_algorithms -- B2,B5,B8 Winograd,ImplicitGemm [ROUNDS]
//! ```
//!
//! Prints, per shape, GFLOP/s and milliseconds of each algorithm that can run
//! it, and each one's time over the first one's.

use std::time::Instant;

use conv2d_wgpu::{Algorithm, GpuContext, GpuConv2d};
use ndarray::Array1;

#[path = "../benches/common/shapes.rs"]
mod shapes;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(ids), Some(names)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: compare_algorithms SHAPES ALGORITHMS [ROUNDS], e.g. B2,B8 Winograd,ImplicitGemm 21");
        std::process::exit(2);
    };
    let ids: Vec<&str> = ids.split(',').collect();
    let algorithms = names
        .split(',')
        .map(|name| {
            Algorithm::ALL
                .into_iter()
                .find(|a| format!("{a:?}") == name)
                .ok_or_else(|| format!("unknown algorithm {name}; one of {:?}", Algorithm::ALL))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rounds: usize = args.get(3).map_or(Ok(21), |r| r.parse())?;
    let ctx = GpuContext::new()?;
    println!("adapter: {}", ctx.adapter_info().name);
    for shape in shapes::shapes()
        .into_iter()
        .filter(|s| ids.contains(&s.id.as_str()))
    {
        let x = shapes::filled(shape.input, 1);
        let w = shapes::filled(shape.weights_shape(), 2);
        let b = Array1::from_elem(shape.cout, 0.5f32);
        let x = ctx.upload(x.view())?;
        let mut layers = Vec::new();
        for &algorithm in &algorithms {
            let layer = GpuConv2d::new(&ctx, w.view(), Some(b.view()), shape.params)?;
            // Gemm depends on the input: it is refused at the first call.
            if let Ok(layer) = layer.with_algorithm(algorithm) {
                if layer.forward_tensor(&x).is_ok() {
                    layers.push((algorithm, layer));
                }
            }
        }
        let Some((_, first)) = layers.first() else {
            continue;
        };
        let output = first.output_shape(shape.input)?;
        let flops = 2.0
            * (output.iter().product::<usize>() * shape.kernel * shape.kernel * w.shape()[2])
                as f64;
        // Compile and warm up, then alternate.
        for _ in 0..3 {
            for (_, layer) in &layers {
                layer.forward_tensor(&x)?;
                ctx.wait()?;
            }
        }
        let mut times = vec![Vec::with_capacity(rounds); layers.len()];
        for _ in 0..rounds {
            for ((_, layer), times) in layers.iter().zip(&mut times) {
                let start = Instant::now();
                layer.forward_tensor(&x)?;
                ctx.wait()?;
                times.push(start.elapsed().as_secs_f64());
            }
        }
        let medians: Vec<f64> = times
            .iter_mut()
            .map(|t| {
                t.sort_by(f64::total_cmp);
                t[t.len() / 2]
            })
            .collect();
        let mut line = format!("{}:", shape.id);
        for ((algorithm, _), median) in layers.iter().zip(&medians) {
            line += &format!(
                " {algorithm:?} {:.2} GFLOP/s ({:.2} ms, {:.2}x the first's time);",
                flops / median / 1e9,
                median * 1e3,
                median / medians[0]
            );
        }
        println!("{line}");
    }
    Ok(())
}
