//! The GPU runtime: adapter, device and queue, device tensors, buffers, error
//! scopes, readback and limit checks. It knows nothing of convolution: the
//! `conv` layer keeps its kernels in a context's extension slots.

pub(crate) mod adapter;
pub(crate) mod buffers;
pub(crate) mod context;
pub(crate) mod elements;
pub(crate) mod limits;
pub(crate) mod readback;
pub(crate) mod scope;
pub(crate) mod tensor;
pub(crate) mod tuning;
