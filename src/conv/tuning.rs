//! Autotuning: under `Tuning::Measure`, the algorithm for a layer and input
//! shape is the fastest of those that can run it, timed on the context's own
//! adapter and kept in its tuning cache (`runtime::tuning`), keyed by what
//! the choice depends on.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::conv::choice::{self, DeviceCaps, LayerFacts};
use crate::conv::encode;
use crate::conv::plan::Plan;
use crate::conv::weights::LayerWeights;
use crate::runtime::context::GpuContext;
use crate::runtime::limits::check_buffer;
use crate::runtime::tuning::{TunedEntry, Tuning};
use crate::semantics::algorithm::Algorithm;
use crate::semantics::error::{Conv2dError, Result};

/// Timed rounds: each candidate runs once per round (after one warm-up run).
const RUNS: usize = 5;
/// A candidate whose warm-up run is slower than this many times the fastest
/// warm-up so far is dropped after it.
const DROP_FACTOR: f64 = 2.0;

/// The cache key of a layer on an input shape: everything the choice and the
/// kernels' speed depend on.
fn key(facts: &LayerFacts, input: [usize; 4]) -> String {
    let layer = facts.layer;
    format!(
        "input {input:?} weights {:?} params {:?} dtype {} chunks {}",
        layer.weights, layer.params, facts.dtype, facts.weight_chunks
    )
}

/// The algorithm measured fastest for `facts` on `input`, measuring it now
/// when it is not cached; `None` when tuning is off or an algorithm is forced.
pub(crate) fn tuned_algorithm(
    ctx: &GpuContext,
    facts: LayerFacts,
    weights: &LayerWeights,
    leaky_slope: f32,
    input: [usize; 4],
) -> Result<Option<Algorithm>> {
    if facts.forced.is_some() || ctx.tuning() != Tuning::Measure {
        return Ok(None);
    }
    let store = &ctx.inner.tuning;
    let key = key(&facts, input);
    #[cfg(target_arch = "wasm32")]
    if store.get(&key).is_none() {
        // Timing waits for the device, which the web does not allow.
        return Err(Conv2dError::Blocking {
            call: "measuring a layer (Tuning::Measure)",
            instead: "Tuning::Heuristic (measuring needs blocking waits)",
        });
    }
    if let Some(entry) = store.get(&key) {
        if let Some(known) = Algorithm::ALL
            .into_iter()
            .find(|a| format!("{a:?}") == entry.algorithm)
        {
            return Ok(Some(known));
        }
        // A name this version does not know (a cache from another version): measure.
    }
    let geometry = facts.layer.geometry(input)?;
    let caps = DeviceCaps::of(ctx);
    crate::trace::span!("conv2d.tune", input = ?input);
    // The heuristic's choice first, so that slow candidates are dropped early.
    let heuristic = choice::choose(facts, &geometry, caps)?.algorithm;
    let mut candidates = Vec::new();
    for algorithm in
        std::iter::once(heuristic).chain(Algorithm::ALL.into_iter().filter(|a| *a != heuristic))
    {
        let candidate = LayerFacts {
            forced: Some(algorithm),
            ..facts
        };
        if choice::choose(candidate, &geometry, caps).is_err() {
            continue;
        }
        match Plan::new(ctx, candidate, &weights.chunk_widths(), input) {
            Ok(plan) => candidates.push((algorithm, plan)),
            // A kernel this device cannot compile is not a candidate.
            Err(
                Conv2dError::WorkgroupTooLarge { .. } | Conv2dError::WorkgroupMemoryTooLarge { .. },
            ) => continue,
            Err(e) => return Err(e),
        }
    }
    if candidates.is_empty() {
        return Ok(None);
    }
    let timings = time_interleaved(ctx, &candidates, weights, leaky_slope, input)?;
    let mut medians = BTreeMap::new();
    let mut dropped = BTreeMap::new();
    let mut best: Option<(Algorithm, f64)> = None;
    for ((algorithm, _), timing) in candidates.iter().zip(timings) {
        match timing {
            Timing::Median(median) => {
                medians.insert(format!("{algorithm:?}"), median * 1e6);
                if best.is_none_or(|(_, fastest)| median < fastest) {
                    best = Some((*algorithm, median));
                }
            }
            Timing::Dropped(warm_up) => {
                dropped.insert(format!("{algorithm:?}"), warm_up * 1e6);
            }
        }
    }
    let Some((algorithm, _)) = best else {
        return Ok(None);
    };
    store.insert(
        key,
        TunedEntry {
            algorithm: format!("{algorithm:?}"),
            median_us: medians,
            dropped_after_warm_up_us: dropped,
        },
    )?;
    Ok(Some(algorithm))
}

/// What timing a candidate found, in seconds.
enum Timing {
    Median(f64),
    /// Its warm-up run alone was over `DROP_FACTOR` times the fastest warm-up.
    Dropped(f64),
}

