//! Each layer keeps its last few input shapes prepared (plan, uniform blocks,
//! host buffers, bind groups): alternating between shapes builds each once.

mod common;

use common::{assert_matches_reference, random4};
use conv2d_wgpu::{Algorithm, Conv2dParams, GpuContext, GpuConv2d, Padding};

#[test]
fn alternating_two_shapes_builds_each_once() {
    let Some(_) = common::gpu() else { return };
    let ctx = GpuContext::new().unwrap(); // its own, so other tests' work is not counted
    let w = random4([3, 3, 4, 8], 1);
    let p = Conv2dParams {
        padding: Padding::Same,
        ..Default::default()
    };
    let conv = GpuConv2d::new(&ctx, w.view(), None, p).unwrap();
    let inputs = [random4([1, 16, 16, 4], 2), random4([8, 12, 10, 4], 3)];

    let before = ctx.stats();
    for x in &inputs {
        let y = conv.forward(x.view()).unwrap();
        assert_matches_reference(&y, x.view(), w.view(), None, p, "first call");
    }
    let warm = ctx.stats();
    for call in 0..100 {
        let x = &inputs[call % 2];
        let y = conv.forward(x.view()).unwrap();
        if call < 4 {
            assert_matches_reference(&y, x.view(), w.view(), None, p, "cached shape");
        }
    }
    let after = ctx.stats();
    let built = |s: conv2d_wgpu::ContextStats| (s.buffers_created, s.bind_groups_created);
    eprintln!(
        "plans built: {}; buffers, bind groups built by the first two calls: {:?}, \
         by the next 100 alternating calls: {:?}; submits {}",
        conv.plans_built(),
        (
            warm.buffers_created - before.buffers_created,
            warm.bind_groups_created - before.bind_groups_created
        ),
        (
            after.buffers_created - warm.buffers_created,
            after.bind_groups_created - warm.bind_groups_created
        ),
        after.submits - warm.submits,
    );
    assert_eq!(conv.plans_built(), 2, "one plan per shape");
    assert!(warm.buffers_created > before.buffers_created);
    assert!(warm.bind_groups_created > before.bind_groups_created);
    assert_eq!(
        built(after),
        built(warm),
        "no buffers or bind groups after the first calls"
    );
    assert_eq!(after.submits - warm.submits, 100);
}

#[test]
fn the_cache_is_bounded_and_evicts_the_least_recent_shape() {
    let Some(_) = common::gpu() else { return };
    let ctx = GpuContext::new().unwrap();
    let w = random4([1, 1, 4, 4], 1);
    let conv = GpuConv2d::new(&ctx, w.view(), None, Conv2dParams::default()).unwrap();
    let shapes: Vec<[usize; 4]> = (1..=5).map(|h| [1, h, 3, 4]).collect();
    for (i, shape) in shapes.iter().enumerate() {
        conv.forward(random4(*shape, i as u64).view()).unwrap();
    }
    assert_eq!(conv.plans_built(), 5);
    // The four most recent shapes are still prepared; the first was evicted.
    for shape in &shapes[1..] {
        conv.forward(random4(*shape, 9).view()).unwrap();
    }
    assert_eq!(conv.plans_built(), 5);
    conv.forward(random4(shapes[0], 9).view()).unwrap();
    assert_eq!(conv.plans_built(), 6);
    let listed = format!("{conv:?}");
    assert!(listed.contains("cached_shapes"), "{listed}");
}

#[test]
fn winograd_weights_are_transformed_in_new_where_the_heuristic_runs_winograd() {
    let Some(_) = common::gpu() else { return };
    let ctx = GpuContext::new().unwrap(); // its own, so other tests' work is not counted
    let w = random4([3, 3, 64, 64], 4);
    let p = Conv2dParams {
        padding: Padding::Same,
        ..Default::default()
    };
    let before = ctx.stats();
    let conv = GpuConv2d::new(&ctx, w.view(), None, p).unwrap();
    let in_new = ctx.stats().submits - before.submits;
    let input = [1, 12, 12, 64];
    if conv.algorithm_for(input).unwrap() != Algorithm::Winograd {
        // A GPU or SwiftShader: nothing transformed, nothing submitted.
        assert_eq!(in_new, 0);
        return;
    }
    assert!(
        in_new >= 1,
        "the weight transform (and texture copies), in new: {in_new} submits"
    );
    let x = random4(input, 5);
    let x_device = ctx.upload(x.view()).unwrap();
    let before = ctx.stats();
    conv.forward_tensor(&x_device).unwrap();
    assert_eq!(
        ctx.stats().submits - before.submits,
        1,
        "the first forward pass transforms nothing"
    );
    let y = conv.forward(x.view()).unwrap();
    assert_matches_reference(&y, x.view(), w.view(), None, p, "Winograd");
}
