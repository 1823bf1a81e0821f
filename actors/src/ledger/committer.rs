//! `CommitterActor`: group commit. Transfers arriving while a batch is being written
//! wait in the mailbox and go out together in the next transaction; every caller is
//! answered only after its batch has committed, straight from here, and the account
//! actor that reserved the debit is told the outcome at the same time. Two batches are
//! in flight at once, so the database is never idle between batches: on PostgreSQL the
//! second is written while the first commits (waiting on its WAL flush); on SQLite,
//! which has one writer, the second is prepared and waits for the write lock while the
//! first holds it, and meanwhile the callers of each batch come back for their next.
//!
//! A batch has a fixed cost (a transaction, its statements, its commit) besides what
//! each transfer costs, so when a writer frees up with fewer transfers waiting than the
//! last batch held, it waits up to `commit_delay` for the rest, the callers that batch
//! just answered, to come back (PostgreSQL's `commit_delay` and `commit_siblings` make
//! the same trade). Nothing waits when nothing is expected.

use std::time::Duration;

use medrt_domain::ledger::TransferSpec;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::account::AccountMsg;
use crate::store::{GroupOutcome, Store};

pub struct CommitterActor;

/// Batches written or being prepared at once.
const IN_FLIGHT: usize = 2;

/// How often a batch that hit a transient lock is run again before its callers hear of it.
const TRANSIENT_RETRIES: usize = 3;

/// Where a caller waits for its group's outcome.
pub type CommitReply = RpcReplyPort<Result<GroupOutcome, CommitError>>;

/// How batches are formed.
#[derive(Clone, Copy, Debug)]
pub struct CommitSettings {
    /// Most transfers in one transaction.
    pub batch_max: usize,
    /// Longest a free writer waits for a batch to fill up to the size of the last one.
    pub commit_delay: Duration,
}

impl CommitSettings {
    /// Whether a free writer with `waiting` transfers should wait (up to the delay) for
    /// more, its last batch having held `last_batch`.
    fn worth_waiting(&self, waiting: usize, last_batch: usize) -> bool {
        !self.commit_delay.is_zero() && waiting < last_batch.min(self.batch_max)
    }
}

pub struct CommitterState {
    store: Store,
    settings: CommitSettings,
    waiting: Vec<Submission>,
    /// The size of the last batch written: what a writer may wait for.
    last_batch: usize,
    /// Counts batches, so a delay timer armed for an earlier one is ignored.
    generation: u64,
    /// Where the delay before the next batch stands.
    delay: Delay,
    /// Batches being written now.
    writing: usize,
    flush_queued: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the ledger could not commit: {0}")]
pub struct CommitError(pub String);

/// The commit delay before the next batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delay {
    /// Not started: a free writer may still wait.
    Unarmed,
    /// A writer is waiting; its timer is set.
    Armed,
    /// Waited out: write whatever is there.
    Over,
}

/// One group to commit, who asked for it, and the account actor that reserved it.
pub struct Submission {
    pub group: Vec<TransferSpec>,
    pub reply: CommitReply,
    pub spender: ActorRef<AccountMsg>,
    /// What the spender reserved for it, released when it hears the outcome.
    pub reserved: u64,
}

pub enum CommitterMsg {
    Commit(Submission),
    /// Write what is waiting (queued behind the requests that arrived first).
    Flush,
    /// The commit delay armed while this many batches had been written is over.
    DelayOver(u64),
    /// A batch was written (or failed) and its callers answered.
    Written,
}

impl Actor for CommitterActor {
    type Msg = CommitterMsg;
    type State = CommitterState;
    type Arguments = (Store, CommitSettings);

    async fn pre_start(
        &self,
        _: ActorRef<CommitterMsg>,
        (store, settings): (Store, CommitSettings),
    ) -> Result<CommitterState, ActorProcessingErr> {
        Ok(CommitterState {
            store,
            settings: CommitSettings {
                batch_max: settings.batch_max.max(1),
                ..settings
            },
            waiting: Vec::new(),
            last_batch: 0,
            generation: 0,
            delay: Delay::Unarmed,
            writing: 0,
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
            CommitterMsg::Commit(submission) => {
                state.waiting.push(submission);
                state.queue_flush(&myself)?;
            }
            CommitterMsg::Flush => {
                state.flush_queued = false;
                if state.can_write() {
                    if state.should_wait() {
                        state.arm_delay(&myself);
                        return Ok(());
                    }
                    let take = state.waiting.len().min(state.settings.batch_max);
                    let batch: Vec<_> = state.waiting.drain(..take).collect();
                    state.last_batch = take;
                    state.generation += 1;
                    state.delay = Delay::Unarmed;
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
            CommitterMsg::DelayOver(generation) => {
                if generation == state.generation {
                    state.delay = Delay::Over;
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
        self.writing < IN_FLIGHT && !self.waiting.is_empty()
    }

    /// Fewer wait than the last batch held, and the delay for them is not over.
    fn should_wait(&self) -> bool {
        self.delay != Delay::Over
            && self
                .settings
                .worth_waiting(self.waiting.len(), self.last_batch)
    }

    fn arm_delay(&mut self, myself: &ActorRef<CommitterMsg>) {
        if self.delay == Delay::Unarmed {
            self.delay = Delay::Armed;
            let generation = self.generation;
            myself.send_after(self.settings.commit_delay, move || {
                CommitterMsg::DelayOver(generation)
            });
        }
    }

    fn queue_flush(&mut self, myself: &ActorRef<CommitterMsg>) -> Result<(), ActorProcessingErr> {
        if !self.flush_queued && self.can_write() {
            self.flush_queued = true;
            myself.cast(CommitterMsg::Flush)?;
        }
        Ok(())
    }
}

/// Commits one batch, retrying transient lock failures, and answers its callers and
/// their account actors.
async fn write(store: &Store, batch: Vec<Submission>) {
    let (groups, waiters): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|s| (s.group, (s.reply, s.spender, s.reserved)))
        .unzip();
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
    let outcomes: Vec<Result<GroupOutcome, CommitError>> = match result {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        Err(e) => {
            tracing::error!(error = %e, "ledger batch failed; nothing in it was committed");
            vec![Err(CommitError(e.to_string())); waiters.len()]
        }
    };
    for ((reply, spender, reserved), outcome) in waiters.into_iter().zip(outcomes) {
        let _ = reply.send(outcome.clone());
        let _ = spender.cast(AccountMsg::Settled { reserved, outcome });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(delay_us: u64) -> CommitSettings {
        CommitSettings {
            batch_max: 100,
            commit_delay: Duration::from_micros(delay_us),
        }
    }

    #[test]
    fn a_writer_waits_only_for_callers_it_can_expect() {
        let s = settings(500);
        // A lone caller, answered and back: nobody else is expected.
        assert!(!s.worth_waiting(1, 1));
        // Nothing was written yet (an idle ledger): go at once.
        assert!(!s.worth_waiting(1, 0));
        // The last batch held 80; 30 are back so far.
        assert!(s.worth_waiting(30, 80));
        assert!(!s.worth_waiting(80, 80));
        // Never for more than a batch can hold.
        assert!(!s.worth_waiting(100, 250));
        // No delay configured: never.
        assert!(!settings(0).worth_waiting(30, 80));
    }
}
