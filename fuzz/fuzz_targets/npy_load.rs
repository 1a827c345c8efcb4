//! (b) `.npy` loading (feature `npy`): any bytes give weights or an `Err`
//! naming what was wrong, never a panic; what loads has rank 4.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match conv2d_wgpu::npy_weights_from_bytes(data) {
        Ok(w) => assert_eq!(w.ndim(), 4),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
