//! The model registry as configured: which models to load, from which files, on which
//! execution provider, and how each one's pool batches.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::batching::BatchPolicy;
use crate::error::StartupError;
use crate::provider::ExecutionProvider;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct InferenceSettings {
    /// ONNX Runtime's shared library; `ORT_DYLIB_PATH` overrides it.
    pub library: PathBuf,
    #[serde(default)]
    pub models: Vec<ModelSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Token ids in, one embedding per text out.
    TextEmbedding,
    /// `[N,1,H,W]` f32 HU in, `[N,C,H,W]` per-label scores out.
    Segmentation,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    pub kind: ModelKind,
    pub file: PathBuf,
    /// HuggingFace `tokenizer.json`; text models only.
    #[serde(default)]
    pub tokenizer: Option<PathBuf>,
    /// Output channel names, in order; segmentation models only.
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default = "cpu")]
    pub provider: ExecutionProvider,
    #[serde(default)]
    pub fallback_cpu: bool,
    #[serde(default = "one")]
    pub workers: usize,
    #[serde(default = "one")]
    pub intra_threads: usize,
    #[serde(default = "one")]
    pub max_batch: usize,
    #[serde(default)]
    pub max_delay_ms: u64,
    #[serde(default = "queue_max")]
    pub queue_max: usize,
    /// Let ONNX Runtime's threads spin-wait between the operators of a run (its
    /// default; they stop spinning when the run ends either way).
    #[serde(default = "yes")]
    pub intra_op_spinning: bool,
    /// Longer texts are cut to this many tokens (text models only).
    #[serde(default = "max_tokens")]
    pub max_tokens: usize,
}

fn cpu() -> ExecutionProvider {
    ExecutionProvider::Cpu
}
fn one() -> usize {
    1
}
fn yes() -> bool {
    true
}
fn queue_max() -> usize {
    256
}
fn max_tokens() -> usize {
    512
}

impl ModelSpec {
    pub fn max_delay(&self) -> Duration {
        Duration::from_millis(self.max_delay_ms)
    }

    pub fn policy(&self) -> Result<BatchPolicy, StartupError> {
        BatchPolicy::new(self.max_batch, self.max_delay(), self.queue_max).map_err(|source| {
            StartupError::Policy {
                model: self.name.clone(),
                source,
            }
        })
    }

    /// Everything that can be checked without loading anything.
    pub fn check(&self) -> Result<(), StartupError> {
        let bad = |reason: &str| StartupError::Settings {
            model: self.name.clone(),
            reason: reason.to_owned(),
        };
        if self.name.trim().is_empty() {
            return Err(bad("a model needs a name"));
        }
        if self.workers == 0 || self.intra_threads == 0 {
            return Err(bad("workers and intra_threads must be at least 1"));
        }
        match self.kind {
            ModelKind::TextEmbedding if self.tokenizer.is_none() => {
                return Err(bad("a text_embedding model needs `tokenizer`"));
            }
            ModelKind::TextEmbedding if self.max_tokens < 2 => {
                return Err(bad(
                    "max_tokens must leave room for the start and end tokens",
                ));
            }
            ModelKind::Segmentation if self.labels.is_empty() => {
                return Err(bad("a segmentation model needs `labels`"));
            }
            _ => {}
        }
        self.policy()?;
        self.require_file("file", &self.file)?;
        if let Some(tokenizer) = &self.tokenizer {
            self.require_file("tokenizer", tokenizer)?;
        }
        Ok(())
    }

    fn require_file(&self, field: &'static str, path: &Path) -> Result<(), StartupError> {
        if path.is_file() {
            Ok(())
        } else {
            Err(StartupError::FileMissing {
                model: self.name.clone(),
                field,
                path: path.to_owned(),
            })
        }
    }
}

impl InferenceSettings {
    pub fn check(&self) -> Result<(), StartupError> {
        let mut names = HashSet::new();
        if let Some(twice) = self.models.iter().find(|m| !names.insert(m.name.as_str())) {
            return Err(StartupError::Settings {
                model: twice.name.clone(),
                reason: "two models share this name".into(),
            });
        }
        self.models.iter().try_for_each(ModelSpec::check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Specs as JSON here; config files use TOML with the same keys.
    fn spec(json: &str) -> ModelSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults_are_a_single_cpu_worker_without_batching() {
        let s = spec(r#"{"name":"m","kind":"segmentation","file":"x.onnx","labels":["a"]}"#);
        assert_eq!(s.provider, ExecutionProvider::Cpu);
        assert_eq!((s.workers, s.intra_threads, s.max_batch), (1, 1, 1));
        assert!(!s.fallback_cpu);
    }

    #[test]
    fn kinds_need_their_extra_files_and_labels() {
        let text = spec(r#"{"name":"t","kind":"text_embedding","file":"x.onnx"}"#);
        assert!(text.check().unwrap_err().to_string().contains("tokenizer"));
        let seg = spec(r#"{"name":"s","kind":"segmentation","file":"x.onnx"}"#);
        assert!(seg.check().unwrap_err().to_string().contains("labels"));
    }

    #[test]
    fn a_missing_model_file_names_the_file_and_the_fix() {
        let s =
            spec(r#"{"name":"s","kind":"segmentation","file":"/nowhere/m.onnx","labels":["a"]}"#);
        let err = s.check().unwrap_err().to_string();
        assert!(
            err.contains("/nowhere/m.onnx") && err.contains("make models"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_and_providers_are_rejected() {
        let typo = r#"{"name":"s","kind":"segmentation","file":"m","labels":["a"],"max_bach":4}"#;
        assert!(serde_json::from_str::<ModelSpec>(typo).is_err());
        let gpu =
            r#"{"name":"s","kind":"segmentation","file":"m","labels":["a"],"provider":"rocm"}"#;
        assert!(serde_json::from_str::<ModelSpec>(gpu).is_err());
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let s = spec(r#"{"name":"s","kind":"segmentation","file":"m","labels":["a"]}"#);
        let settings = InferenceSettings {
            library: PathBuf::new(),
            models: vec![s.clone(), s],
        };
        assert!(settings.check().unwrap_err().to_string().contains("share"));
    }
}
