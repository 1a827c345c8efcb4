//! Optional `tracing` spans (feature `tracing`): where the time of a call goes.

/// Enters a `tracing` span named `$name` (with fields, in `tracing` syntax) for
/// the rest of the enclosing block; expands to nothing without the feature.
macro_rules! span {
    ($name:literal $(, $($fields:tt)*)?) => {
        #[cfg(feature = "tracing")]
        let _span = tracing::info_span!($name $(, $($fields)*)?).entered();
    };
}

pub(crate) use span;
