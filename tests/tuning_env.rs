//! `CONV2D_WGPU_TUNING` and `CONV2D_WGPU_TUNING_CACHE`, read by
//! `GpuContext::new`. One test in its own binary: it sets process-wide
//! environment variables.

mod common;

use conv2d_wgpu::{Conv2dError, Conv2dParams, GpuContext, GpuConv2d, Tuning};

#[test]
fn the_environment_turns_tuning_on_and_persists_it() {
    if common::gpu().is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("conv2d-wgpu-tuning-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cache.json");
    let _ = std::fs::remove_file(&path);
    std::env::set_var("CONV2D_WGPU_TUNING", "measure");
    std::env::set_var("CONV2D_WGPU_TUNING_CACHE", &path);
    let w = common::random4([3, 3, 4, 8], 1);
    let layer =
        |ctx: &GpuContext| GpuConv2d::new(ctx, w.view(), None, Conv2dParams::default()).unwrap();

    let ctx = GpuContext::new().unwrap();
    assert_eq!(ctx.tuning(), Tuning::Measure);
    eprintln!("{ctx}"); // says whether candidates are timed by timestamp queries
    let tuned = layer(&ctx).algorithm_for([1, 20, 20, 4]).unwrap();
    assert!(path.exists(), "saved as it learns");
    assert_eq!(ctx.tuning_stats().measured, 1);

    // A new process (here: a new context) starts from the file.
    let next = GpuContext::new().unwrap();
    assert_eq!(next.tuning_stats().entries, 1);
    assert_eq!(layer(&next).algorithm_for([1, 20, 20, 4]).unwrap(), tuned);
    assert_eq!(next.tuning_stats().measured, 0);

    // A corrupt cache file is an error from GpuContext::new, naming it.
    std::fs::write(&path, "{ \"format\": ").unwrap();
    let e = GpuContext::new().unwrap_err();
    assert!(
        matches!(e, Conv2dError::TuningCache { .. }) && e.to_string().contains("cache.json"),
        "{e}"
    );
    std::env::remove_var("CONV2D_WGPU_TUNING_CACHE");

    // An unknown mode is an error; unset is the heuristic.
    std::env::set_var("CONV2D_WGPU_TUNING", "fastest");
    let e = GpuContext::new().unwrap_err();
    assert!(e.to_string().contains("CONV2D_WGPU_TUNING"), "{e}");
    std::env::remove_var("CONV2D_WGPU_TUNING");
    assert_eq!(GpuContext::new().unwrap().tuning(), Tuning::Heuristic);
}
