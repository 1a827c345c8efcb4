//! A layer's forward passes prepared per input shape, a few shapes at a time
//! (least recently used goes first), so that a caller alternating between
//! image sizes or batch sizes plans and binds each shape once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::conv::encode::{BoundDispatch, Dispatch};
use crate::conv::plan::Plan;
use crate::semantics::error::Result;

/// Input shapes each layer keeps prepared.
pub(crate) const SHAPES_PER_LAYER: usize = 4;

/// A forward pass prepared for one input shape.
pub(crate) struct Prepared {
    pub input_shape: [usize; 4],
    pub plan: Plan,
    /// Uniform blocks and grids, for any buffers.
    pub dispatches: Vec<Dispatch>,
    /// The host form's buffers and bind groups, made on its first call.
    pub host: Mutex<Option<HostBuffers>>,
    /// Bind groups over device tensors' buffers, most recent first.
    pub bound: Mutex<VecDeque<BoundPair>>,
}

/// Bind groups of one (input, output) buffer pair.
pub(crate) struct BoundPair {
    input: wgpu::Buffer,
    output: wgpu::Buffer,
    work: Arc<Vec<BoundDispatch>>,
}

/// Buffer pairs each prepared shape keeps bound (a stack's ping-pong pair, an
/// application's own buffers), so repeated calls on them create nothing.
pub(crate) const PAIRS_PER_SHAPE: usize = 4;

impl Prepared {
    /// The bind groups over `input` and `output`, made by `bind` when new.
    pub fn bound(
        &self,
        input: &wgpu::Buffer,
        output: &wgpu::Buffer,
        bind: impl FnOnce() -> Result<Vec<BoundDispatch>>,
    ) -> Result<Arc<Vec<BoundDispatch>>> {
        let mut pairs = self.bound.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = pairs
            .iter()
            .position(|p| &p.input == input && &p.output == output)
        {
            let hit = pairs.remove(i).expect("the position is in range");
            let work = hit.work.clone();
            pairs.push_front(hit);
            return Ok(work);
        }
        let work = Arc::new(bind()?);
        pairs.push_front(BoundPair {
            input: input.clone(),
            output: output.clone(),
            work: work.clone(),
        });
        pairs.truncate(PAIRS_PER_SHAPE);
        Ok(work)
    }
}

/// Buffers and bind groups of the host-to-host forward pass for one shape: a
/// repeated call only writes the input, dispatches, and reads back.
pub(crate) struct HostBuffers {
    pub input: wgpu::Buffer,
    pub output: wgpu::Buffer,
    pub staging: wgpu::Buffer,
    pub output_bytes: u64,
    pub work: Vec<BoundDispatch>,
}

/// The prepared shapes of one layer.
#[derive(Default)]
pub(crate) struct ShapeCache {
    /// Most recently used first, at most `SHAPES_PER_LAYER`.
    entries: Mutex<VecDeque<Arc<Prepared>>>,
    plans_built: AtomicU64,
}

impl ShapeCache {
    /// The prepared pass for `shape`, made by `prepare` when it is not cached.
    pub fn get_or_prepare(
        &self,
        shape: [usize; 4],
        prepare: impl FnOnce() -> Result<Prepared>,
    ) -> Result<Arc<Prepared>> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = entries.iter().position(|p| p.input_shape == shape) {
            let hit = entries.remove(i).expect("the position is in range");
            entries.push_front(hit.clone());
            return Ok(hit);
        }
        let prepared = Arc::new(prepare()?);
        self.plans_built.fetch_add(1, Ordering::Relaxed);
        entries.push_front(prepared.clone());
        entries.truncate(SHAPES_PER_LAYER);
        Ok(prepared)
    }

    /// The prepared pass for `shape` if it is cached (its use order unchanged).
    pub fn get(&self, shape: [usize; 4]) -> Option<Arc<Prepared>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.iter().find(|p| p.input_shape == shape).cloned()
    }

    /// Passes planned so far (one per shape while it stays cached).
    pub fn plans_built(&self) -> u64 {
        self.plans_built.load(Ordering::Relaxed)
    }

    /// Input shapes cached now, most recent first.
    pub fn shapes(&self) -> Vec<[usize; 4]> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.iter().map(|p| p.input_shape).collect()
    }
}
