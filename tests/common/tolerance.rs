//! The comparison every GPU (and fast CPU) result goes through, shared by the
//! tests and the fuzz targets (`fuzz/src/lib.rs` includes this file).

use conv2d_wgpu::{conv2d_cpu, Activation, Conv2dParams};
use ndarray::{Array4, ArrayView1, ArrayView4};

/// Compares a GPU result with `conv2d_cpu` element by element.
///
/// Tolerance per element: `3 (K + 1) eps * sum |x w| + |b|` (twice the classic
/// bound for a sum of K + 1 products, one for each side), times the activation's
/// largest slope, plus a small allowance for the GPU's `exp`/`tanh` where used.
/// NaN must meet NaN and infinities must be equal.
pub fn assert_matches_reference(
    gpu: &Array4<f32>,
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    b: Option<ArrayView1<f32>>,
    params: Conv2dParams,
    what: &str,
) {
    let reference = conv2d_cpu(x, w, b, params).expect("CPU reference failed");
    assert_eq!(
        gpu.shape(),
        reference.shape(),
        "{what}: output shapes differ"
    );
    let linear = Conv2dParams {
        activation: Activation::Linear,
        ..params
    };
    let (xa, wa) = (x.mapv(f32::abs), w.mapv(f32::abs));
    let ba = b.map(|b| b.mapv(f32::abs));
    let magnitude = conv2d_cpu(xa.view(), wa.view(), ba.as_ref().map(|b| b.view()), linear)
        .expect("magnitude reference failed");
    let k = (w.shape()[0] * w.shape()[1] * w.shape()[2]) as f32;
    let (gain, transcendental) = match params.activation {
        Activation::LeakyRelu(slope) => (slope.abs().max(1.0), 0.0),
        Activation::Sigmoid | Activation::Tanh => (1.0, 1e-5),
        Activation::Silu => (1.5, 1e-5),
        _ => (1.0, 0.0),
    };
    let mut worst: Option<(f32, Vec<usize>, f32, f32, f32)> = None;
    for ((index, &expected), &got) in reference.indexed_iter().zip(gpu.iter()) {
        let idx = vec![index.0, index.1, index.2, index.3];
        if expected.is_nan() || got.is_nan() {
            assert!(
                expected.is_nan() && got.is_nan(),
                "{what}: at {idx:?} GPU {got} but CPU {expected}"
            );
            continue;
        }
        if expected.is_infinite() || got.is_infinite() {
            assert_eq!(
                got, expected,
                "{what}: at {idx:?} GPU {got} but CPU {expected}"
            );
            continue;
        }
        let m = magnitude[index];
        let tolerance =
            3.0 * (k + 1.0) * f32::EPSILON * m * gain + transcendental * (1.0 + expected.abs());
        let excess = (got - expected).abs() - tolerance;
        if worst.as_ref().is_none_or(|w| excess > w.0) {
            worst = Some((excess, idx, got, expected, tolerance));
        }
    }
    if let Some((excess, idx, got, expected, tolerance)) = worst {
        assert!(
            excess <= 0.0,
            "{what}: worst element {idx:?}: GPU {got} vs CPU {expected}, \
             |diff| {} > tolerance {tolerance} (K = {k})",
            (got - expected).abs()
        );
    }
}
