//! GPU vs CPU Conv2D throughput on the shapes of ../shared/BENCH.md, as one
//! markdown table, plus an SVG plot of GFLOP/s against kernel size.
//!
//! ```sh
//! cargo run --release --example bench_table [-- --svg PATH] [--quick] [--only B2,B5] [--algorithm direct]
//! ```
//! Columns: GPU device-resident (input on the device, output left there, timed
//! to completion) with the chosen algorithm and with the naive direct kernel
//! (the baseline every speed-up is measured against); GPU end-to-end (host array
//! in, host array out); the fast CPU path; the CPU reference on small shapes.
//! Every figure is a median; the two terms of each speed-up, and the close
//! layers of the tuning table's row, alternate in turns of two calls (the
//! second timed, as in a loop). Results are checked
//! against the CPU fast path.
//! Where the adapter has SHADER_F16, a second table gives each shape in
//! `Precision::F16` beside f32 (device-resident GFLOP/s, device bytes of
//! weights, input and output), from the same run. A third table shows how good
//! the heuristic is on this adapter: its choice, the choice of
//! `Tuning::Measure` (with the first call's tuning time), and the fastest
//! algorithm forced one by one, each of them as three layers (the median
//! layer's figure: identical layers can differ on llvmpipe).

use std::time::{Duration, Instant};

use conv2d_wgpu::{
    conv2d_cpu, conv2d_cpu_fast, Activation, Algorithm, Conv2dParams, DType, GpuContext, GpuConv2d,
    GpuSequential, Padding, Precision, Tuning,
};
use ndarray::Array1;

#[path = "../benches/common/shapes.rs"]
mod shapes;
use shapes::{filled, shapes, Shape};

/// Median seconds of `f`, run until `budget` is spent (at least 3, at most 50 times).
fn median(budget: Duration, mut f: impl FnMut()) -> f64 {
    f(); // warm-up: pipelines, caches
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (start.elapsed() < budget && times.len() < 50) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    middle(times)
}

/// The median of `values` (the upper one of an even count).
fn middle(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Median seconds of each of `fs`, run in turn: one warm-up each, then rounds
/// in which every one takes a turn, the order rotating, until `budget` is
/// spent (at least 3 rounds, at most 50). The machine's drift falls on all
/// alike, so their ratios hold steadier than those of medians taken one after
/// another. A turn runs its function twice and times the second call: timed
/// right after another kernel, a short one found its data evicted (B7 ran
/// 4-18% slower than in a loop of its own, alternated with the direct kernel),
/// and `median` and criterion time calls in a loop.
fn alternated(budget: Duration, fs: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    for f in fs.iter_mut() {
        f(); // warm-up: pipelines, caches
    }
    let mut times = vec![Vec::new(); fs.len()];
    let start = Instant::now();
    let mut round = 0;
    while round < 3 || (start.elapsed() < budget && round < 50) {
        for k in 0..fs.len() {
            let i = (round + k) % fs.len();
            fs[i]();
            let t = Instant::now();
            fs[i]();
            times[i].push(t.elapsed().as_secs_f64());
        }
        round += 1;
    }
    times.into_iter().map(middle).collect()
}

/// The floor for per-call overhead: plain wgpu, buffers made once, each call
/// writes `input_len` floats, runs a one-line kernel over `output_len` floats,
/// copies them to a staging buffer and reads them back. Returns one call; the
/// buffers and the pipeline are made here, once.
fn bare_round_trip(ctx: &GpuContext, input_len: usize, output_len: usize) -> impl FnMut() + '_ {
    use conv2d_wgpu::wgpu;
    let device = ctx.device();
    let shader = "@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) i: vec3<u32>) {
    if i.x < arrayLength(&y) { y[i.x] = x[i.x % arrayLength(&x)] * 2.0; }
}";
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: None,
        source: wgpu::ShaderSource::Wgsl(shader.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: None,
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let buffer = |len: usize, usage| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: (len * 4) as u64,
            usage,
            mapped_at_creation: false,
        })
    };
    use wgpu::BufferUsages as U;
    let (x, y) = (
        buffer(input_len, U::STORAGE | U::COPY_DST),
        buffer(output_len, U::STORAGE | U::COPY_SRC),
    );
    let staging = buffer(output_len, U::MAP_READ | U::COPY_DST);
    let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: x.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: y.as_entire_binding(),
            },
        ],
    });
    let data = vec![1.0f32; input_len];
    move || {
        ctx.queue().write_buffer(&x, 0, bytemuck_cast(&data));
        let mut encoder = device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(output_len.div_ceil(64) as u32, 1, 1);
        }
        encoder.copy_buffer_to_buffer(&y, 0, &staging, 0, (output_len * 4) as u64);
        ctx.queue().submit([encoder.finish()]);
        staging
            .slice(..)
            .map_async(wgpu::MapMode::Read, |r| r.unwrap());
        device.poll(wgpu::PollType::wait_indefinitely()).unwrap();
        let values: Vec<f32> = staging
            .slice(..)
            .get_mapped_range()
            .unwrap()
            .chunks(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(values.len(), output_len);
        staging.unmap();
    }
}

