//! What a pool runs: a model that turns a batch of inputs into one output each, built on
//! (and owned by) a worker's own thread.

use crate::error::{RunError, StartupError};

pub trait Model: Send + 'static {
    type Input: Send + 'static;
    type Output: Send + 'static;

    /// Runs one batch; returns exactly one output per input, in input order.
    fn run(&mut self, batch: Vec<Self::Input>) -> Result<Vec<Self::Output>, RunError>;
}

/// Builds a fresh model for a worker: at start and again after the worker failed.
pub trait ModelFactory: Send + Sync + 'static {
    type Model: Model;

    fn build(&self) -> Result<Self::Model, StartupError>;
}
