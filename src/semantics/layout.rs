//! Layout conversions for PyTorch users. PyTorch's `nn.Conv2d` keeps activations
//! NCHW and weights OIHW `(cout, cin / groups, kh, kw)`; Keras (and this crate)
//! keep activations NHWC and weights HWIO `(kh, kw, cin / groups, cout)`. The
//! same layer has the same numbers in both, only the axes are ordered
//! differently, so each conversion is a zero-copy view with permuted axes
//! (the crate accepts non-contiguous views; call `.to_owned()` for a copy).
//!
//! | PyTorch `nn.Conv2d` | Keras `Conv2D` / this crate |
//! |---|---|
//! | `weight` OIHW | `kernel` HWIO: [`oihw_to_hwio`] |
//! | `bias` `(cout)` | `bias` `(cout)` |
//! | input NCHW | input NHWC: [`nchw_to_nhwc`] |
//! | output NCHW | output NHWC: [`nhwc_to_nchw`] converts back |
//! | `stride`, `dilation`, `groups` | the same |
//! | `padding=k` (symmetric) | `Padding::Explicit { top: k, bottom: k, left: k, right: k }` |
//! | `padding="same"` (stride 1) | `Padding::Same` (for odd kernels; PyTorch pads even kernels left-heavy) |

use ndarray::ArrayView4;

/// PyTorch weights OIHW `(cout, cin / groups, kh, kw)` as HWIO `(kh, kw, cin / groups, cout)`.
///
/// ```
/// use conv2d_wgpu::oihw_to_hwio;
/// use ndarray::Array4;
/// let oihw = Array4::from_shape_fn((8, 3, 5, 7), |(o, i, h, w)| (o * 1000 + i * 100 + h * 10 + w) as f32);
/// let hwio = oihw_to_hwio(oihw.view());
/// assert_eq!(hwio.shape(), &[5, 7, 3, 8]);
/// assert_eq!(hwio[[4, 6, 2, 7]], oihw[[7, 2, 4, 6]]);
/// ```
pub fn oihw_to_hwio<'a>(weights: ArrayView4<'a, f32>) -> ArrayView4<'a, f32> {
    weights.permuted_axes([2, 3, 1, 0])
}

/// A PyTorch NCHW tensor as NHWC.
///
/// ```
/// use conv2d_wgpu::nchw_to_nhwc;
/// use ndarray::Array4;
/// let nchw = Array4::from_shape_fn((2, 3, 4, 5), |(n, c, h, w)| (n * 1000 + c * 100 + h * 10 + w) as f32);
/// let nhwc = nchw_to_nhwc(nchw.view());
/// assert_eq!(nhwc.shape(), &[2, 4, 5, 3]);
/// assert_eq!(nhwc[[1, 3, 4, 2]], nchw[[1, 2, 3, 4]]);
/// ```
pub fn nchw_to_nhwc<'a>(x: ArrayView4<'a, f32>) -> ArrayView4<'a, f32> {
    x.permuted_axes([0, 2, 3, 1])
}

/// An NHWC tensor (this crate's output) as PyTorch's NCHW.
///
/// ```
/// use conv2d_wgpu::{nchw_to_nhwc, nhwc_to_nchw};
/// use ndarray::Array4;
/// let nhwc = Array4::from_shape_fn((2, 4, 5, 3), |(n, h, w, c)| (n * 1000 + c * 100 + h * 10 + w) as f32);
/// let nchw = nhwc_to_nchw(nhwc.view());
/// assert_eq!(nchw.shape(), &[2, 3, 4, 5]);
/// assert_eq!(nchw_to_nhwc(nchw), nhwc.view());
/// ```
pub fn nhwc_to_nchw<'a>(y: ArrayView4<'a, f32>) -> ArrayView4<'a, f32> {
    y.permuted_axes([0, 3, 1, 2])
}
