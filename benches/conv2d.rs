//! GPU vs CPU Conv2D throughput on the shapes of ../shared/BENCH.md (B1-B10)
//! and a kernel-size sweep (k = 1..11 on 1x64x64x32 -> 32, same padding).
//!
//! Throughput is in FLOPs: `Throughput::Elements` counts
//! 2 * N * Ho * Wo * Cout * (Cin / groups) * kh * kw, so criterion's
//! "Gelem/s" reads as GFLOP/s. Per shape, one group with:
//! - `gpu_resident/<algorithm>`: input already on the device, output left there,
//!   timed to completion (`iter_custom` + `ctx.wait()`);
//! - `gpu_resident/naive_direct`: the same with the one-invocation-per-output
//!   kernel, the baseline the speed-ups are measured against;
//! - `gpu_end_to_end`: host array in, host array out;
//! - `cpu_fast`: im2col + gemm; `cpu_reference`: the naive oracle (small shapes only).

use std::time::{Duration, Instant};

use conv2d_wgpu::{
    conv2d_cpu, conv2d_cpu_fast, Algorithm, Conv2dParams, GpuContext, GpuConv2d, Padding,
};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{Array1, Array4};

struct Shape {
    id: String,
    input: [usize; 4],
    kernel: usize,
    cout: usize,
    params: Conv2dParams,
}

fn shapes() -> Vec<Shape> {
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
    // B7-B10 are the sweep's k = 1, 3, 5, 7.
    for k in [1, 3, 5, 7, 9, 11] {
        shapes.push(shape(&format!("sweep_k{k}"), [1, 64, 64, 32], k, 32, same));
    }
    shapes
}

fn filled(shape: [usize; 4], seed: usize) -> Array4<f32> {
    Array4::from_shape_fn(shape, |(a, b, c, d)| {
        (((a * 131 + b * 31 + c * 7 + d + seed) * 2654435761usize) % 1000) as f32 / 500.0 - 1.0
    })
}

fn bench(c: &mut Criterion) {
    let ctx = match GpuContext::new() {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            eprintln!("no GPU adapter, benchmarking the CPU only: {e}");
            None
        }
    };
    for s in shapes() {
        let x = filled(s.input, 1);
        let w = filled(
            [s.kernel, s.kernel, s.input[3] / s.params.groups, s.cout],
            2,
        );
        let b = Array1::from_elem(s.cout, 0.5f32);
        let y = conv2d_cpu_fast(x.view(), w.view(), Some(b.view()), s.params).unwrap();
        let flops = 2 * y.len() * s.kernel * s.kernel * w.shape()[2];
        let mut group = c.benchmark_group(&s.id);
        group
            .throughput(Throughput::Elements(flops as u64))
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        if let Some(ctx) = &ctx {
            let conv = GpuConv2d::new(ctx, w.view(), Some(b.view()), s.params).unwrap();
            let naive = GpuConv2d::new(ctx, w.view(), Some(b.view()), s.params)
                .unwrap()
                .with_algorithm(Algorithm::Direct)
                .unwrap();
            let chosen = format!("{:?}", conv.algorithm_for(s.input).unwrap());
            let x_device = ctx.upload(x.view()).unwrap();
            for (name, layer) in [(chosen.as_str(), &conv), ("naive_direct", &naive)] {
                group.bench_function(BenchmarkId::new("gpu_resident", name), |bench| {
                    bench.iter_custom(|iterations| {
                        let start = Instant::now();
                        for _ in 0..iterations {
                            layer.forward_tensor(&x_device).unwrap();
                            ctx.wait().unwrap();
                        }
                        start.elapsed()
                    })
                });
            }
            group.bench_function("gpu_end_to_end", |bench| {
                bench.iter(|| conv.forward(x.view()).unwrap())
            });
        }
        group.bench_function("cpu_fast", |bench| {
            bench.iter(|| conv2d_cpu_fast(x.view(), w.view(), Some(b.view()), s.params).unwrap())
        });
        if flops < 80_000_000 {
            group.bench_function("cpu_reference", |bench| {
                bench.iter(|| conv2d_cpu(x.view(), w.view(), Some(b.view()), s.params).unwrap())
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