fn bytemuck_cast(data: &[f32]) -> &[u8] {
    // SAFETY: f32 has no padding and any byte pattern of it is valid to read.
    unsafe { std::slice::from_raw_parts(data.as_ptr().cast(), std::mem::size_of_val(data)) }
}

struct Row {
    id: String,
    kernel: usize,
    mflop: f64,
    algorithm: Algorithm,
    resident: f64,
    naive: f64,
    end_to_end: f64,
    /// B1's: seconds of a bare wgpu round trip of its bytes, alternated
    /// with its host-to-host calls.
    bare_round_trip: Option<f64>,
    cpu_fast: f64,
    cpu_reference: Option<f64>,
    max_diff: f32,
    /// Device bytes of weights + bias, input and output in f32.
    bytes_f32: u64,
    half: Option<HalfRow>,
    tuning: TuningRow,
}

/// The heuristic against measurement, device-resident.
struct TuningRow {
    /// The heuristic's layer, alternated with the others.
    heuristic_gflops: f64,
    tuned: Algorithm,
    tuned_gflops: f64,
    /// The first call under `Tuning::Measure`: measuring every candidate.
    tuning_seconds: f64,
    /// Every algorithm that runs the shape, forced, fastest first.
    forced: Vec<(Algorithm, f64)>,
}

