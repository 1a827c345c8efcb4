//! (c) GPU forward against the CPU reference on small shapes: every layer the
//! reference accepts runs on the GPU (with an algorithm forced from the bytes,
//! or the heuristic's) and equals the reference within the tolerance; every
//! layer it refuses, the GPU refuses too. Needs an adapter (llvmpipe is one).
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use conv2d_wgpu::{conv2d_cpu, Algorithm, Conv2dError, GpuContext, GpuConv2d};
use conv2d_wgpu_fuzz::{assert_close, Case, MAX_OUTPUT};
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fn ctx() -> &'static GpuContext {
    static CTX: OnceLock<GpuContext> = OnceLock::new();
    CTX.get_or_init(|| GpuContext::new().expect("the GPU target needs a wgpu adapter"))
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok((case, _)) = Case::decode(&mut u, 10) else {
        return;
    };
    let forced = u.choose(&[
        None,
        Some(Algorithm::Direct),
        Some(Algorithm::ImplicitGemm),
        Some(Algorithm::Gemm),
        Some(Algorithm::Depthwise),
        Some(Algorithm::TiledGemm),
        Some(Algorithm::Winograd),
    ]);
    let Ok(forced) = forced.copied() else { return };
    let (x, w, b, p) = (
        case.input.view(),
        case.weights.view(),
        case.bias_view(),
        case.params,
    );
    if x.is_empty() || w.is_empty() {
        return; // shapes too large to make, or zero-sized: the CPU target covers them
    }
    let reference = conv2d_cpu(x, w, b, p);
    if reference.as_ref().is_ok_and(|y| y.len() > MAX_OUTPUT) {
        return;
    }
    let gpu = GpuConv2d::new(ctx(), w, b, p).and_then(|conv| match forced {
        Some(a) => conv.with_algorithm(a),
        None => Ok(conv),
    });
    let gpu = gpu.and_then(|conv| conv.forward(x));
    match (&reference, gpu) {
        (Ok(_), Ok(y)) => {
            assert_close(&y, x, w, b, p, &format!("{forced:?}"));
            // Evidence of work done: executions that ran a GPU forward.
            static COMPARED: AtomicU64 = AtomicU64::new(0);
            let n = COMPARED.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() || n % 1000 == 0 {
                eprintln!("gpu_forward: {n} GPU forwards compared with the CPU reference");
            }
        }
        (_, Err(Conv2dError::UnsupportedAlgorithm { .. })) => {}
        (Err(r), Err(g)) => assert_eq!(r.to_string(), g.to_string()),
        (r, g) => panic!(
            "reference {:?} but GPU {:?}",
            r.as_ref().map(|_| ()),
            g.map(|_| ())
        ),
    }
});
