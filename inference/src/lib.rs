//! Model serving: ONNX Runtime sessions in pools that batch single requests, and the two
//! model families the platform runs (text embeddings for the chatbot's retrieval, CT
//! segmentation for imaging). Knows nothing of users, points or tasks: bytes in, model
//! outputs out.
//!
//! # Layout
//! - [`registry`]: the configured models (file, kind, provider, batching).
//! - [`runtime`]: the ONNX Runtime library, environment and sessions.
//! - [`provider`]: execution providers and the fallback rule.
//! - [`batching`]: the dynamic batching policy.
//! - [`pool`]: batcher + workers (ractor), one pool per model.
//! - [`text`], [`segmentation`]: the models' inputs, outputs and pre/post-processing.
//! - [`service`]: `Inference`, every configured model by name.
//! - [`imaging`]: the CT pipeline (ZIP of DICOM → label surfaces as STL).
//! - [`error`]: startup and per-request errors.

pub mod batching;
pub mod error;
pub mod imaging;
pub mod pool;
pub mod provider;
pub mod registry;
pub mod runtime;
pub mod segmentation;
pub mod service;
pub mod text;

pub use error::{InferenceError, StartupError};
pub use registry::{InferenceSettings, ModelKind, ModelSpec};
pub use service::{Inference, ModelInfo};