/// The same layer in `Precision::F16`.
struct HalfRow {
    algorithm: Algorithm,
    resident: f64,
    /// Host f32 in and out, converted to and from f16 on the host.
    end_to_end: f64,
    bytes: u64,
    /// Largest |f16 - CPU| / max |CPU|.
    max_rel_diff: f32,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let svg = args
        .iter()
        .position(|a| a == "--svg")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| "target/bench_table.svg".into());
    let budget = Duration::from_millis(if quick { 200 } else { 1000 });
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').map(String::from).collect());
    // `--algorithm direct` runs every shape with the direct kernel (the crate
    // before its fast kernels): the "before" of a before/after comparison.
    let forced = args
        .iter()
        .position(|a| a == "--algorithm")
        .and_then(|i| args.get(i + 1))
        .map(|name| {
            Algorithm::ALL
                .into_iter()
                .find(|a| format!("{a:?}").eq_ignore_ascii_case(name))
                .unwrap_or_else(|| panic!("unknown algorithm {name}; one of {:?}", Algorithm::ALL))
        });

    let ctx = GpuContext::new()?;
    let info = ctx.adapter_info();
    let adapter = format!("{} ({:?}, {})", info.name, info.backend, info.driver_info);
    eprintln!("adapter: {adapter}");

    let shapes: Vec<Shape> = shapes()
        .into_iter()
        .filter(|s| only.as_ref().is_none_or(|ids| ids.contains(&s.id)))
        .collect();
    // Progress on stderr: the sweep takes minutes on slow adapters.
    let progress = indicatif::ProgressBar::new(shapes.len() as u64).with_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} shapes, {elapsed} {msg}")
            .expect("a valid template"),
    );
    let mut rows = Vec::new();
    for s in shapes {
        progress.set_message(format!("{} {:?}", s.id, s.input));
        let x = filled(s.input, 1);
        let w = filled(s.weights_shape(), 2);
        let b = Array1::from_shape_fn(s.cout, |i| i as f32 / s.cout as f32 - 0.5);
        let mut conv = GpuConv2d::new(&ctx, w.view(), Some(b.view()), s.params)?;
        if let Some(algorithm) = forced {
            conv = conv.with_algorithm(algorithm)?;
        }
        let out = conv.output_shape(s.input)?;
        let flops =
            2.0 * (out.iter().product::<usize>() * s.kernel * s.kernel * w.shape()[2]) as f64;
        let gflops = |seconds: f64| flops / seconds / 1e9;

        let algorithm = conv.algorithm_for(s.input)?;
        let x_device = ctx.upload(x.view())?;
        let naive_conv = GpuConv2d::new(&ctx, w.view(), Some(b.view()), s.params)?
            .with_algorithm(Algorithm::Direct)?;
        // The speed-up's two terms alternate, turn by turn.
        let [resident, naive] = alternated(
            2 * budget,
            &mut [
                &mut || {
                    conv.forward_tensor(&x_device).unwrap();
                    ctx.wait().unwrap();
                },
                &mut || {
                    naive_conv.forward_tensor(&x_device).unwrap();
                    ctx.wait().unwrap();
                },
            ],
        )[..] else {
            unreachable!("two timings")
        };
        let mut y_gpu = None;
        let mut host_call = || y_gpu = Some(conv.forward(x.view()).unwrap());
        // B1's host-to-host call and a bare wgpu round trip of the same bytes
        // alternate turn by turn (llvmpipe sometimes runs a short dispatch on
        // one of its two threads for a while: both meet those stretches alike).
        let (end_to_end, bare) = if s.id == "B1" {
            let mut bare = bare_round_trip(&ctx, x.len(), out.iter().product());
            match alternated(2 * budget, &mut [&mut host_call, &mut bare])[..] {
                [call, bare] => (call, Some(bare)),
                _ => unreachable!("two timings"),
            }
        } else {
            (median(budget, host_call), None)
        };
        let mut y_cpu = None;
        let cpu_fast = median(budget, || {
            y_cpu = Some(conv2d_cpu_fast(x.view(), w.view(), Some(b.view()), s.params).unwrap())
        });
        let cpu_reference = (flops < 80e6).then(|| {
            median(budget, || {
                conv2d_cpu(x.view(), w.view(), Some(b.view()), s.params).unwrap();
            })
        });
        let (y_gpu, y_cpu) = (y_gpu.unwrap(), y_cpu.unwrap());
        let max_diff = (&y_gpu - &y_cpu).iter().fold(0.0f32, |m, d| m.max(d.abs()));
        let y_device = conv.forward_tensor(&x_device)?;
        let bytes_f32 = conv.weight_bytes() + x_device.device_bytes() + y_device.device_bytes();
        let tuning = tuning_row(&ctx, &s, &x_device, budget, &gflops)?;
        let half = if ctx.supports_f16() {
            let conv16 = conv.with_precision(Precision::F16)?;
            let x16 = ctx.upload_as(x.view(), DType::F16)?;
            let resident = median(budget, || {
                conv16.forward_tensor(&x16).unwrap();
                ctx.wait().unwrap();
            });
            let end_to_end = median(budget, || drop(conv16.forward(x.view()).unwrap()));
            let y16 = conv16.forward_tensor(&x16)?;
            let scale = y_cpu
                .iter()
                .fold(0.0f32, |m, v| m.max(v.abs()))
                .max(f32::MIN_POSITIVE);
            let max_rel_diff = (&y16.to_array()? - &y_cpu)
                .iter()
                .fold(0.0f32, |m, d| m.max(d.abs()))
                / scale;
            Some(HalfRow {
                algorithm: conv16.algorithm_for(s.input)?,
                resident: gflops(resident),
                end_to_end: gflops(end_to_end),
                bytes: conv16.weight_bytes() + x16.device_bytes() + y16.device_bytes(),
                max_rel_diff,
            })
        } else {
            None
        };
        rows.push(Row {
            id: s.id,
            kernel: s.kernel,
            mflop: flops / 1e6,
            algorithm,
            resident: gflops(resident),
            naive: gflops(naive),
            end_to_end: gflops(end_to_end),
            bare_round_trip: bare,
            cpu_fast: gflops(cpu_fast),
            cpu_reference: cpu_reference.map(gflops),
            max_diff,
            bytes_f32,
            half,
            tuning,
        });
        progress.inc(1);
    }
    progress.finish_and_clear();

    println!("Adapter: {adapter}\n");
    println!("| id | MFLOP | algorithm | GPU resident GFLOP/s | GPU resident ms | GPU naive GFLOP/s | speed-up | GPU end-to-end GFLOP/s | GPU end-to-end ms | CPU fast GFLOP/s | CPU fast ms | CPU reference GFLOP/s | max abs diff GPU vs CPU |");
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let reference = r.cpu_reference.map_or("-".into(), figure);
        println!(
            "| {} | {} | {:?} | {} | {} | {} | {:.1}x | {} | {} | {} | {} | {} | {:.1e} |",
            r.id,
            figure(r.mflop),
            r.algorithm,
            figure(r.resident),
            figure(r.mflop / r.resident),
            figure(r.naive),
            r.resident / r.naive,
            figure(r.end_to_end),
            figure(r.mflop / r.end_to_end),
            figure(r.cpu_fast),
            figure(r.mflop / r.cpu_fast),
            reference,
            r.max_diff
        );
    }
    let geomean = |f: &dyn Fn(&Row) -> f64| {
        let ids = ["B2", "B3", "B4", "B5", "B6", "B7", "B8", "B9", "B10"];
        let b: Vec<f64> = rows
            .iter()
            .filter(|r| ids.contains(&r.id.as_str()))
            .map(f)
            .collect();
        (b.iter().map(|v| v.ln()).sum::<f64>() / b.len() as f64).exp()
    };
    let (g_res, g_naive) = (geomean(&|r| r.resident), geomean(&|r| r.naive));
    println!(
        "\nGeomean B2-B10: GPU resident {:.2} GFLOP/s, naive {:.2} GFLOP/s ({:.1}x), GPU end-to-end {:.2}, CPU fast {:.1} GFLOP/s",
        g_res,
        g_naive,
        g_res / g_naive,
        geomean(&|r| r.end_to_end),
        geomean(&|r| r.cpu_fast)
    );
    half_table(&rows);
    tuning_table(&rows);
    if let Some((b1, bare)) = rows
        .iter()
        .find_map(|r| r.bare_round_trip.map(|bare| (r, bare)))
    {
        let call = b1.mflop * 1e6 / (b1.end_to_end * 1e9);
        println!(
            "B1 per call: conv2d-wgpu end-to-end {:.1} us; bare wgpu upload + dispatch + readback of the same bytes {:.1} us ({:.2}x; the two alternated in turns of two calls, the second timed)",
            call * 1e6,
            bare * 1e6,
            call / bare
        );
    }
    stack_vs_separate(&ctx, budget)?;
    let sweep: Vec<&Row> = rows
        .iter()
        .filter(|r| r.id.starts_with('k') || ["B7", "B8", "B9", "B10"].contains(&r.id.as_str()))
        .collect();
    plot(&svg, &adapter, &sweep)?;
    eprintln!("plot written to {svg}");
    Ok(())
}

