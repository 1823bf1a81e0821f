//! CT segmentation through the pool. The contract any registered model must meet:
//! input `[N,1,H,W]` f32 Hounsfield units, output `[N,C,H,W]` per-label scores, `C` =
//! the spec's `labels`. Slices of different sizes may share a batch; each run of equal
//! size goes to the model as one tensor.

use std::sync::Arc;

use ort::session::Session;
use ort::value::Tensor;

use crate::error::{InferenceError, RunError, StartupError};
use crate::pool::{Model, ModelFactory, Pool};
use crate::provider::ExecutionProvider;
use crate::registry::ModelSpec;
use crate::runtime::OrtRuntime;

/// One axial slice in HU, row-major, `height × width` values; possibly a plane of a
/// shared volume, so a series is segmented without copying it slice by slice.
#[derive(Clone, Debug, PartialEq)]
pub struct Slice {
    height: usize,
    width: usize,
    data: Arc<Vec<f32>>,
    start: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {height}×{width} slice needs {expected} values, got {got}")]
pub struct SliceShapeError {
    pub height: usize,
    pub width: usize,
    pub expected: usize,
    pub got: usize,
}

impl Slice {
    pub fn new(height: usize, width: usize, hu: Vec<f32>) -> Result<Self, SliceShapeError> {
        let expected = height * width;
        if expected == 0 || hu.len() != expected {
            return Err(SliceShapeError {
                height,
                width,
                expected,
                got: hu.len(),
            });
        }
        Ok(Self {
            height,
            width,
            data: Arc::new(hu),
            start: 0,
        })
    }

    /// Plane `index` of a volume of `height × width` planes.
    pub fn in_volume(
        volume: Arc<Vec<f32>>,
        index: usize,
        height: usize,
        width: usize,
    ) -> Result<Self, SliceShapeError> {
        let expected = height * width;
        let start = index * expected;
        if expected == 0 || volume.len() < start + expected {
            return Err(SliceShapeError {
                height,
                width,
                expected,
                got: volume.len().saturating_sub(start),
            });
        }
        Ok(Self {
            height,
            width,
            data: volume,
            start,
        })
    }

    pub fn dims(&self) -> (usize, usize) {
        (self.height, self.width)
    }

    pub fn hu(&self) -> &[f32] {
        &self.data[self.start..self.start + self.height * self.width]
    }
}

/// Per-label scores for one slice, `[labels, height, width]` row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct LabelScores {
    pub labels: usize,
    pub height: usize,
    pub width: usize,
    pub scores: Vec<f32>,
}

impl LabelScores {
    pub fn score(&self, label: usize, y: usize, x: usize) -> f32 {
        self.scores[(label * self.height + y) * self.width + x]
    }

    /// Writes the best-scoring label of each pixel into `out` (`height × width` values,
    /// row-major); ties go to the lower label.
    pub fn argmax_into(&self, out: &mut [u8]) {
        let plane = self.height * self.width;
        // Reads each label's plane sequentially (one stream per label), allocates nothing.
        for (p, slot) in out[..plane].iter_mut().enumerate() {
            let (mut label, mut best) = (0, self.scores[p]);
            for l in 1..self.labels {
                let score = self.scores[l * plane + p];
                if score > best {
                    (label, best) = (l, score);
                }
            }
            *slot = label as u8;
        }
    }
}

pub struct SegmentationModel {
    session: Session,
    input: String,
    labels: usize,
}

impl SegmentationModel {
    fn run_same_size(&mut self, slices: &[Slice]) -> Result<Vec<LabelScores>, RunError> {
        let (height, width) = slices[0].dims();
        let mut hu = Vec::with_capacity(slices.len() * height * width);
        for slice in slices {
            hu.extend_from_slice(slice.hu());
        }
        let tensor = Tensor::from_array(([slices.len(), 1, height, width], hu))?;
        let outputs = self
            .session
            .run(ort::inputs![self.input.as_str() => tensor])?;
        let (shape, values) = outputs[0].try_extract_tensor::<f32>()?;
        let expected = [slices.len(), self.labels, height, width].map(|d| d as i64);
        if shape[..] != expected[..] {
            return Err(RunError::Runtime(format!(
                "expected scores {expected:?}, got {shape:?}"
            )));
        }
        Ok(values
            .chunks_exact(self.labels * height * width)
            .map(|scores| LabelScores {
                labels: self.labels,
                height,
                width,
                scores: scores.to_vec(),
            })
            .collect())
    }
}

impl Model for SegmentationModel {
    type Input = Slice;
    type Output = LabelScores;

    fn run(&mut self, batch: Vec<Slice>) -> Result<Vec<LabelScores>, RunError> {
        let mut out = Vec::with_capacity(batch.len());
        let mut start = 0;
        while start < batch.len() {
            let dims = batch[start].dims();
            let len = batch[start..]
                .iter()
                .take_while(|s| s.dims() == dims)
                .count();
            out.extend(self.run_same_size(&batch[start..start + len])?);
            start += len;
        }
        Ok(out)
    }
}

pub struct SegmentationFactory {
    pub runtime: OrtRuntime,
    pub spec: ModelSpec,
    pub provider: ExecutionProvider,
}

impl ModelFactory for SegmentationFactory {
    type Model = SegmentationModel;

    fn build(&self) -> Result<SegmentationModel, StartupError> {
        let session = self.runtime.session(&self.spec, self.provider)?;
        let input = session
            .inputs()
            .first()
            .map(|i| i.name().to_owned())
            .ok_or_else(|| StartupError::Session {
                model: self.spec.name.clone(),
                reason: "the model has no input".into(),
            })?;
        Ok(SegmentationModel {
            session,
            input,
            labels: self.spec.labels.len(),
        })
    }
}

/// What callers hold: the label names + the model's pool.
#[derive(Clone)]
pub struct Segmenter {
    labels: Arc<[String]>,
    pool: Pool<SegmentationModel>,
}

impl Segmenter {
    pub fn new(labels: Vec<String>, pool: Pool<SegmentationModel>) -> Self {
        Self {
            labels: labels.into(),
            pool,
        }
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn pool(&self) -> &Pool<SegmentationModel> {
        &self.pool
    }

    pub async fn segment(&self, slice: Slice) -> Result<LabelScores, InferenceError> {
        self.pool.infer(slice).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slice_must_hold_height_times_width_values() {
        assert!(Slice::new(2, 3, vec![0.0; 6]).is_ok());
        let err = Slice::new(2, 3, vec![0.0; 5]).unwrap_err();
        assert_eq!(err.expected, 6);
        assert!(Slice::new(0, 3, vec![]).is_err());
    }

    #[test]
    fn argmax_picks_the_best_label_per_pixel() {
        // Two labels over a 1×2 slice: pixel 0 prefers label 1, pixel 1 label 0.
        let scores = LabelScores {
            labels: 2,
            height: 1,
            width: 2,
            scores: vec![0.2, 0.9, 0.8, 0.1],
        };
        let mut labels = [9u8; 2];
        scores.argmax_into(&mut labels);
        assert_eq!(labels, [1, 0]);
        assert_eq!(scores.score(1, 0, 0), 0.8);
    }
}
