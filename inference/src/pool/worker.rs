//! `WorkerActor`: one instance of a model, owned by its own OS thread (inference never
//! runs on the async runtime). The actor hands the thread one batch at a time and
//! answers the batch's callers. If the model errors or the thread panics, the callers get
//! `Failed` and the actor fails, so its batcher builds a replacement with a fresh model.

use std::marker::PhantomData;
use std::sync::{Arc, mpsc};

use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::oneshot;

use super::batcher::BatcherMsg;
use super::meters::Meters;
use super::model::{Model, ModelFactory};
use super::request::{Reply, Request};
use crate::error::{InferenceError, RunError, StartupError};

pub(crate) struct WorkerActor<F>(PhantomData<fn() -> F>);

impl<F> WorkerActor<F> {
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

pub(crate) struct WorkerArgs<F: ModelFactory> {
    pub model: String,
    pub index: usize,
    pub factory: Arc<F>,
    pub batcher: ActorRef<BatcherMsg<F::Model>>,
    pub meters: Meters,
}

pub(crate) enum WorkerMsg<M: Model> {
    /// Run these requests as one batch and answer each of them.
    Run(Vec<Request<M::Input, M::Output>>),
}

type Outputs<M> = Result<Vec<<M as Model>::Output>, RunError>;

struct Job<M: Model> {
    inputs: Vec<M::Input>,
    done: oneshot::Sender<Outputs<M>>,
}

pub(crate) struct WorkerState<F: ModelFactory> {
    args: WorkerArgs<F>,
    /// Dropping it ends the thread, and with it the model's session.
    jobs: mpsc::Sender<Job<F::Model>>,
}

impl<F: ModelFactory> Actor for WorkerActor<F> {
    type Msg = WorkerMsg<F::Model>;
    type State = WorkerState<F>;
    type Arguments = WorkerArgs<F>;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: WorkerArgs<F>,
    ) -> Result<WorkerState<F>, ActorProcessingErr> {
        let (jobs, queue) = mpsc::channel();
        let (ready, built) = oneshot::channel();
        let factory = args.factory.clone();
        std::thread::Builder::new()
            .name(format!("infer-{}-{}", args.model, args.index))
            .spawn(move || serve(factory.as_ref(), queue, ready))?;
        match built.await {
            Ok(Ok(())) => Ok(WorkerState { args, jobs }),
            Ok(Err(startup)) => Err(Box::new(startup)),
            Err(_) => Err(Box::new(StartupError::Session {
                model: args.model,
                reason: "the worker thread died while building its model".into(),
            })),
        }
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        WorkerMsg::Run(batch): Self::Msg,
        state: &mut WorkerState<F>,
    ) -> Result<(), ActorProcessingErr> {
        let mut inputs = Vec::with_capacity(batch.len());
        let mut callers = Vec::with_capacity(batch.len());
        for request in batch {
            inputs.push(request.input);
            callers.push((request.reply, request.enqueued));
        }
        let (done, outputs) = oneshot::channel();
        let outcome = match state.jobs.send(Job { inputs, done }) {
            Ok(()) => outputs
                .await
                .unwrap_or_else(|_| Err(RunError::Runtime("the worker thread panicked".into()))),
            Err(_) => Err(RunError::Runtime("the worker thread is gone".into())),
        };
        let outcome = outcome.and_then(|outputs| {
            if outputs.len() == callers.len() {
                Ok(outputs)
            } else {
                Err(RunError::OutputCount {
                    expected: callers.len(),
                    got: outputs.len(),
                })
            }
        });
        let meters = &state.args.meters;
        match outcome {
            Ok(outputs) => {
                for ((reply, enqueued), output) in callers.into_iter().zip(outputs) {
                    meters.served(enqueued.elapsed());
                    let _ = reply.send(Ok(output));
                }
                state.args.batcher.cast(BatcherMsg::WorkerIdle(myself))?;
                Ok(())
            }
            Err(run) => {
                let error = InferenceError::Failed {
                    model: state.args.model.clone(),
                    reason: run.to_string(),
                };
                fail_all(callers, &error, meters);
                // Failing the actor makes the batcher rebuild the model from scratch.
                Err(Box::new(run))
            }
        }
    }
}

fn fail_all<O>(
    callers: Vec<(Reply<O>, tokio::time::Instant)>,
    error: &InferenceError,
    meters: &Meters,
) {
    for (reply, _) in callers {
        meters.count_error(error);
        let _ = reply.send(Err(error.clone()));
    }
}

/// The worker thread: build the model, then run jobs until the actor lets go.
fn serve<F: ModelFactory>(
    factory: &F,
    jobs: mpsc::Receiver<Job<F::Model>>,
    ready: oneshot::Sender<Result<(), StartupError>>,
) {
    let mut model = match factory.build() {
        Ok(model) => model,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    while let Ok(job) = jobs.recv() {
        let _ = job.done.send(model.run(job.inputs));
    }
}
