//! GPU vs CPU Conv2D throughput on shapes from ../shared/BENCH.md.
//! Throughput is reported in FLOPs (`Throughput::Elements` counts FLOPs here):
//! 2 * N * Ho * Wo * Cout * (Cin / groups) * kh * kw.

use conv2d_wgpu::{conv2d_cpu, Conv2dParams, GpuContext, GpuConv2d, Padding};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{Array1, Array4};

struct Shape {
    id: &'static str,
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
    vec![
        Shape {
            id: "B1",
            input: [1, 4, 4, 2],
            kernel: 3,
            cout: 2,
            params: Conv2dParams::default(),
        },
        Shape {
            id: "B7",
            input: [1, 64, 64, 32],
            kernel: 1,
            cout: 32,
            params: same,
        },
        Shape {
            id: "B8",
            input: [1, 64, 64, 32],
            kernel: 3,
            cout: 32,
            params: same,
        },
    ]
}

fn filled(shape: [usize; 4]) -> Array4<f32> {
    Array4::from_shape_fn(shape, |(a, b, c, d)| {
        ((a * 7 + b * 5 + c * 3 + d) % 13) as f32 / 6.5 - 1.0
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
        let x = filled(s.input);
        let w = filled([s.kernel, s.kernel, s.input[3] / s.params.groups, s.cout]);
        let b = Array1::from_elem(s.cout, 0.5f32);
        let y = conv2d_cpu(x.view(), w.view(), Some(b.view()), s.params).unwrap();
        let flops = 2 * y.len() * w.shape()[0] * w.shape()[1] * w.shape()[2];
        let mut group = c.benchmark_group(s.id);
        group
            .throughput(Throughput::Elements(flops as u64))
            .sample_size(10);
        if let Some(ctx) = &ctx {
            let conv = GpuConv2d::new(ctx, w.view(), Some(b.view()), s.params).unwrap();
            group.bench_function(BenchmarkId::new("gpu_end_to_end", "direct"), |bench| {
                bench.iter(|| conv.forward(x.view()).unwrap())
            });
        }
        group.bench_function(BenchmarkId::new("cpu_reference", "naive"), |bench| {
            bench.iter(|| conv2d_cpu(x.view(), w.view(), Some(b.view()), s.params).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