/// A small network (3x3 3 -> 16, depthwise 3x3, 1x1 16 -> 8 on 1x64x64x3),
/// device-resident, per call to completion: as one `GpuSequential` submit into
/// a preallocated output, and as three `forward_tensor` calls.
fn stack_vs_separate(ctx: &GpuContext, budget: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let same = |groups, activation| Conv2dParams {
        padding: Padding::Same,
        groups,
        activation,
        ..Default::default()
    };
    let layer = |shape: [usize; 4], params| {
        GpuConv2d::new(ctx, filled(shape, shape[3]).view(), None, params)
    };
    let layers = vec![
        layer([3, 3, 3, 16], same(1, Activation::Relu))?,
        layer([3, 3, 1, 16], same(16, Activation::Relu6))?,
        layer([1, 1, 16, 8], same(1, Activation::Linear))?,
    ];
    let input = ctx.upload(&filled([1, 64, 64, 3], 7))?;
    let separate = median(budget, || {
        let a = layers[0].forward_tensor(&input).unwrap();
        let b = layers[1].forward_tensor(&a).unwrap();
        drop(layers[2].forward_tensor(&b).unwrap());
        ctx.wait().unwrap();
    });
    let stack = GpuSequential::new(layers)?;
    let output = ctx.zeros(stack.output_shape(input.shape())?)?;
    stack.forward_tensor_into(&input, &output)?; // first call: intermediates, bind groups
    let before = ctx.stats();
    let stacked = median(budget, || {
        stack.forward_tensor_into(&input, &output).unwrap();
        ctx.wait().unwrap();
    });
    let after = ctx.stats();
    println!(
        "3-layer stack on 1x64x64x3, per call: GpuSequential into a preallocated output {:.1} us \
         (1 submit); three forward_tensor calls {:.1} us (3 submits); {:.2}x. \
         Over {} stack calls after the first: {} buffers and {} bind groups created",
        stacked * 1e6,
        separate * 1e6,
        separate / stacked,
        after.submits - before.submits,
        after.buffers_created - before.buffers_created,
        after.bind_groups_created - before.bind_groups_created
    );
    Ok(())
}

