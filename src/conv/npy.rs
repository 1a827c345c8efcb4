//! Loading weights saved with `numpy.save` (feature `npy`).

use std::path::Path;

use std::io::Read;

use half::f16;
use ndarray::{Array, Array1, Array4, Dimension};
use ndarray_npy::{ReadDataError, ReadNpyError, ReadNpyExt, ReadableElement};
use py_literal::Value as PyValue;

use crate::conv::layer::GpuConv2d;
use crate::runtime::context::GpuContext;
use crate::semantics::error::{Conv2dError, Result, SourceError};
use crate::semantics::params::Conv2dParams;

impl GpuConv2d {
    /// A layer from `.npy` files: HWIO f32 or f16 weights (a Keras `Conv2D` kernel,
    /// `np.save("w.npy", layer.get_weights()[0])`) and an optional f32 or f16
    /// bias. f16 arrays are widened to f32 exactly; run the layer in f16 with
    /// [`GpuConv2d::with_precision`].
    /// PyTorch users save `weight.permute(2, 3, 1, 0)` or convert with
    /// [`oihw_to_hwio`](crate::oihw_to_hwio) after loading it themselves.
    ///
    /// # Errors
    /// [`Conv2dError::Npy`] naming the file and what was found for a missing,
    /// truncated or corrupt file, a dtype other than f32 or f16, or the
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

/// Reads HWIO weights saved with `numpy.save` (feature `npy`), without a
/// device: f32, or f16 widened exactly to f32.
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

/// Reads a bias `(cout)` saved with `numpy.save` (feature `npy`), f32 or f16.
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

fn read<D: Dimension>(path: &Path, expected: &str) -> Result<Array<f32, D>> {
    let bytes = std::fs::read(path).map_err(|e| Conv2dError::Npy {
        path: path.display().to_string(),
        message: format!("cannot open it: {e}"),
        source: Some(SourceError::new(e)),
    })?;
    parse(&bytes, path, expected)
}

/// The array in `bytes`: f32, or f16 widened to f32.
fn parse<D: Dimension>(bytes: &[u8], path: &Path, expected: &str) -> Result<Array<f32, D>> {
    let parsed = match Array::<f32, D>::read_npy(bytes) {
        Err(ReadNpyError::WrongDescriptor(descriptor)) if NpyF16::describes(&descriptor) => {
            Array::<NpyF16, D>::read_npy(bytes).map(|a| a.mapv(|h| h.0.to_f32()))
        }
        other => other,
    };
    parsed.map_err(|e| Conv2dError::Npy {
        path: path.display().to_string(),
        message: format!("expected f32 or f16 {expected}: {e}"),
        source: Some(SourceError::new(e)),
    })
}

/// An f16 element of an `.npy` file (`<f2` or `>f2`).
#[derive(Clone, Copy)]
struct NpyF16(f16);

impl NpyF16 {
    fn describes(descriptor: &PyValue) -> bool {
        matches!(descriptor, PyValue::String(s) if s == "<f2" || s == ">f2")
    }
}

impl ReadableElement for NpyF16 {
    fn read_to_end_exact_vec<R: std::io::Read>(
        mut reader: R,
        type_desc: &PyValue,
        len: usize,
    ) -> std::result::Result<Vec<Self>, ReadDataError> {
        let little = match type_desc {
            PyValue::String(s) if s == "<f2" => true,
            PyValue::String(s) if s == ">f2" => false,
            other => return Err(ReadDataError::WrongDescriptor(other.clone())),
        };
        // Grows with the data actually there, never with the header's claim.
        let wanted = len.checked_mul(2).ok_or(ReadDataError::MissingData)?;
        let mut bytes = Vec::new();
        (&mut reader)
            .take(wanted as u64)
            .read_to_end(&mut bytes)
            .map_err(ReadDataError::Io)?;
        if bytes.len() < wanted {
            return Err(ReadDataError::MissingData);
        }
        let extra = reader
            .read_to_end(&mut Vec::new())
            .map_err(ReadDataError::Io)?;
        if extra > 0 {
            return Err(ReadDataError::ExtraBytes(extra));
        }
        Ok(bytes
            .chunks_exact(2)
            .map(|b| {
                let pair = [b[0], b[1]];
                NpyF16(if little {
                    f16::from_le_bytes(pair)
                } else {
                    f16::from_be_bytes(pair)
                })
            })
            .collect())
    }
}
