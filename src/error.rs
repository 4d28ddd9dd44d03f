//! The one error type of the engine: every message says what was wrong and what is allowed.

use core::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum RbmError {
    /// A setting outside its allowed range.
    InvalidSetting {
        name: &'static str,
        value: String,
        allowed: String,
    },
    /// Exact enumeration asked of a model whose smaller layer is too large.
    TooLargeForExact { n_visible: usize, n_hidden: usize },
    /// Data whose width does not match the model, or an empty batch.
    Shape(String),
    /// A data file or data set that cannot be used.
    Data(String),
    /// A model file that cannot be loaded.
    ModelFile(String),
    /// A saved run (an autosave) that cannot be restored.
    Snapshot(String),
    /// A training step produced non-finite or exploding parameters; the model was not changed.
    Diverged { step: u64 },
}

pub type Result<T> = core::result::Result<T, RbmError>;

impl RbmError {
    pub(crate) fn setting(
        name: &'static str,
        value: impl fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        RbmError::InvalidSetting {
            name,
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}

impl fmt::Display for RbmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RbmError::InvalidSetting {
                name,
                value,
                allowed,
            } => {
                write!(f, "{name} = {value} is not allowed: {allowed}")
            }
            RbmError::TooLargeForExact {
                n_visible,
                n_hidden,
            } => write!(
                f,
                "exact computation enumerates the smaller layer and allows at most {} units there; \
                 this model has {n_visible} visible and {n_hidden} hidden units \
                 (use fewer hidden units, or a sampling method such as cd or pcd)",
                crate::exact::MAX_ENUMERATED_UNITS
            ),
            RbmError::Shape(message) => write!(f, "shape mismatch: {message}"),
            RbmError::Data(message) => write!(f, "data: {message}"),
            RbmError::ModelFile(message) => write!(f, "model file: {message}"),
            RbmError::Snapshot(message) => write!(f, "saved run: {message}"),
            RbmError::Diverged { step } => write!(
                f,
                "training diverged at step {step} (parameters became non-finite or exploded); \
                 the last good model is kept: lower the learning rate or momentum and continue"
            ),
        }
    }
}

impl std::error::Error for RbmError {}
