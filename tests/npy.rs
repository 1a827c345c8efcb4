//! Weights from `.npy` files (feature `npy`): the format `numpy.save` writes.
//! The files are written here with ndarray-npy, so nothing is downloaded.
#![cfg(feature = "npy")]

mod common;

use std::path::PathBuf;

use common::{assert_matches_reference, random1, random4};
use conv2d_wgpu::{Conv2dError, Conv2dParams, GpuConv2d, Padding};
use ndarray::{Array1, Array3, Array4};
use ndarray_npy::write_npy;

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("conv2d-wgpu-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn a_layer_loads_from_npy_and_matches_the_cpu() {
    let Some(ctx) = common::gpu() else { return };
    let (w, b) = (random4([3, 3, 4, 6], 1), random1(6, 2));
    let (w_path, b_path) = (temp("w.npy"), temp("b.npy"));
    write_npy(&w_path, &w).unwrap();
    write_npy(&b_path, &b).unwrap();
    let p = Conv2dParams {
        padding: Padding::Same,
        ..Default::default()
    };
    let conv = GpuConv2d::from_npy(ctx, &w_path, Some(&b_path), p).unwrap();
    assert_eq!(conv.weights_shape(), [3, 3, 4, 6]);
    assert_eq!(conv.param_count(), 3 * 3 * 4 * 6 + 6);
    let x = random4([1, 9, 9, 4], 3);
    let y = conv.forward(x.view()).unwrap();
    assert_matches_reference(&y, x.view(), w.view(), Some(b.view()), p, "from_npy");
    // Without a bias file.
    let conv = GpuConv2d::from_npy(ctx, &w_path, None, p).unwrap();
    assert_eq!(conv.param_count(), 3 * 3 * 4 * 6);
}

#[test]
fn bad_files_are_errors_naming_the_file() {
    let Some(ctx) = common::gpu() else { return };
    let p = Conv2dParams::default();
    let good = temp("good.npy");
    write_npy(&good, &Array4::<f32>::zeros((1, 1, 2, 2))).unwrap();
    let npy_error = |path: &PathBuf, bias: Option<&PathBuf>, expect: &str| {
        let e = GpuConv2d::from_npy(ctx, path, bias.map(|b| b.as_path()), p)
            .err()
            .unwrap();
        let message = e.to_string();
        assert!(matches!(e, Conv2dError::Npy { .. }), "{message}");
        // The io or npy error underneath stays reachable.
        let source = std::error::Error::source(&e).expect("an Npy error keeps its source");
        assert!(!source.to_string().is_empty(), "{message}");
        let named = bias.unwrap_or(path).display().to_string();
        assert!(message.contains(&named), "{message} should name {named}");
        assert!(
            message.to_lowercase().contains(expect),
            "{message} should say {expect}"
        );
    };
    npy_error(&temp("missing.npy"), None, "cannot open");
    let missing = conv2d_wgpu::read_npy_weights(temp("missing.npy")).unwrap_err();
    let Conv2dError::Npy {
        source: Some(source),
        ..
    } = &missing
    else {
        panic!("{missing}")
    };
    let io = source
        .get()
        .downcast_ref::<std::io::Error>()
        .expect("an io error");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    // Wrong dtype: float64, as numpy saves by default.
    let f64_path = temp("f64.npy");
    write_npy(&f64_path, &Array4::<f64>::zeros((1, 1, 2, 2))).unwrap();
    npy_error(&f64_path, None, "f32");
    // Wrong rank: a 3-D array as weights, a 4-D array as bias.
    let rank3 = temp("rank3.npy");
    write_npy(&rank3, &Array3::<f32>::zeros((3, 3, 2))).unwrap();
    npy_error(&rank3, None, "rank 4");
    npy_error(&good, Some(&good), "rank 1");
    // Truncated: the header promises more data than the file holds.
    let truncated = temp("truncated.npy");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 5]).unwrap();
    npy_error(&truncated, None, "f32");
    // Corrupt: not an .npy file at all.
    let corrupt = temp("corrupt.npy");
    std::fs::write(&corrupt, b"this is not numpy").unwrap();
    npy_error(&corrupt, None, "f32");
    // A good bias loads; a wrong-length one is the usual shape error.
    let bias = temp("bias3.npy");
    write_npy(&bias, &Array1::<f32>::zeros(3)).unwrap();
    let e = GpuConv2d::from_npy(ctx, &good, Some(&bias), p)
        .err()
        .unwrap();
    assert!(
        matches!(e, Conv2dError::BiasLength { bias_len: 3, .. }),
        "{e}"
    );
}
