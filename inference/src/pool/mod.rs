//! The inference pool (after Triton's dynamic batcher): callers send single requests and
//! await the reply; a batcher per model forms batches and hands each to an idle worker,
//! every worker owning its model on its own thread.
//!
//! - [`model`]: what a pool runs (`Model`) and how workers build it (`ModelFactory`).
//! - `batcher`: queue, batching, backpressure, deadlines, worker supervision.
//! - `worker`: one model instance on a dedicated OS thread.

mod alarm;
mod batcher;
mod meters;
pub mod model;
mod request;
mod worker;

use std::sync::Arc;

use ractor::{Actor, ActorRef};
use tokio::sync::oneshot;
use tokio::time::Instant;

use self::batcher::{BatcherActor, BatcherArgs, BatcherMsg, spawn_worker};
use self::meters::Meters;
pub use self::model::{Model, ModelFactory};
use self::request::Request;
use crate::batching::BatchPolicy;
use crate::error::{InferenceError, StartupError};

/// A handle on one model's pool; cheap to clone.
pub struct Pool<M: Model> {
    model: Arc<str>,
    batcher: ActorRef<BatcherMsg<M>>,
}

impl<M: Model> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Self {
            model: self.model.clone(),
            batcher: self.batcher.clone(),
        }
    }
}

impl<M: Model> Pool<M> {
    /// Starts the batcher and `workers` workers, each building its own model; fails if
    /// any of them cannot.
    pub async fn start<F>(
        model: &str,
        factory: F,
        policy: BatchPolicy,
        workers: usize,
    ) -> Result<Self, StartupError>
    where
        F: ModelFactory<Model = M>,
    {
        let meters = Meters::new(model);
        let factory = Arc::new(factory);
        let args = BatcherArgs {
            model: model.to_owned(),
            factory: factory.clone(),
            policy,
            meters: meters.clone(),
        };
        let (batcher, _) = Actor::spawn(None, BatcherActor::new(), args)
            .await
            .map_err(|e| StartupError::Pool {
                model: model.to_owned(),
                reason: e.to_string(),
            })?;
        for index in 0..workers {
            match spawn_worker(
                &batcher,
                model.to_owned(),
                index,
                factory.clone(),
                meters.clone(),
            )
            .await
            {
                Ok(worker) => batcher.cast(BatcherMsg::WorkerReady(worker)).map_err(|e| {
                    StartupError::Pool {
                        model: model.to_owned(),
                        reason: e.to_string(),
                    }
                })?,
                Err(e) => {
                    batcher.stop(None);
                    return Err(e);
                }
            }
        }
        Ok(Self {
            model: model.into(),
            batcher,
        })
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Runs `input` in the next batch and returns its output.
    pub async fn infer(&self, input: M::Input) -> Result<M::Output, InferenceError> {
        self.infer_before(input, None).await
    }

    /// As [`Pool::infer`], but the request is dropped unrun (`DeadlineExceeded`) if no
    /// batch has taken it by `deadline`.
    pub async fn infer_before(
        &self,
        input: M::Input,
        deadline: Option<Instant>,
    ) -> Result<M::Output, InferenceError> {
        let (reply, answer) = oneshot::channel();
        let request = Request {
            input,
            enqueued: Instant::now(),
            deadline,
            reply,
        };
        let stopped = || InferenceError::Stopped(self.model.to_string());
        self.batcher
            .cast(BatcherMsg::Infer(request))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Stops the batcher and its workers; queued requests get `Stopped`.
    pub async fn stop(&self) {
        let _ = self.batcher.stop_and_wait(None, None).await;
    }
}
