//! No adapter: `GpuContext::new` returns `Err` with wgpu's message (or the list
//! of adapters), never a panic. Its own test binary, since it sets environment
//! variables for the whole process.

use conv2d_wgpu::{Conv2dError, GpuContext};

#[test]
fn unmatched_adapter_name_and_missing_backend_are_errors() {
    // SAFETY (edition 2021 allows it; the reason stands): this binary has one test,
    // so no other thread reads the environment meanwhile.
    std::env::set_var("WGPU_ADAPTER_NAME", "no-such-adapter-anywhere");
    let e = GpuContext::new().unwrap_err();
    assert!(matches!(e, Conv2dError::NoAdapter(_)), "{e}");
    assert!(e.to_string().contains("no-such-adapter-anywhere"), "{e}");
    std::env::remove_var("WGPU_ADAPTER_NAME");

    // This crate is built without wgpu's `metal` and `dx12` on Linux: no adapter there.
    if cfg!(target_os = "linux") {
        std::env::set_var("WGPU_BACKEND", "metal");
        let e = GpuContext::new().unwrap_err();
        assert!(matches!(e, Conv2dError::NoAdapter(_)), "{e}");
        assert!(e.to_string().contains("METAL"), "{e}");
    }
}
