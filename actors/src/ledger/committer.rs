//! `CommitterActor`: group commit. Transfers arriving while a batch is being written
//! wait in the mailbox and go out together in the next transaction; every caller is
//! answered only after its batch has committed. On PostgreSQL a second batch may be
//! written while the first commits (waiting on its WAL flush), so the database is never
//! idle between batches; SQLite has one writer and takes one batch at a time.

use std::time::Duration;

use medrt_domain::ledger::TransferSpec;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::store::{GroupOutcome, Store};

pub struct CommitterActor;

/// How often a batch that hit a transient lock is run again before its callers hear of it.
const TRANSIENT_RETRIES: usize = 3;

/// Where a caller waits for its group's outcome.
pub type CommitReply = RpcReplyPort<Result<GroupOutcome, CommitError>>;

pub struct CommitterState {
    store: Store,
    batch_max: usize,
    waiting: Vec<(Vec<TransferSpec>, CommitReply)>,
    /// Batches being written now, and how many may be.
    writing: usize,
    writers: usize,
    flush_queued: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the ledger could not commit: {0}")]
pub struct CommitError(pub String);

pub enum CommitterMsg {
    Commit {
        group: Vec<TransferSpec>,
        reply: CommitReply,
    },
    /// Write what is waiting (queued behind the requests that arrived first).
    Flush,
    /// A batch was written (or failed) and its callers answered.
    Written,
}

impl Actor for CommitterActor {
    type Msg = CommitterMsg;
    type State = CommitterState;
    type Arguments = (Store, usize);

    async fn pre_start(
        &self,
        _: ActorRef<CommitterMsg>,
        (store, batch_max): (Store, usize),
    ) -> Result<CommitterState, ActorProcessingErr> {
        let writers = store.concurrent_writers();
        Ok(CommitterState {
            store,
            batch_max: batch_max.max(1),
            waiting: Vec::new(),
            writing: 0,
            writers,
            flush_queued: false,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<CommitterMsg>,
        msg: CommitterMsg,
        state: &mut CommitterState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            CommitterMsg::Commit { group, reply } => {
                state.waiting.push((group, reply));
                state.queue_flush(&myself)?;
            }
            CommitterMsg::Flush => {
                state.flush_queued = false;
                if state.can_write() {
                    let take = state.waiting.len().min(state.batch_max);
                    let batch: Vec<_> = state.waiting.drain(..take).collect();
                    state.writing += 1;
                    let (store, me) = (state.store.clone(), myself.clone());
                    // The write runs beside the actor so requests keep queueing meanwhile.
                    tokio::spawn(async move {
                        write(&store, batch).await;
                        let _ = me.cast(CommitterMsg::Written);
                    });
                    state.queue_flush(&myself)?;
                }
            }
            CommitterMsg::Written => {
                state.writing -= 1;
                state.queue_flush(&myself)?;
            }
        }
        Ok(())
    }
}

impl CommitterState {
    /// A writer is free and something waits for it.
    fn can_write(&self) -> bool {
        self.writing < self.writers && !self.waiting.is_empty()
    }

    fn queue_flush(&mut self, myself: &ActorRef<CommitterMsg>) -> Result<(), ActorProcessingErr> {
        if !self.flush_queued && self.can_write() {
            self.flush_queued = true;
            myself.cast(CommitterMsg::Flush)?;
        }
        Ok(())
    }
}

/// Commits one batch, retrying transient lock failures, and answers its callers.
async fn write(store: &Store, batch: Vec<(Vec<TransferSpec>, CommitReply)>) {
    let (groups, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    metrics::histogram!("medrt_ledger_batch_size").record(groups.len() as f64);
    let mut result = store.ledger().commit(&groups).await;
    for attempt in 0..TRANSIENT_RETRIES {
        match &result {
            Err(e) if e.is_transient() => {
                metrics::counter!("medrt_ledger_batch_retries_total").increment(1);
                tracing::warn!(error = %e, attempt, "ledger batch hit a lock; retrying");
                tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
                result = store.ledger().commit(&groups).await;
            }
            _ => break,
        }
    }
    match result {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "ledger batch failed; nothing in it was committed");
            for reply in replies {
                let _ = reply.send(Err(CommitError(e.to_string())));
            }
        }
    }
}
