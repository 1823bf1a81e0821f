//! The pool's metrics, labelled by model: queue length, batch sizes, request latency
//! (queued + run) and errors by kind.

use std::time::Duration;

use metrics::{Gauge, Histogram};

use crate::error::InferenceError;

#[derive(Clone)]
pub(crate) struct Meters {
    model: String,
    pub queue: Gauge,
    pub batch_size: Histogram,
    pub latency: Histogram,
}

impl Meters {
    pub fn new(model: &str) -> Self {
        let label = model.to_owned();
        Self {
            model: label.clone(),
            queue: metrics::gauge!("medrt_inference_queue_length", "model" => label.clone()),
            batch_size: metrics::histogram!("medrt_inference_batch_size", "model" => label.clone()),
            latency: metrics::histogram!("medrt_inference_latency_seconds", "model" => label),
        }
    }

    pub fn served(&self, waited: Duration) {
        self.latency.record(waited.as_secs_f64());
    }

    pub fn count_error(&self, error: &InferenceError) {
        let kind = match error {
            InferenceError::Overloaded { .. } => "overloaded",
            InferenceError::DeadlineExceeded { .. } => "deadline",
            InferenceError::Failed { .. } => "failed",
            InferenceError::Input { .. } => "input",
            InferenceError::UnknownModel(_) => "unknown_model",
            InferenceError::Stopped(_) => "stopped",
        };
        metrics::counter!("medrt_inference_errors_total", "model" => self.model.clone(), "kind" => kind)
            .increment(1);
    }
}
