//! Convolution on the CPU: the reference every GPU result is checked against,
//! and a fast path to compare the GPU with. Never imports the GPU side.

pub(crate) mod fast;
pub(crate) mod reference;