/// Layers built for each candidate of a tuning row. Identical layers can run
/// at different speeds on llvmpipe, by up to ~1.5x in one process, for as
/// long as they live (where their buffers lie, not what they run): each
/// candidate's figure is its median layer's.
const INSTANCES: usize = 3;

/// The shape under `Tuning::Measure` (on the same context, switched for the
/// measurement and back), beside the heuristic's layers and every algorithm
/// forced, all alternated turn by turn.
fn tuning_row(
    ctx: &GpuContext,
    s: &Shape,
    x: &conv2d_wgpu::GpuTensor,
    budget: Duration,
    gflops: &dyn Fn(f64) -> f64,
) -> Result<TuningRow, Box<dyn std::error::Error>> {
    let w = filled(s.weights_shape(), 2);
    let layer = || GpuConv2d::new(ctx, w.view(), None, s.params);
    let instances = |make: &dyn Fn() -> Result<GpuConv2d, conv2d_wgpu::Conv2dError>| {
        (0..INSTANCES)
            .map(|_| make())
            .collect::<Result<Vec<_>, _>>()
    };
    // One output tensor for all: identical layers then differ only in their
    // weight buffers (on llvmpipe, which buffer a kernel writes moved its
    // time by up to ~13%).
    let output = ctx.zeros(layer()?.output_shape(s.input)?)?;
    let run = |conv: &GpuConv2d| {
        conv.forward_tensor_into(x, &output).unwrap();
        ctx.wait().unwrap();
    };
    ctx.set_tuning(Tuning::Measure);
    let tuned_layers = instances(&layer)?;
    let start = Instant::now();
    let tuned = tuned_layers[0].algorithm_for(s.input);
    let tuning_seconds = start.elapsed().as_secs_f64();
    // Each tuned layer plans its pass while measuring is on (the later ones
    // from the measurement just made), and keeps that plan.
    tuned_layers.iter().for_each(run);
    ctx.set_tuning(Tuning::Heuristic);
    let tuned = tuned?;
    let heuristic_layers = instances(&layer)?;
    let heuristic = heuristic_layers[0].algorithm_for(s.input)?;
    let mut candidates = vec![heuristic_layers, tuned_layers];
    let mut algorithms = Vec::new();
    for algorithm in Algorithm::ALL {
        let Ok(first) = layer()?.with_algorithm(algorithm) else {
            continue;
        };
        if first.forward_tensor(x).is_err() {
            continue; // e.g. Gemm on a shape that is not a matrix product
        }
        let mut forced = vec![first];
        for _ in 1..INSTANCES {
            forced.push(layer()?.with_algorithm(algorithm)?);
        }
        candidates.push(forced);
        algorithms.push(algorithm);
    }
    for (layers, expected) in candidates.iter().zip([heuristic, tuned]) {
        for conv in layers {
            assert_eq!(conv.algorithm_for(s.input)?, expected, "{}", s.id);
        }
    }
    // Forced algorithms over 3x slower than the fastest (the best of 3 timed
    // calls of their first layer) are timed apart, so that the close ones get
    // many rounds. The heuristic's and the tuned algorithm are always
    // alternated with the heuristic's and the tuned layers: one slow call
    // (llvmpipe sometimes runs a short dispatch on one of its two threads)
    // could send a forced layer identical to them to be timed apart, at
    // another moment (B9's forced implicit GEMM once measured 0.65x the same
    // heuristic layer).
    let quickest: Vec<f64> = candidates
        .iter()
        .map(|layers| {
            run(&layers[0]);
            (0..3)
                .map(|_| {
                    let start = Instant::now();
                    run(&layers[0]);
                    start.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    let fastest = quickest.iter().copied().fold(f64::INFINITY, f64::min);
    let (close, far): (Vec<usize>, Vec<usize>) = (0..candidates.len()).partition(|&i| {
        i < 2 || [heuristic, tuned].contains(&algorithms[i - 2]) || quickest[i] <= 3.0 * fastest
    });
    let mut seconds = vec![0.0; candidates.len()];
    // Every close candidate's layers, in order: INSTANCES timings each.
    let mut runs: Vec<Box<dyn FnMut()>> = close
        .iter()
        .flat_map(|&i| &candidates[i])
        .map(|conv| Box::new(move || run(conv)) as Box<dyn FnMut()>)
        .collect();
    let mut runs: Vec<&mut dyn FnMut()> = runs.iter_mut().map(|f| f.as_mut() as _).collect();
    let per_layer = alternated(budget * close.len() as u32, &mut runs);
    for (&i, layers) in close.iter().zip(per_layer.chunks(INSTANCES)) {
        seconds[i] = middle(layers.to_vec());
    }
    for i in far {
        let per_layer = candidates[i]
            .iter()
            .map(|conv| median(budget / INSTANCES as u32, || run(conv)))
            .collect();
        seconds[i] = middle(per_layer);
    }
    let mut forced: Vec<(Algorithm, f64)> = algorithms
        .into_iter()
        .zip(&seconds[2..])
        .map(|(a, t)| (a, gflops(*t)))
        .collect();
    forced.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(TuningRow {
        heuristic_gflops: gflops(seconds[0]),
        tuned,
        tuned_gflops: gflops(seconds[1]),
        tuning_seconds,
        forced,
    })
}

/// The heuristic's choice, the tuned choice and the best forced algorithm.
fn tuning_table(rows: &[Row]) {
    println!("\nHeuristic, Tuning::Measure and every algorithm forced (device-resident GFLOP/s, same run; {INSTANCES} layers each, the median layer's figure; the heuristic's and the tuned layers, the forced layers of their algorithms and those within 3x of the fastest alternated in turns of two calls, the second timed; the slower ones timed apart):\n");
    println!("| id | heuristic | GFLOP/s | tuned | GFLOP/s | tuning ms (first call) | best forced | GFLOP/s | tuned / best | tuned / heuristic | all forced |");
    println!("|---|---|---:|---|---:|---:|---|---:|---:|---:|---|");
    for r in rows {
        let t = &r.tuning;
        let (best, best_gflops) = t.forced[0];
        let all: Vec<String> = t
            .forced
            .iter()
            .map(|(a, g)| format!("{a:?} {}", figure(*g)))
            .collect();
        println!(
            "| {} | {:?} | {} | {:?} | {} | {} | {:?} | {} | {:.2} | {:.2} | {} |",
            r.id,
            r.algorithm,
            figure(t.heuristic_gflops),
            t.tuned,
            figure(t.tuned_gflops),
            figure(t.tuning_seconds * 1e3),
            best,
            figure(best_gflops),
            t.tuned_gflops / best_gflops,
            t.tuned_gflops / t.heuristic_gflops,
            all.join(", ")
        );
    }
}

/// f16 beside f32 per shape, when the adapter ran f16.
fn half_table(rows: &[Row]) {
    if rows.iter().all(|r| r.half.is_none()) {
        println!("\nf16: the adapter has no SHADER_F16, so Precision::F16 was not run.");
        return;
    }
    println!(
        "\nPrecision::F16 beside F32 (device-resident, and end-to-end from f32 host arrays, \
         which f16 converts on the host; device bytes = weights + bias, input, output):\n"
    );
    println!("| id | algorithm | f32 GFLOP/s | f16 GFLOP/s | f16 / f32 | f32 end-to-end GFLOP/s | f16 end-to-end GFLOP/s | f32 device KiB | f16 device KiB | f16 max diff / max abs output |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for r in rows {
        let Some(h) = &r.half else { continue };
        ratios.push(h.resident / r.resident);
        println!(
            "| {} | {:?} | {} | {} | {:.2}x | {} | {} | {} | {} | {:.1e} |",
            r.id,
            h.algorithm,
            figure(r.resident),
            figure(h.resident),
            h.resident / r.resident,
            figure(r.end_to_end),
            figure(h.end_to_end),
            figure(r.bytes_f32 as f64 / 1024.0),
            figure(h.bytes as f64 / 1024.0),
            h.max_rel_diff
        );
    }
    let geomean = (ratios.iter().map(|v| v.ln()).sum::<f64>() / ratios.len() as f64).exp();
    println!("\nGeomean f16 / f32 over these shapes: {geomean:.2}x");
}

/// Three significant digits, however small.
fn figure(v: f64) -> String {
    let decimals = (2 - v.abs().max(1e-9).log10().floor() as i32).clamp(0, 6) as usize;
    format!("{v:.decimals$}")
}

/// GFLOP/s against kernel size on 1x64x64x32 -> 32 (same padding), GPU and CPU.
fn plot(path: &str, adapter: &str, sweep: &[&Row]) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let top = sweep
        .iter()
        .flat_map(|r| [r.resident, r.naive, r.cpu_fast])
        .fold(1.0f64, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("Conv2D 1x64x64x32 -> 32, same padding, on {adapter}"),
            ("sans-serif", 16),
        )
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0usize..12usize, 0.0..top * 1.1)?;
    chart
        .configure_mesh()
        .x_desc("kernel size k (k x k)")
        .y_desc("GFLOP/s (median)")
        .draw()?;
    type Series = (&'static str, RGBColor, fn(&Row) -> f64);
    let series: [Series; 3] = [
        ("GPU, chosen algorithm (device-resident)", BLUE, |r| {
            r.resident
        }),
        ("GPU, naive direct kernel (device-resident)", RED, |r| {
            r.naive
        }),
        ("CPU fast path (im2col + gemm)", BLACK, |r| r.cpu_fast),
    ];
    for (label, color, value) in series {
        let points: Vec<(usize, f64)> = sweep.iter().map(|r| (r.kernel, value(r))).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 4, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    root.present()?;
    Ok(())
}
