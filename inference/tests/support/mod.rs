//! Shared by the inference tests: where `make models` put the models and the ONNX
//! Runtime library, and model specs built from them.
#![allow(dead_code)] // each test binary uses its own part

use std::path::PathBuf;

use medrt_inference::Inference;
use medrt_inference::provider::ExecutionProvider;
use medrt_inference::registry::{InferenceSettings, ModelKind, ModelSpec};

pub fn models_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/build");
    assert!(
        dir.join("SHA256SUMS").is_file(),
        "models are missing: run `make models` first (make test does)"
    );
    dir
}

/// `ORT_DYLIB_PATH`, or the library `make models` copied.
pub fn library() -> PathBuf {
    Inference::library_path(&InferenceSettings {
        library: models_dir().join("lib/libonnxruntime.so"),
        models: Vec::new(),
    })
}

pub fn text_spec(name: &str, max_batch: usize, max_delay_ms: u64, queue_max: usize) -> ModelSpec {
    let dir = models_dir().join("use");
    ModelSpec {
        name: name.into(),
        kind: ModelKind::TextEmbedding,
        file: dir.join("model.onnx"),
        tokenizer: Some(dir.join("tokenizer.json")),
        labels: Vec::new(),
        provider: ExecutionProvider::Cpu,
        fallback_cpu: false,
        workers: 1,
        intra_threads: 2,
        max_batch,
        max_delay_ms,
        queue_max,
        intra_op_spinning: true,
        max_tokens: 512,
    }
}

pub fn segmentation_spec(name: &str, max_batch: usize, queue_max: usize) -> ModelSpec {
    ModelSpec {
        name: name.into(),
        kind: ModelKind::Segmentation,
        file: models_dir().join("segmentation/model.onnx"),
        tokenizer: None,
        labels: vec!["background".into(), "skin".into(), "bone".into()],
        provider: ExecutionProvider::Cpu,
        fallback_cpu: false,
        workers: 1,
        intra_threads: 2,
        max_batch,
        max_delay_ms: 2,
        queue_max,
        intra_op_spinning: true,
        max_tokens: 512,
    }
}

pub fn settings(models: Vec<ModelSpec>) -> InferenceSettings {
    InferenceSettings {
        library: library(),
        models,
    }
}
