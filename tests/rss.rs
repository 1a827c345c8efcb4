//! Memory over many calls: the resident set of the process stays flat over
//! 20,000 host and 20,000 device-resident forward passes.
//!
//! In a test binary of its own: RSS is the whole process's, so tests running
//! beside it would count. (On SwiftShader, whose pipeline compiles once took
//! minutes, the other tests of the binary overlapped the measurement and
//! looked like a 128 MiB leak; alone, and in a bare-wgpu loop
//! (`examples/rss_probe.rs`), the growth was 0.)

mod common;

use common::random4;
use conv2d_wgpu::{Activation, Conv2dParams, GpuConv2d, Padding};

/// Resident set size in KiB, from /proc (Linux only).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Calls per form in the RSS test, after as many again to warm up.
const RSS_CALLS: u64 = 20_000;
/// Growth allowed per call: far below any per-call leak (a leaked 1x8x8x4
/// output alone is 1 KiB), above page-granular allocator noise over the run.
const RSS_BYTES_PER_CALL: u64 = 16;

/// RSS growth in bytes over `RSS_CALLS` calls of `call` (after a warm-up).
fn rss_growth(mut call: impl FnMut(u64)) -> Option<i64> {
    for i in 0..RSS_CALLS {
        call(i); // warm caches and allocator pools
    }
    let start = rss_kib()?;
    for i in 0..RSS_CALLS {
        call(i);
    }
    let end = rss_kib()?;
    Some((end as i64 - start as i64) * 1024)
}

#[test]
fn twenty_thousand_forwards_leave_rss_flat() {
    let Some(ctx) = common::gpu() else { return };
    let w = random4([3, 3, 4, 4], 1);
    let params = Conv2dParams {
        padding: Padding::Same,
        activation: Activation::Relu,
        ..Default::default()
    };
    let conv = GpuConv2d::new(ctx, w.view(), None, params).unwrap();
    let x = random4([1, 8, 8, 4], 2);
    let limit = (RSS_CALLS * RSS_BYTES_PER_CALL) as i64;

    let Some(host) = rss_growth(|_| drop(conv.forward(x.view()).unwrap())) else {
        return; // no /proc
    };
    eprintln!("host forward: RSS grew {host} bytes over {RSS_CALLS} calls");
    assert!(
        host <= limit,
        "host forward: RSS grew {host} bytes over {RSS_CALLS} calls"
    );

    let input = ctx.upload(x.view()).unwrap();
    let resident = rss_growth(|i| {
        drop(conv.forward_tensor(&input).unwrap());
        if i % 100 == 99 {
            ctx.wait().unwrap(); // let finished submissions release their resources
        }
    })
    .unwrap();
    eprintln!("forward_tensor: RSS grew {resident} bytes over {RSS_CALLS} calls");
    assert!(
        resident <= limit,
        "forward_tensor: RSS grew {resident} bytes over {RSS_CALLS} calls"
    );
}
