//! What can go wrong: at startup (a missing library or model, bad settings) and per
//! request (overload, deadline, a failed batch). The gateway maps `InferenceError` to the
//! contract's errors; `StartupError` stops the process with one clear line.

use std::path::PathBuf;

use crate::batching::PolicyError;
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InferenceError {
    /// The model's queue is full; the caller should retry later (HTTP 503 + Retry-After).
    #[error("model `{model}` is overloaded; retry later")]
    Overloaded { model: String },
    #[error("the deadline passed before model `{model}` could run the request")]
    DeadlineExceeded { model: String },
    /// The batch this request was in failed; its worker is being rebuilt.
    #[error("model `{model}` failed to run the request: {reason}")]
    Failed { model: String, reason: String },
    #[error("invalid input for model `{model}`: {reason}")]
    Input { model: String, reason: String },
    #[error("no model named `{0}` is loaded")]
    UnknownModel(String),
    #[error("model `{0}` has stopped")]
    Stopped(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(
        "ONNX Runtime library not found at {0}: run `make models`, or point ORT_DYLIB_PATH (or inference.library) at libonnxruntime.so"
    )]
    LibraryMissing(PathBuf),
    #[error("could not load ONNX Runtime from {path}: {reason}")]
    Library { path: PathBuf, reason: String },
    #[error(
        "model `{model}`: file {path} not found; run `make models` or fix its `{field}` setting"
    )]
    FileMissing {
        model: String,
        field: &'static str,
        path: PathBuf,
    },
    #[error("model `{model}`: {reason}")]
    Settings { model: String, reason: String },
    #[error("model `{model}`: {source}")]
    Provider {
        model: String,
        source: ProviderError,
    },
    #[error("model `{model}`: {source}")]
    Policy { model: String, source: PolicyError },
    #[error("model `{model}`: could not build a session: {reason}")]
    Session { model: String, reason: String },
    #[error("model `{model}`: could not start its pool: {reason}")]
    Pool { model: String, reason: String },
}

/// A batch that failed inside a worker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Runtime(String),
    #[error("the model returned {got} outputs for {expected} inputs")]
    OutputCount { expected: usize, got: usize },
}

impl From<ort::Error> for RunError {
    fn from(e: ort::Error) -> Self {
        RunError::Runtime(e.to_string())
    }
}
