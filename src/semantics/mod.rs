//! What a convolution means, independent of where it runs: Keras parameters and
//! shape rules, layouts, algorithm names and the error type. No wgpu here.

pub(crate) mod algorithm;
pub(crate) mod error;
pub(crate) mod geometry;
pub(crate) mod layout;
pub(crate) mod params;
pub(crate) mod precision;
