//! Text embeddings for retrieval: tokenize with the model's own tokenizer (a HuggingFace
//! `tokenizer.json`, converted from its SentencePiece model by `make models`), embed in
//! batches through the pool, return L2-normalised vectors (cosine = dot product).
//!
//! The model takes every sequence of a batch concatenated (`token_ids` int32 [N]) plus
//! where each starts (`row_splits` int64 [B+1]), so batching needs no padding.

use std::sync::Arc;

use ort::session::Session;
use ort::value::Tensor;
use tokenizers::Tokenizer;
use tokio::time::Instant;

use crate::error::{InferenceError, RunError, StartupError};
use crate::pool::{Model, ModelFactory, Pool};
use crate::provider::ExecutionProvider;
use crate::registry::ModelSpec;
use crate::runtime::OrtRuntime;

/// An embedding, L2-normalised.
pub type Embedding = Vec<f32>;

pub struct TextEncoder {
    session: Session,
}

impl Model for TextEncoder {
    type Input = Vec<u32>;
    type Output = Embedding;

    fn run(&mut self, batch: Vec<Vec<u32>>) -> Result<Vec<Embedding>, RunError> {
        let total = batch.iter().map(Vec::len).sum();
        let mut ids = Vec::<i32>::with_capacity(total);
        let mut splits = Vec::<i64>::with_capacity(batch.len() + 1);
        splits.push(0);
        for sequence in &batch {
            // Vocabulary ids fit in i32 (the model's input type) by construction.
            ids.extend(sequence.iter().map(|&id| id as i32));
            splits.push(ids.len() as i64);
        }
        let inputs = ort::inputs![
            "token_ids" => Tensor::from_array(([ids.len()], ids))?,
            "row_splits" => Tensor::from_array(([splits.len()], splits))?,
        ];
        let outputs = self.session.run(inputs)?;
        let (shape, values) = outputs[0].try_extract_tensor::<f32>()?;
        if shape.len() != 2 || shape[0] as usize != batch.len() || shape[1] <= 0 {
            return Err(RunError::Runtime(format!(
                "expected [{}, D] embeddings, got {shape:?}",
                batch.len()
            )));
        }
        Ok(values
            .chunks_exact(shape[1] as usize)
            .map(normalised)
            .collect())
    }
}

fn normalised(v: &[f32]) -> Embedding {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}

pub struct TextEncoderFactory {
    pub runtime: OrtRuntime,
    pub spec: ModelSpec,
    pub provider: ExecutionProvider,
}

impl ModelFactory for TextEncoderFactory {
    type Model = TextEncoder;

    fn build(&self) -> Result<TextEncoder, StartupError> {
        Ok(TextEncoder {
            session: self.runtime.session(&self.spec, self.provider)?,
        })
    }
}

/// Loads a model's `tokenizer.json`.
pub fn load_tokenizer(spec: &ModelSpec) -> Result<Tokenizer, StartupError> {
    let path = spec
        .tokenizer
        .as_ref()
        .ok_or_else(|| StartupError::Settings {
            model: spec.name.clone(),
            reason: "a text_embedding model needs `tokenizer`".into(),
        })?;
    Tokenizer::from_file(path).map_err(|e| StartupError::Settings {
        model: spec.name.clone(),
        reason: format!("cannot read tokenizer {}: {e}", path.display()),
    })
}

/// What callers hold: tokenizer + the model's pool.
#[derive(Clone)]
pub struct TextEmbedder {
    tokenizer: Arc<Tokenizer>,
    pool: Pool<TextEncoder>,
    max_tokens: usize,
}

impl TextEmbedder {
    pub fn new(tokenizer: Tokenizer, pool: Pool<TextEncoder>, max_tokens: usize) -> Self {
        Self {
            tokenizer: Arc::new(tokenizer),
            pool,
            max_tokens: max_tokens.max(2),
        }
    }

    pub fn pool(&self) -> &Pool<TextEncoder> {
        &self.pool
    }

    /// Token ids with the start and end tokens; a long text keeps its first
    /// `max_tokens - 1` tokens and its end token.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, InferenceError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| InferenceError::Input {
                model: self.pool.model().to_owned(),
                reason: e.to_string(),
            })?;
        let mut ids = encoding.get_ids().to_vec();
        if ids.len() > self.max_tokens {
            let end = *ids.last().expect("longer than max_tokens");
            ids.truncate(self.max_tokens - 1);
            ids.push(end);
        }
        Ok(ids)
    }

    pub async fn embed(&self, text: &str) -> Result<Embedding, InferenceError> {
        self.embed_before(text, None).await
    }

    pub async fn embed_before(
        &self,
        text: &str,
        deadline: Option<Instant>,
    ) -> Result<Embedding, InferenceError> {
        let ids = self.tokenize(text)?;
        self.pool.infer_before(ids, deadline).await
    }

    /// Embeds many texts, each as its own request, so they batch with everyone else's.
    pub async fn embed_all<S: AsRef<str>>(
        &self,
        texts: &[S],
    ) -> Result<Vec<Embedding>, InferenceError> {
        let pending = texts.iter().map(|t| self.embed(t.as_ref()));
        futures::future::join_all(pending)
            .await
            .into_iter()
            .collect()
    }
}

/// Cosine similarity of two embeddings.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_come_out_unit_length() {
        let v = normalised(&[3.0, 4.0]);
        assert!((v[0] - 0.6).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6);
        assert_eq!(normalised(&[0.0, 0.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn cosine_of_parallel_orthogonal_and_opposite_vectors() {
        assert!((cosine(&[1.0, 1.0], &[2.0, 2.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
        assert!((cosine(&[1.0, 0.0], &[-1.0, 0.0]) + 1.0).abs() < 1e-6);
    }
}
