//! Host values in a device element type: f32 values encoded as the bytes of
//! an f32 or f16 buffer, and a buffer's bytes decoded back. Rounding to f16 is
//! to nearest, ties to even, once; widening f16 to f32 is exact.

use half::f16;
use half::slice::HalfFloatSliceExt;

use crate::semantics::precision::DType;

/// Bytes to write into a buffer of `dtype`: borrowed for f32, converted for f16.
pub(crate) enum Encoded<'a> {
    Borrowed(&'a [u8]),
    Halves(Vec<f16>),
}

impl Encoded<'_> {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Encoded::Borrowed(bytes) => bytes,
            Encoded::Halves(halves) => bytemuck::cast_slice(halves),
        }
    }
}

/// `values` as the bytes of a `dtype` buffer.
pub(crate) fn encode(values: &[f32], dtype: DType) -> Encoded<'_> {
    match dtype {
        DType::F32 => Encoded::Borrowed(bytemuck::cast_slice(values)),
        DType::F16 => {
            let mut halves = vec![f16::ZERO; values.len()];
            halves.convert_from_f32_slice(values);
            Encoded::Halves(halves)
        }
    }
}

/// Whether every one of `values`, stored as `dtype`, is finite (an f32 beyond
/// f16's range becomes an infinity in f16).
pub(crate) fn all_finite(values: impl IntoIterator<Item = f32>, dtype: DType) -> bool {
    values.into_iter().all(|v| match dtype {
        DType::F32 => v.is_finite(),
        DType::F16 => f16::from_f32(v).is_finite(),
    })
}

/// Hands the first `len` elements of a `dtype` buffer's `bytes` to
/// `use_values` as f32: in place for f32, widened into a new vector for f16.
pub(crate) fn with_f32<T>(
    bytes: &[u8],
    dtype: DType,
    len: usize,
    use_values: impl FnOnce(&[f32]) -> T,
) -> T {
    match dtype {
        DType::F32 => use_values(&bytemuck::cast_slice::<u8, f32>(bytes)[..len]),
        DType::F16 => {
            let halves = &bytemuck::cast_slice::<u8, f16>(bytes)[..len];
            let mut values = vec![0.0f32; len];
            halves.convert_to_f32_slice(&mut values);
            use_values(&values)
        }
    }
}

/// The first `len` elements of a `dtype` buffer's `bytes` as f16 (f32 values
/// rounded once).
pub(crate) fn to_f16(bytes: &[u8], dtype: DType, len: usize) -> Vec<f16> {
    match dtype {
        DType::F16 => bytemuck::cast_slice::<u8, f16>(bytes)[..len].to_vec(),
        DType::F32 => {
            let mut halves = vec![f16::ZERO; len];
            halves.convert_from_f32_slice(&bytemuck::cast_slice::<u8, f32>(bytes)[..len]);
            halves
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_round_trip_rounds_once_to_nearest_even() {
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even gives 1.
        let values = [
            1.0,
            1.0 + 2f32.powi(-11),
            1.0 + 3.0 * 2f32.powi(-11),
            65504.0,
            1e6,
            -0.0,
        ];
        let encoded = encode(&values, DType::F16);
        assert_eq!(encoded.bytes().len(), values.len() * 2);
        let back = with_f32(encoded.bytes(), DType::F16, values.len(), <[f32]>::to_vec);
        assert_eq!(back[..4], [1.0, 1.0, 1.0 + 2f32.powi(-9), 65504.0]);
        assert_eq!(back[4], f32::INFINITY);
        assert!(back[5] == 0.0 && back[5].is_sign_negative());
        let f32_bytes = encode(&values, DType::F32);
        assert_eq!(
            with_f32(f32_bytes.bytes(), DType::F32, 6, <[f32]>::to_vec),
            values
        );
        assert_eq!(
            to_f16(f32_bytes.bytes(), DType::F32, 2),
            [f16::ONE, f16::ONE]
        );
    }
}
