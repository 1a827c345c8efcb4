//! Element types on the device, and the precision a layer runs in.

use std::fmt;

/// The element type of a tensor on the device.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// IEEE 754 binary32.
    F32,
    /// IEEE 754 binary16 ([`half::f16`] on the host).
    F16,
}

impl DType {
    /// Bytes per element.
    pub const fn size_bytes(self) -> u64 {
        match self {
            DType::F32 => 4,
            DType::F16 => 2,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
        })
    }
}

/// The arithmetic a [`GpuConv2d`](crate::GpuConv2d) runs in, chosen with
/// [`GpuConv2d::with_precision`](crate::GpuConv2d::with_precision).
///
/// Both accumulate products in f32 and apply bias and activation in f32; they
/// differ in what is stored on the device.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// Weights, bias, inputs and outputs stored as f32 (the default).
    #[default]
    F32,
    /// Weights, bias, inputs and outputs stored as f16; products accumulated
    /// in f32, bias and activation applied in f32, the result rounded once to
    /// f16 (Keras' `mixed_float16` policy). Half the device memory and
    /// bandwidth of `F32`; needs the adapter's `SHADER_F16` feature.
    F16,
}

impl Precision {
    /// The element type of the layer's weights, inputs and outputs.
    pub const fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::F16 => DType::F16,
        }
    }
}
