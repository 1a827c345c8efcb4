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
//! - `gpu_resident/winograd_vs/<algorithm>` (B2, B5, B8): Winograd and the
//!   implicit GEMM forced on the same layer, side by side;
//! - `gpu_resident/tuned_<algorithm>` (B2, B6, B7): the algorithm
//!   `Tuning::Measure` picked on this adapter;
//! - `gpu_resident_f16/<algorithm>` (B2, B6, B7, where the adapter has
//!   SHADER_F16): the same layer in `Precision::F16`, f16 input on the device;
//! - `gpu_end_to_end`: host array in, host array out;
//! - `cpu_fast`: im2col + gemm; `cpu_reference`: the naive oracle (small shapes only).

use std::time::{Duration, Instant};

use conv2d_wgpu::{
    conv2d_cpu, conv2d_cpu_fast, Algorithm, DType, GpuContext, GpuConv2d, GpuTensor, Precision,
    Tuning,
};
use criterion::measurement::WallTime;
use criterion::{
    criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, Throughput,
};
use ndarray::Array1;

#[path = "common/shapes.rs"]
mod shapes;
use shapes::{filled, shapes};

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
        let w = filled(s.weights_shape(), 2);
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
                let id = BenchmarkId::new("gpu_resident", name);
                bench_resident(&mut group, id, ctx, layer, &x_device);
            }
            if ["B2", "B5", "B8"].contains(&s.id.as_str()) {
                for algorithm in [Algorithm::Winograd, Algorithm::ImplicitGemm] {
                    let forced = GpuConv2d::new(ctx, w.view(), Some(b.view()), s.params)
                        .and_then(|c| c.with_algorithm(algorithm))
                        .unwrap();
                    let id = BenchmarkId::new("gpu_resident/winograd_vs", format!("{algorithm:?}"));
                    bench_resident(&mut group, id, ctx, &forced, &x_device);
                }
            }
            if ["B2", "B6", "B7"].contains(&s.id.as_str()) {
                ctx.set_tuning(Tuning::Measure);
                let tuned = GpuConv2d::new(ctx, w.view(), Some(b.view()), s.params).unwrap();
                let name = format!("tuned_{:?}", tuned.algorithm_for(s.input).unwrap());
                // Planned while measuring is on, the layer keeps the tuned plan.
                tuned.forward_tensor(&x_device).unwrap();
                ctx.set_tuning(Tuning::Heuristic);
                let id = BenchmarkId::new("gpu_resident", name);
                bench_resident(&mut group, id, ctx, &tuned, &x_device);
            }
            if ctx.supports_f16() && ["B2", "B6", "B7"].contains(&s.id.as_str()) {
                let half = GpuConv2d::new(ctx, w.view(), Some(b.view()), s.params)
                    .and_then(|c| c.with_precision(Precision::F16))
                    .unwrap();
                let name = format!("{:?}", half.algorithm_for(s.input).unwrap());
                let x16 = ctx.upload_as(x.view(), DType::F16).unwrap();
                let id = BenchmarkId::new("gpu_resident_f16", name);
                bench_resident(&mut group, id, ctx, &half, &x16);
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

/// `layer` on a device tensor, output left on the device, timed to completion.
fn bench_resident(
    group: &mut BenchmarkGroup<'_, WallTime>,
    id: BenchmarkId,
    ctx: &GpuContext,
    layer: &GpuConv2d,
    x: &GpuTensor,
) {
    group.bench_function(id, |bench| {
        bench.iter_custom(|iterations| {
            let start = Instant::now();
            for _ in 0..iterations {
                layer.forward_tensor(x).unwrap();
                ctx.wait().unwrap();
            }
            start.elapsed()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
