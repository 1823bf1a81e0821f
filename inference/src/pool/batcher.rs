//! `BatcherActor`: one per model. Queues single requests, forms batches by size or
//! deadline (the policy in `crate::batching`) and hands each to an idle worker. It also
//! supervises the workers: one that fails is replaced by a freshly built one, while the
//! others keep serving.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use tokio::time::Instant;

use super::alarm::Alarm;
use super::meters::Meters;
use super::model::{Model, ModelFactory};
use super::request::Request;
use super::worker::{WorkerActor, WorkerArgs, WorkerMsg};
use crate::batching::{BatchPolicy, Decision};
use crate::error::{InferenceError, StartupError};

/// How long to wait before trying again to build a worker that failed to start.
const REBUILD_BACKOFF: Duration = Duration::from_secs(1);

pub(crate) struct BatcherActor<F>(PhantomData<fn() -> F>);

impl<F> BatcherActor<F> {
    pub fn new() -> Self {
        Self(PhantomData)
    }
}

pub(crate) struct BatcherArgs<F> {
    pub model: String,
    pub factory: Arc<F>,
    pub policy: BatchPolicy,
    pub meters: Meters,
}

pub(crate) enum BatcherMsg<M: Model> {
    Infer(Request<M::Input, M::Output>),
    /// A worker finished its batch and can take another.
    WorkerIdle(ActorRef<WorkerMsg<M>>),
    /// A newly built worker joins the pool.
    WorkerReady(ActorRef<WorkerMsg<M>>),
    /// Build a worker to replace one that failed.
    Rebuild,
    /// The oldest queued request may have waited long enough.
    Tick,
}

type QueuedFor<M> = Request<<M as Model>::Input, <M as Model>::Output>;

pub(crate) struct BatcherState<F: ModelFactory> {
    args: BatcherArgs<F>,
    queue: VecDeque<QueuedFor<F::Model>>,
    idle: Vec<ActorRef<WorkerMsg<F::Model>>>,
    workers: Vec<ActorRef<WorkerMsg<F::Model>>>,
    next_index: usize,
    alarm: Alarm,
}

impl<F: ModelFactory> Actor for BatcherActor<F> {
    type Msg = BatcherMsg<F::Model>;
    type State = BatcherState<F>;
    type Arguments = BatcherArgs<F>;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: BatcherArgs<F>,
    ) -> Result<BatcherState<F>, ActorProcessingErr> {
        let alarm = Alarm::start(format!("batch-{}", args.model), move || {
            myself.cast(BatcherMsg::Tick).is_ok()
        })?;
        Ok(BatcherState {
            args,
            queue: VecDeque::new(),
            idle: Vec::new(),
            workers: Vec::new(),
            next_index: 0,
            alarm,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut BatcherState<F>,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BatcherMsg::Infer(request) => {
                if state.args.policy.admits(state.queue.len()) {
                    state.queue.push_back(request);
                } else {
                    let model = state.args.model.clone();
                    request.fail(InferenceError::Overloaded { model }, &state.args.meters);
                }
            }
            BatcherMsg::WorkerIdle(worker) => {
                if state.workers.iter().any(|w| w.get_id() == worker.get_id()) {
                    state.idle.push(worker);
                }
            }
            BatcherMsg::WorkerReady(worker) => {
                state.workers.push(worker.clone());
                state.idle.push(worker);
            }
            BatcherMsg::Rebuild => rebuild(&myself, state),
            BatcherMsg::Tick => {}
        }
        pump(state);
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut BatcherState<F>,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, why) = match event {
            SupervisionEvent::ActorFailed(cell, error) => (cell, error.to_string()),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, reason.unwrap_or_else(|| "stopped".into()))
            }
            _ => return Ok(()),
        };
        let id = cell.get_id();
        state.workers.retain(|w| w.get_id() != id);
        state.idle.retain(|w| w.get_id() != id);
        tracing::error!(model = %state.args.model, %why, "inference worker ended; rebuilding it");
        rebuild(&myself, state);
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut BatcherState<F>,
    ) -> Result<(), ActorProcessingErr> {
        for worker in &state.workers {
            worker.stop(None);
        }
        let model = state.args.model.clone();
        for request in state.queue.drain(..) {
            request.fail(InferenceError::Stopped(model.clone()), &state.args.meters);
        }
        state.args.meters.queue.set(0.0);
        Ok(())
    }
}

