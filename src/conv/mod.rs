//! Convolution on the GPU: the layer, the choice of kernel, planning within
//! the device's limits, encoding dispatches, and the kernels themselves.

pub(crate) mod cache;
pub(crate) mod choice;
#[cfg(test)]
mod codegen;
pub(crate) mod encode;
pub mod introspect;
pub(crate) mod kernels;
pub(crate) mod layer;
#[cfg(feature = "npy")]
pub(crate) mod npy;
pub(crate) mod pipelines;
pub(crate) mod plan;
pub(crate) mod sequential;
pub(crate) mod space_to_depth;
pub(crate) mod tuning;
pub(crate) mod uniform;
pub(crate) mod weights;
pub(crate) mod winograd;
