//! Keras-exact 2-D convolution on any wgpu adapter.
//!
//! NHWC input, HWIO weights, `f32`, optional bias and a fused activation, run as
//! WGSL compute shaders through [`wgpu`] (Vulkan, Metal, DX12, GL), with a plain
//! CPU reference, [`conv2d_cpu`], that defines the expected results.
//!
//! ```
//! # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
//! use conv2d_wgpu::{conv2d_cpu, Activation, Conv2dParams, GpuContext, GpuConv2d, Padding};
//! use ndarray::{Array1, Array4};
//!
//! let ctx = GpuContext::new()?;
//! let weights = Array4::<f32>::from_elem((3, 3, 8, 16), 0.1); // HWIO
//! let bias = Array1::<f32>::zeros(16);
//! let params = Conv2dParams {
//!     padding: Padding::Same,
//!     activation: Activation::Relu,
//!     ..Default::default()
//! };
//! let conv = GpuConv2d::new(&ctx, weights.view(), Some(bias.view()), params)?;
//! let x = Array4::<f32>::ones((1, 32, 32, 8)); // NHWC
//! let y = conv.forward(x.view())?;
//! let y_ref = conv2d_cpu(x.view(), weights.view(), Some(bias.view()), params)?;
//! assert_eq!(y.shape(), y_ref.shape());
//! # Ok::<(), conv2d_wgpu::Conv2dError>(())
//! ```
//!
//! The modules are layered (see ARCHITECTURE.md): `semantics` (what a
//! convolution means, no wgpu), `cpu` (reference and fast path), `runtime`
//! (device, tensors, buffers; nothing of convolution) and `conv` (the layer
//! on the GPU).
#![warn(missing_docs, missing_debug_implementations)]
#![doc(test(attr(deny(warnings))))]

mod conv;
mod cpu;
mod runtime;
mod semantics;
mod trace;

pub use conv::layer::GpuConv2d;
#[cfg(feature = "npy")]
pub use conv::npy::{npy_weights_from_bytes, read_npy_bias, read_npy_weights};
pub use conv::sequential::GpuSequential;
pub use cpu::fast::{conv2d_cpu_fast, conv2d_cpu_fast_path, CpuPath};
pub use cpu::reference::conv2d_cpu;
pub use half;
pub use runtime::context::{ContextStats, GpuContext};
pub use runtime::tensor::GpuTensor;
pub use runtime::tuning::{Tuning, TuningStats};
pub use semantics::algorithm::Algorithm;
pub use semantics::error::{Conv2dError, GpuErrorKind, Result, SourceError};
pub use semantics::layout::{nchw_to_nhwc, nhwc_to_nchw, oihw_to_hwio};
pub use semantics::params::{Activation, Conv2dParams, Padding};
pub use semantics::precision::{DType, Precision};
pub use wgpu;

/// What the crate compiles, for tests that check it from outside (not API).
#[doc(hidden)]
pub mod introspect {
    pub use crate::conv::introspect::*;
}

/// The README's examples, run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
