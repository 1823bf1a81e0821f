//! `CommitterActor`: group commit. Transfers arriving while a batch is being written
//! wait in the mailbox and go out together in the next transaction; every caller is
//! answered only after its batch has committed.

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
        Ok(CommitterState {
            store,
            batch_max: batch_max.max(1),
            waiting: Vec::new(),
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
                if !state.flush_queued {
                    state.flush_queued = true;
                    myself.cast(CommitterMsg::Flush)?;
                }
            }
            CommitterMsg::Flush => {
                state.flush_queued = false;
                let take = state.waiting.len().min(state.batch_max);
                let batch: Vec<_> = state.waiting.drain(..take).collect();
                let (groups, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
                metrics::histogram!("medrt_ledger_batch_size").record(groups.len() as f64);
                let mut result = state.store.ledger().commit(&groups).await;
                for attempt in 0..TRANSIENT_RETRIES {
                    match &result {
                        Err(e) if e.is_transient() => {
                            metrics::counter!("medrt_ledger_batch_retries_total").increment(1);
                            tracing::warn!(error = %e, attempt, "ledger batch hit a lock; retrying");
                            tokio::time::sleep(std::time::Duration::from_millis(20 << attempt))
                                .await;
                            result = state.store.ledger().commit(&groups).await;
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
                if !state.waiting.is_empty() {
                    state.flush_queued = true;
                    myself.cast(CommitterMsg::Flush)?;
                }
            }
        }
        Ok(())
    }
}
