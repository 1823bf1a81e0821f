//! `Inference`: every configured model loaded into its own pool, found by name. Built
//! once at startup; a missing library, model file or GPU is an error here, not later.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{InferenceError, StartupError};
use crate::pool::Pool;
use crate::provider::ExecutionProvider;
use crate::registry::{InferenceSettings, ModelKind, ModelSpec};
use crate::runtime::OrtRuntime;
use crate::segmentation::{SegmentationFactory, Segmenter};
use crate::text::{TextEmbedder, TextEncoderFactory, load_tokenizer};

/// The environment variable that overrides `inference.library`.
pub const LIBRARY_ENV: &str = "ORT_DYLIB_PATH";

enum Handle {
    Text(TextEmbedder),
    Segmentation(Segmenter),
}

struct Loaded {
    spec: ModelSpec,
    provider: ExecutionProvider,
    handle: Handle,
}

/// What `medrt models` prints for each model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub kind: ModelKind,
    pub file: PathBuf,
    /// The provider it actually runs on.
    pub provider: ExecutionProvider,
    pub configured_provider: ExecutionProvider,
    pub workers: usize,
    pub intra_threads: usize,
    pub max_batch: usize,
    pub max_delay_ms: u64,
    pub queue_max: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

pub struct Inference {
    models: Vec<Loaded>,
}

impl Inference {
    /// The library path: `ORT_DYLIB_PATH` if set, else the settings'.
    pub fn library_path(settings: &InferenceSettings) -> PathBuf {
        std::env::var_os(LIBRARY_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| settings.library.clone())
    }

    /// Loads every model. With none configured, ONNX Runtime is not loaded at all.
    pub async fn start(settings: &InferenceSettings) -> Result<Self, StartupError> {
        settings.check()?;
        if settings.models.is_empty() {
            return Ok(Self { models: Vec::new() });
        }
        let runtime = OrtRuntime::load(&Self::library_path(settings))?;
        let mut models: Vec<Loaded> = Vec::with_capacity(settings.models.len());
        for spec in &settings.models {
            match load(&runtime, spec).await {
                Ok(loaded) => models.push(loaded),
                Err(e) => {
                    Self { models }.stop().await;
                    return Err(e);
                }
            }
        }
        Ok(Self { models })
    }

    /// The named text model, or the first one configured.
    pub fn text(&self, name: Option<&str>) -> Result<&TextEmbedder, InferenceError> {
        self.find(name, |h| match h {
            Handle::Text(t) => Some(t),
            Handle::Segmentation(_) => None,
        })
        .ok_or_else(|| unknown(name, "text_embedding"))
    }

    /// The named segmentation model, or the first one configured.
    pub fn segmentation(&self, name: Option<&str>) -> Result<&Segmenter, InferenceError> {
        self.find(name, |h| match h {
            Handle::Segmentation(s) => Some(s),
            Handle::Text(_) => None,
        })
        .ok_or_else(|| unknown(name, "segmentation"))
    }

    fn find<'a, T>(
        &'a self,
        name: Option<&str>,
        pick: impl Fn(&'a Handle) -> Option<&'a T>,
    ) -> Option<&'a T> {
        self.models
            .iter()
            .filter(|m| name.is_none_or(|n| m.spec.name == n))
            .find_map(|m| pick(&m.handle))
    }

    pub fn describe(&self) -> Vec<ModelInfo> {
        self.models
            .iter()
            .map(|m| ModelInfo {
                name: m.spec.name.clone(),
                kind: m.spec.kind,
                file: m.spec.file.clone(),
                provider: m.provider,
                configured_provider: m.spec.provider,
                workers: m.spec.workers,
                intra_threads: m.spec.intra_threads,
                max_batch: m.spec.max_batch,
                max_delay_ms: m.spec.max_delay_ms,
                queue_max: m.spec.queue_max,
                labels: m.spec.labels.clone(),
            })
            .collect()
    }

    pub async fn stop(&self) {
        for model in &self.models {
            match &model.handle {
                Handle::Text(t) => t.pool().stop().await,
                Handle::Segmentation(s) => s.pool().stop().await,
            }
        }
    }
}

fn unknown(name: Option<&str>, kind: &str) -> InferenceError {
    InferenceError::UnknownModel(name.map_or_else(|| format!("(any {kind} model)"), str::to_owned))
}

async fn load(runtime: &OrtRuntime, spec: &ModelSpec) -> Result<Loaded, StartupError> {
    let provider = runtime.provider_for(spec)?;
    let policy = spec.policy()?;
    let handle = match spec.kind {
        ModelKind::TextEmbedding => {
            let tokenizer = load_tokenizer(spec)?;
            let factory = TextEncoderFactory {
                runtime: runtime.clone(),
                spec: spec.clone(),
                provider,
            };
            let pool = Pool::start(&spec.name, factory, policy, spec.workers).await?;
            Handle::Text(TextEmbedder::new(tokenizer, pool, spec.max_tokens))
        }
        ModelKind::Segmentation => {
            let factory = SegmentationFactory {
                runtime: runtime.clone(),
                spec: spec.clone(),
                provider,
            };
            let pool = Pool::start(&spec.name, factory, policy, spec.workers).await?;
            Handle::Segmentation(Segmenter::new(spec.labels.clone(), pool))
        }
    };
    tracing::info!(model = %spec.name, %provider, workers = spec.workers, "model loaded");
    Ok(Loaded {
        spec: spec.clone(),
        provider,
        handle,
    })
}
