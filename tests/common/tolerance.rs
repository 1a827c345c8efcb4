//! The comparison every GPU (and fast CPU) result goes through, shared by the
//! tests and the fuzz targets (`fuzz/src/lib.rs` includes this file).

use conv2d_wgpu::half::f16;
use conv2d_wgpu::{conv2d_cpu, Activation, Conv2dParams, Precision};
use ndarray::{Array1, Array4, ArrayView1, ArrayView4};

/// f16's unit roundoff: round to nearest is within 2^-11 relative.
pub const F16_UNIT_ROUNDOFF: f32 = 1.0 / 2048.0;
/// Half the smallest f16 subnormal (2^-25): the absolute error of rounding a
/// value in f16's subnormal range.
pub const F16_UNDERFLOW: f32 = 1.0 / 33_554_432.0;
/// The largest finite f16; values from 65520 up round to infinity.
const F16_MAX: f32 = 65504.0;

/// Compares a GPU result with `conv2d_cpu` element by element (f32 layers).
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
    assert_matches_reference_in(gpu, x, w, b, params, Precision::F32, what);
}

/// `x` rounded once to f16 and widened back (what an f16 layer stores).
pub fn round_to_f16(x: ArrayView4<f32>) -> Array4<f32> {
    x.mapv(|v| f16::from_f32(v).to_f32())
}

fn round1_to_f16(b: ArrayView1<f32>) -> Array1<f32> {
    b.mapv(|v| f16::from_f32(v).to_f32())
}

/// [`assert_matches_reference`] for a layer run in `precision`; returns the
/// largest `|GPU - CPU| / tolerance` seen (at most 1 when it passes).
///
/// For [`Precision::F16`] the reference is computed (in f32) on the input,
/// weights and bias rounded to f16, as the layer stores them, and the
/// tolerance adds f16's rounding of the result to the f32 bound above:
/// `f32_bound (1 + 2^-11) + 2^-11 |y| + 2^-25`. A reference beyond f16's range
/// (within the tolerance of 65504) may come back as the infinity of its sign.
pub fn assert_matches_reference_in(
    gpu: &Array4<f32>,
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    b: Option<ArrayView1<f32>>,
    params: Conv2dParams,
    precision: Precision,
    what: &str,
) -> f32 {
    let half = precision == Precision::F16;
    let (x, w, b) = if half {
        (round_to_f16(x), round_to_f16(w), b.map(round1_to_f16))
    } else {
        (x.to_owned(), w.to_owned(), b.map(|b| b.to_owned()))
    };
    let (x, w, b) = (x.view(), w.view(), b.as_ref().map(|b| b.view()));
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
    let mut worst_ratio = 0.0f32;
    for ((index, &expected), &got) in reference.indexed_iter().zip(gpu.iter()) {
        let idx = vec![index.0, index.1, index.2, index.3];
        if expected.is_nan() || got.is_nan() {
            assert!(
                expected.is_nan() && got.is_nan(),
                "{what}: at {idx:?} GPU {got} but CPU {expected}"
            );
            continue;
        }
        let m = magnitude[index];
        let f32_bound =
            3.0 * (k + 1.0) * f32::EPSILON * m * gain + transcendental * (1.0 + expected.abs());
        let tolerance = if half {
            f32_bound * (1.0 + F16_UNIT_ROUNDOFF)
                + F16_UNIT_ROUNDOFF * expected.abs()
                + F16_UNDERFLOW
        } else {
            f32_bound
        };
        if half && got.is_infinite() && expected.is_finite() {
            assert!(
                expected.abs() + tolerance >= F16_MAX && got.signum() == expected.signum(),
                "{what}: at {idx:?} GPU {got} but CPU {expected} (within f16's range)"
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
        let diff = (got - expected).abs();
        if tolerance > 0.0 {
            worst_ratio = worst_ratio.max(diff / tolerance);
        } else if diff > 0.0 {
            worst_ratio = f32::INFINITY;
        }
        let excess = diff - tolerance;
        if worst.as_ref().is_none_or(|w| excess > w.0) {
            worst = Some((excess, idx, got, expected, tolerance));
        }
    }
    if let Some((excess, idx, got, expected, tolerance)) = worst {
        assert!(
            excess <= 0.0,
            "{what}: worst element {idx:?}: GPU {got} vs CPU {expected}, \
             |diff| {} > tolerance {tolerance} (K = {k}, {precision:?})",
            (got - expected).abs()
        );
    }
    worst_ratio
}
