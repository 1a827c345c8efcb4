//! Weights from `.npy` files (feature `npy`): the format `numpy.save` writes.
//! The files are written here with ndarray-npy, so nothing is downloaded.
#![cfg(feature = "npy")]

mod common;

use std::path::PathBuf;

use common::{assert_matches_reference, random1, random4};
use conv2d_wgpu::half::f16;
use conv2d_wgpu::{Conv2dError, Conv2dParams, GpuConv2d, Padding, Precision};
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

/// An `.npy` file of f16 values (`<f2`, or `>f2` when `big_endian`), written
/// by hand as `numpy.save` would (ndarray-npy writes no f16).
fn write_f16_npy(path: &std::path::Path, shape: &[usize], values: &[f16], big_endian: bool) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let descr = if big_endian { ">f2" } else { "<f2" };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in values {
        let b = if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        bytes.extend_from_slice(&b);
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn f16_npy_files_load_widened_exactly() {
    let w = random4([3, 3, 2, 4], 50).mapv(f16::from_f32);
    let b = random1(4, 51).mapv(f16::from_f32);
    for big_endian in [false, true] {
        let (w_path, b_path) = (temp("w16.npy"), temp("b16.npy"));
        write_f16_npy(&w_path, &[3, 3, 2, 4], w.as_slice().unwrap(), big_endian);
        write_f16_npy(&b_path, &[4], b.as_slice().unwrap(), big_endian);
        let loaded = conv2d_wgpu::read_npy_weights(&w_path).unwrap();
        assert_eq!(loaded, w.mapv(f16::to_f32), "big endian: {big_endian}");
        let bias = conv2d_wgpu::read_npy_bias(&b_path).unwrap();
        assert_eq!(bias, b.mapv(f16::to_f32));
        // Truncated f16 data is an error naming the file.
        let truncated = temp("w16_truncated.npy");
        let full = std::fs::read(&w_path).unwrap();
        std::fs::write(&truncated, &full[..full.len() - 3]).unwrap();
        let e = conv2d_wgpu::read_npy_weights(&truncated).unwrap_err();
        assert!(e.to_string().contains("w16_truncated.npy"), "{e}");
    }
    // And through a layer run in f16, where the adapter has it.
    let Some(ctx) = common::gpu_f16() else { return };
    let (w_path, b_path) = (temp("w16.npy"), temp("b16.npy"));
    write_f16_npy(&w_path, &[3, 3, 2, 4], w.as_slice().unwrap(), false);
    write_f16_npy(&b_path, &[4], b.as_slice().unwrap(), false);
    let p = Conv2dParams::default();
    let conv = GpuConv2d::from_npy(ctx, &w_path, Some(&b_path), p)
        .and_then(|c| c.with_precision(Precision::F16))
        .unwrap();
    let x = random4([1, 6, 6, 2], 52);
    let y = conv.forward(x.view()).unwrap();
    let (w32, b32) = (w.mapv(f16::to_f32), b.mapv(f16::to_f32));
    common::assert_matches_reference_in(
        &y,
        x.view(),
        w32.view(),
        Some(b32.view()),
        p,
        Precision::F16,
        "f16 npy",
    );
}
