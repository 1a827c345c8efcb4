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
/// Candidates whose median is within this factor of the fastest one's after
/// `RUNS` rounds are close enough for noise to swap them ...
const CLOSE_FACTOR: f64 = 1.1;
/// ... and run this many more rounds among themselves before one is kept.
const CLOSE_RUNS: usize = 10;
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
/// falls on all candidates alike; then, if more than one candidate is within
/// `CLOSE_FACTOR` of the fastest median, `CLOSE_RUNS` more rounds of those
/// alone. Each keeps the median of its rounds. A run
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
    let mut times = vec![Vec::with_capacity(RUNS + CLOSE_RUNS); works.len()];
    let rounds = |times: &mut Vec<Vec<f64>>, among: &[usize], count: usize| -> Result<()> {
        for round in 0..count {
            for k in 0..among.len() {
                let i = among[(round + k) % among.len()];
                times[i].push(run(&works[i])?);
            }
        }
        Ok(())
    };
    rounds(&mut times, &timed, RUNS)?;
    let close = close_to_fastest(&times, &timed);
    if close.len() > 1 {
        rounds(&mut times, &close, CLOSE_RUNS)?;
    }
    Ok(dropped
        .into_iter()
        .zip(times)
        .map(|(dropped, times)| match dropped {
            Some(warm_up) => Timing::Dropped(warm_up),
            None => Timing::Median(median(times)),
        })
        .collect())
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The candidates of `timed` whose median is within `CLOSE_FACTOR` of the
/// fastest median.
fn close_to_fastest(times: &[Vec<f64>], timed: &[usize]) -> Vec<usize> {
    let medians: Vec<f64> = timed.iter().map(|&i| median(times[i].clone())).collect();
    let fastest = medians.iter().copied().fold(f64::INFINITY, f64::min);
    timed
        .iter()
        .zip(medians)
        .filter(|(_, m)| *m <= CLOSE_FACTOR * fastest)
        .map(|(&i, _)| i)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_candidates_near_the_fastest_median_run_the_extra_rounds() {
        let times = vec![
            vec![1.0, 9.0, 1.0],  // median 1.0, the fastest
            vec![1.1, 1.0, 1.09], // 1.09: close
            vec![1.2, 1.2, 1.2],  // 1.2: not close
            vec![5.0],            // dropped: not among the timed
        ];
        assert_eq!(close_to_fastest(&times, &[0, 1, 2]), vec![0, 1]);
        assert_eq!(close_to_fastest(&times, &[2]), vec![2]);
        assert_eq!(close_to_fastest(&times, &[1, 2]), vec![1]); // 1.2 > 1.1 x 1.09
    }
}
