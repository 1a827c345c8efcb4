//! A real tensor above a 128 MiB storage-binding limit (llvmpipe's and wgpu's
//! default; a device with larger bindings is adopted with its limit lowered to
//! that, as `tests/split.rs` does), split by the planner and checked against the
//! CPU reference. Ignored by
//! default (it needs ~1 GiB of memory and tens of seconds on llvmpipe); run with
//! `cargo test --release --test large -- --ignored --nocapture`.

mod common;

use common::{assert_matches_reference, gpu_with_limits, random1, random4};
use conv2d_wgpu::{Activation, Conv2dParams, GpuConv2d, Padding};

#[test]
#[ignore = "large: ~150 MiB input, run explicitly"]
fn an_input_above_the_binding_limit_matches_the_cpu() {
    // cin 9: the scalar-input implicit GEMM, in row bands.
    check_large([1, 2048, 2048, 9], 4);
}

#[test]
#[ignore = "large: ~130 MiB input, run explicitly"]
fn a_vec4_input_above_the_binding_limit_matches_the_cpu() {
    // cin 8: the vec4 (or subgroup) implicit GEMM, its row bands bound at vec4-aligned offsets.
    check_large([1, 2048, 2100, 8], 8);
}

/// The binding limit the test splits against.
const BINDING_LIMIT: u64 = 128 << 20;

fn check_large(input: [usize; 4], cout: usize) {
    let Some(ctx) = gpu_with_limits(|l| {
        l.max_storage_buffer_binding_size = l.max_storage_buffer_binding_size.min(BINDING_LIMIT)
    }) else {
        return;
    };
    let ctx = &ctx;
    let limit = ctx.limits().max_storage_buffer_binding_size;
    let bytes = input.iter().product::<usize>() as u64 * 4;
    assert!(
        bytes > limit,
        "the input must exceed the binding limit ({bytes} <= {limit})"
    );
    let x = random4(input, 1);
    let w = random4([3, 3, input[3], cout], 2);
    let b = random1(cout, 3);
    let p = Conv2dParams {
        padding: Padding::Same,
        activation: Activation::Relu,
        ..Default::default()
    };
    let conv = GpuConv2d::new(ctx, w.view(), Some(b.view()), p).unwrap();
    let start = std::time::Instant::now();
    let y = conv.forward(x.view()).unwrap();
    eprintln!(
        "input {input:?} = {:.1} MiB (binding limit {:.1} MiB), {:?}: GPU forward in {:.2?}",
        bytes as f64 / (1 << 20) as f64,
        limit as f64 / (1 << 20) as f64,
        conv.algorithm_for(input).unwrap(),
        start.elapsed()
    );
    assert_matches_reference(&y, x.view(), w.view(), Some(b.view()), p, "large input");
}