/// Starts one worker under `batcher` and waits until its model is built.
pub(crate) async fn spawn_worker<F: ModelFactory>(
    batcher: &ActorRef<BatcherMsg<F::Model>>,
    model: String,
    index: usize,
    factory: Arc<F>,
    meters: Meters,
) -> Result<ActorRef<WorkerMsg<F::Model>>, StartupError> {
    let args = WorkerArgs {
        model: model.clone(),
        index,
        factory,
        batcher: batcher.clone(),
        meters,
    };
    match Actor::spawn_linked(None, WorkerActor::new(), args, batcher.get_cell()).await {
        Ok((worker, _)) => Ok(worker),
        Err(ractor::SpawnErr::StartupFailed(inner)) => match inner.downcast::<StartupError>() {
            Ok(startup) => Err(*startup),
            Err(other) => Err(StartupError::Pool {
                model,
                reason: other.to_string(),
            }),
        },
        Err(other) => Err(StartupError::Pool {
            model,
            reason: other.to_string(),
        }),
    }
}

/// Builds a replacement worker off the batcher's own loop (a model can take a while to
/// load) and retries after a pause if that fails.
fn rebuild<F: ModelFactory>(myself: &ActorRef<BatcherMsg<F::Model>>, state: &mut BatcherState<F>) {
    state.next_index += 1;
    let (me, model, index) = (myself.clone(), state.args.model.clone(), state.next_index);
    let (factory, meters) = (state.args.factory.clone(), state.args.meters.clone());
    tokio::spawn(async move {
        match spawn_worker(&me, model.clone(), index, factory, meters).await {
            Ok(worker) => {
                let _ = me.cast(BatcherMsg::WorkerReady(worker));
            }
            Err(e) => {
                tracing::error!(%model, error = %e, "could not rebuild an inference worker; retrying");
                me.send_after(REBUILD_BACKOFF, || BatcherMsg::Rebuild);
            }
        }
    });
}

/// Drops expired requests, then dispatches as many batches as the policy allows and
/// idle workers can take; otherwise arranges to look again when the oldest is due.
fn pump<F: ModelFactory>(state: &mut BatcherState<F>) {
    let now = Instant::now();
    if state.queue.iter().any(|r| r.expired(now)) {
        let model = state.args.model.clone();
        let (expired, live) = std::mem::take(&mut state.queue)
            .into_iter()
            .partition::<VecDeque<_>, _>(|r| r.expired(now));
        state.queue = live;
        for request in expired {
            let error = InferenceError::DeadlineExceeded {
                model: model.clone(),
            };
            request.fail(error, &state.args.meters);
        }
    }
    while !state.idle.is_empty() {
        let waited = state.queue.front().map_or(Duration::ZERO, |r| {
            now.saturating_duration_since(r.enqueued)
        });
        match state.args.policy.decide(state.queue.len(), waited) {
            Decision::Dispatch(n) => {
                let batch: Vec<_> = state.queue.drain(..n).collect();
                state.args.meters.batch_size.record(n as f64);
                let worker = state.idle.pop().expect("checked non-empty");
                if let Err(ractor::MessagingErr::SendErr(WorkerMsg::Run(batch))) =
                    worker.cast(WorkerMsg::Run(batch))
                {
                    // The worker died between batches; its requests go back to the front.
                    for request in batch.into_iter().rev() {
                        state.queue.push_front(request);
                    }
                }
            }
            Decision::Wait(after) => {
                state.alarm.set((now + after).into_std());
                break;
            }
            Decision::Idle => break,
        }
    }
    state.args.meters.queue.set(state.queue.len() as f64);
}