/// Times every candidate plan on one pair of zero-filled input and output
/// buffers. One warm-up run each, in order (a candidate whose warm-up is over
/// `DROP_FACTOR` times the fastest warm-up so far is dropped after it); then
/// `RUNS` rounds that run each remaining candidate once, the order rotating
/// from round to round, so that the machine's drift (clocks, other load)
/// falls on all candidates alike; each keeps the median of its rounds. A run
/// is the GPU time between timestamps at the start and end of its compute
/// pass where the device has `TIMESTAMP_QUERY`, else the wall time of
/// submitting it and waiting.
fn time_interleaved(
    ctx: &GpuContext,
    candidates: &[(Algorithm, Plan)],
    weights: &LayerWeights,
    leaky_slope: f32,
    input: [usize; 4],
) -> Result<Vec<Timing>> {
    let limits = ctx.limits();
    let first = &candidates[0].1;
    let input_bytes = check_buffer("input", &input, first.dtype, limits)?;
    let output_bytes = check_buffer("output", &first.output_shape, first.dtype, limits)?;
    let works = ctx.capture("preparing tuning runs", || {
        let x = ctx.new_tensor_buffer("conv2d tuning input", input_bytes);
        let y = ctx.new_tensor_buffer("conv2d tuning output", output_bytes);
        candidates
            .iter()
            .map(|(_, plan)| {
                let dispatches = encode::dispatches(ctx, plan, weights, leaky_slope)?;
                encode::bind(ctx, weights, &x, &y, &dispatches)
            })
            .collect::<Result<Vec<_>>>()
    })?;
    let timestamps = ctx
        .device()
        .features()
        .contains(wgpu::Features::TIMESTAMP_QUERY)
        .then(|| Timestamps::new(ctx))
        .transpose()?;
    let run = |work: &[encode::BoundDispatch]| -> Result<f64> {
        let start = Instant::now();
        ctx.capture("timing a conv2d", || {
            let mut encoder = ctx.device().create_command_encoder(&Default::default());
            let queries = timestamps.as_ref().map(|t| &t.queries);
            encode::record_timed(&mut encoder, work, queries);
            if let Some(t) = &timestamps {
                t.resolve(&mut encoder);
            }
            ctx.submit(encoder.finish());
            Ok(())
        })?;
        match &timestamps {
            Some(t) => t.seconds(ctx),
            None => {
                ctx.wait()?;
                Ok(start.elapsed().as_secs_f64())
            }
        }
    };
    let mut fastest_warm_up = f64::INFINITY;
    let mut dropped = Vec::with_capacity(works.len());
    for work in &works {
        let warm_up = run(work)?;
        let drop = warm_up > DROP_FACTOR * fastest_warm_up;
        fastest_warm_up = fastest_warm_up.min(warm_up);
        dropped.push(drop.then_some(warm_up));
    }
    let timed: Vec<usize> = (0..works.len()).filter(|&i| dropped[i].is_none()).collect();
    let mut times = vec![Vec::with_capacity(RUNS); works.len()];
    for round in 0..RUNS {
        for k in 0..timed.len() {
            let i = timed[(round + k) % timed.len()];
            times[i].push(run(&works[i])?);
        }
    }
    Ok(dropped
        .into_iter()
        .zip(times)
        .map(|(dropped, mut times)| match dropped {
            Some(warm_up) => Timing::Dropped(warm_up),
            None => {
                times.sort_by(f64::total_cmp);
                Timing::Median(times[times.len() / 2])
            }
        })
        .collect())
}

/// Two timestamps per run, resolved and read back.
struct Timestamps {
    queries: wgpu::QuerySet,
    resolved: wgpu::Buffer,
    staging: wgpu::Buffer,
}

impl Timestamps {
    fn new(ctx: &GpuContext) -> Result<Self> {
        ctx.capture("creating timestamp queries", || {
            let queries = ctx.device().create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("conv2d tuning"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            });
            let buffer = |usage| {
                ctx.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("conv2d tuning timestamps"),
                    size: 16,
                    usage,
                    mapped_at_creation: false,
                })
            };
            Ok(Timestamps {
                queries,
                resolved: buffer(wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC),
                staging: buffer(wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST),
            })
        })
    }

    fn resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        encoder.resolve_query_set(&self.queries, 0..2, &self.resolved, 0);
        encoder.copy_buffer_to_buffer(&self.resolved, 0, &self.staging, 0, 16);
    }

    /// Waits for the run and returns the time between its two timestamps.
    fn seconds(&self, ctx: &GpuContext) -> Result<f64> {
        let ticks = ctx.read_back_with(&self.staging, |bytes| {
            let at =
                |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
            at(1).saturating_sub(at(0))
        })?;
        Ok(ticks as f64 * f64::from(ctx.queue().get_timestamp_period()) * 1e-9)
    }
}
