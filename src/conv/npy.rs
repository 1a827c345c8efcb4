//! Loading weights saved with `numpy.save` (feature `npy`).

use std::path::Path;

use ndarray::{Array1, Array4};
use ndarray_npy::ReadNpyExt;

use crate::conv::layer::GpuConv2d;
use crate::runtime::context::GpuContext;
use crate::semantics::error::{Conv2dError, Result, SourceError};
use crate::semantics::params::Conv2dParams;

impl GpuConv2d {
    /// A layer from `.npy` files: HWIO f32 weights (a Keras `Conv2D` kernel,
    /// `np.save("w.npy", layer.get_weights()[0])`) and an optional f32 bias.
    /// PyTorch users save `weight.permute(2, 3, 1, 0)` or convert with
    /// [`oihw_to_hwio`](crate::oihw_to_hwio) after loading it themselves.
    ///
    /// # Errors
    /// [`Conv2dError::Npy`] naming the file and what was found for a missing,
    /// truncated or corrupt file, a dtype other than little-endian f32, or the
    /// wrong rank (its `source()` is the io or npy error); then the errors of
    /// [`GpuConv2d::new`].
    ///
    /// # Example
    /// ```
    /// # if conv2d_wgpu::GpuContext::new().is_err() && std::env::var_os("CONV2D_WGPU_SKIP_GPU_TESTS").is_some() { return Ok(()); } // no adapter here
    /// use conv2d_wgpu::{Conv2dParams, GpuContext, GpuConv2d};
    /// use ndarray::{Array1, Array4};
    /// let dir = std::env::temp_dir();
    /// let (w_path, b_path) = (dir.join("doc_w.npy"), dir.join("doc_b.npy"));
    /// ndarray_npy::write_npy(&w_path, &Array4::<f32>::ones((3, 3, 2, 4)))?;
    /// ndarray_npy::write_npy(&b_path, &Array1::<f32>::zeros(4))?;
    /// let ctx = GpuContext::new()?;
    /// let conv = GpuConv2d::from_npy(&ctx, &w_path, Some(&b_path), Conv2dParams::default())?;
    /// assert_eq!(conv.param_count(), 3 * 3 * 2 * 4 + 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_npy(
        ctx: &GpuContext,
        weights_path: &Path,
        bias_path: Option<&Path>,
        params: Conv2dParams,
    ) -> Result<Self> {
        let weights = read_npy_weights(weights_path)?;
        let bias = bias_path.map(read_npy_bias).transpose()?;
        GpuConv2d::new(ctx, weights.view(), bias.as_ref().map(|b| b.view()), params)
    }
}

/// Reads HWIO f32 weights saved with `numpy.save` (feature `npy`), without a device.
///
/// # Errors
/// [`Conv2dError::Npy`] naming the file and what was wrong, with the io or npy
/// error as its `source()`.
///
/// ```
/// let path = std::env::temp_dir().join("doc_read_w.npy");
/// ndarray_npy::write_npy(&path, &ndarray::Array4::<f32>::ones((3, 3, 2, 4)))?;
/// assert_eq!(conv2d_wgpu::read_npy_weights(&path)?.shape(), &[3, 3, 2, 4]);
/// let missing = conv2d_wgpu::read_npy_weights("no/such/file.npy").unwrap_err();
/// assert!(std::error::Error::source(&missing).is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_npy_weights(path: impl AsRef<Path>) -> Result<Array4<f32>> {
    read(path.as_ref(), "HWIO weights (rank 4)")
}

/// Reads an f32 bias `(cout)` saved with `numpy.save` (feature `npy`).
///
/// # Errors
/// As [`read_npy_weights`].
pub fn read_npy_bias(path: impl AsRef<Path>) -> Result<Array1<f32>> {
    read(path.as_ref(), "a bias (rank 1)")
}

/// [`read_npy_weights`] on the bytes of a file, for the fuzzer.
#[doc(hidden)]
pub fn npy_weights_from_bytes(bytes: &[u8]) -> Result<Array4<f32>> {
    parse(bytes, Path::new("<bytes>"), "HWIO weights (rank 4)")
}

fn read<T: ReadNpyExt>(path: &Path, expected: &str) -> Result<T> {
    let file = std::fs::File::open(path).map_err(|e| Conv2dError::Npy {
        path: path.display().to_string(),
        message: format!("cannot open it: {e}"),
        source: Some(SourceError::new(e)),
    })?;
    parse(std::io::BufReader::new(file), path, expected)
}

fn parse<T: ReadNpyExt>(reader: impl std::io::Read, path: &Path, expected: &str) -> Result<T> {
    T::read_npy(reader).map_err(|e| Conv2dError::Npy {
        path: path.display().to_string(),
        message: format!("expected little-endian f32 {expected}: {e}"),
        source: Some(SourceError::new(e)),
    })
}
