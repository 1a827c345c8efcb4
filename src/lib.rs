//! Keras-exact 2-D convolution on any wgpu adapter.
//!
//! NHWC input, HWIO weights, `f32`, optional bias and a fused activation, run as
//! WGSL compute shaders through [`wgpu`] (Vulkan, Metal, DX12, GL), with a plain
//! CPU reference, [`conv2d_cpu`], that defines the expected results.
//!
//! ```
//! # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CI").is_none() { return Ok(()); } // no adapter here
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
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod algorithm;
mod buffers;
mod context;
mod conv;
mod cpu;
mod cpu_fast;
mod error;
mod geometry;
mod kernels;
mod layout;
mod limits;
#[cfg(feature = "npy")]
mod npy;
mod params;
mod plan;
mod readback;
mod scope;
pub mod seed;
mod tensor;
mod trace;

pub use algorithm::Algorithm;
pub use context::{ContextStats, GpuContext};
pub use conv::GpuConv2d;
pub use cpu::conv2d_cpu;
pub use cpu_fast::conv2d_cpu_fast;
pub use error::{Conv2dError, Result};
pub use layout::{nchw_to_nhwc, nhwc_to_nchw, oihw_to_hwio};
pub use params::{Activation, Conv2dParams, Padding};
pub use tensor::GpuTensor;
pub use wgpu;

/// The README's examples, run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
