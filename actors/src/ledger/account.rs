//! `AccountActor`: one per active account. Serialises what the account spends: each
//! request is checked against the account's live balance minus what is in flight,
//! reserved, and sent to the committer, so many requests of one account share a
//! batch. The database checks again, so a stale view (another node spent meanwhile)
//! can only refuse, never overdraw.

use medrt_domain::ledger::{AccountRef, Balance, Phase, TransferSpec};
use ractor::{Actor, ActorProcessingErr, ActorRef};

use std::time::{Duration, Instant};

use super::accounts::AccountsMsg;
use super::committer::{CommitError, CommitterMsg, Submission};
use crate::ask::{CALL_TIMEOUT, ask};
use crate::store::{GroupOutcome, Store};

pub struct AccountActor;

pub struct AccountArgs {
    pub account: AccountRef,
    /// The registry, asked before this actor retires when idle.
    pub registry: ActorRef<AccountsMsg>,
    pub store: Store,
    pub committer: ActorRef<CommitterMsg>,
}

pub struct AccountState {
    account: AccountRef,
    store: Store,
    committer: ActorRef<CommitterMsg>,
    balance: Balance,
    /// Debits sent to the committer and not yet answered.
    in_flight: u64,
    registry: ActorRef<AccountsMsg>,
    last_active: Instant,
}

/// An account with no request for this long leaves memory; the next request brings
/// it back from the database.
const IDLE_AFTER: Duration = Duration::from_secs(120);

pub type SubmitReply = super::committer::CommitReply;

pub enum AccountMsg {
    Submit {
        group: Vec<TransferSpec>,
        reply: SubmitReply,
    },
    /// Time to see whether the account has been idle long enough to retire.
    IdleCheck,
    /// A submission came back from the committer.
    Settled {
        reserved: u64,
        outcome: Result<GroupOutcome, CommitError>,
    },
}

impl Actor for AccountActor {
    type Msg = AccountMsg;
    type State = AccountState;
    type Arguments = AccountArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<AccountMsg>,
        args: AccountArgs,
    ) -> Result<AccountState, ActorProcessingErr> {
        let balance = args.store.ledger().balance(args.account).await?;
        myself.send_interval(IDLE_AFTER / 4, || AccountMsg::IdleCheck);
        Ok(AccountState {
            account: args.account,
            store: args.store,
            committer: args.committer,
            balance,
            in_flight: 0,
            registry: args.registry,
            last_active: Instant::now(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<AccountMsg>,
        msg: AccountMsg,
        state: &mut AccountState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            AccountMsg::Submit { group, reply } => {
                state.last_active = Instant::now();
                let mut reserved = spending(&state.account, &group);
                if reserved > 0 && state.account.must_stay_non_negative() && !state.covers(reserved)
                {
                    // Our view may be stale (credits from elsewhere): look once more.
                    state.balance = Box::pin(state.store.ledger().balance(state.account)).await?;
                    if !state.covers(reserved) {
                        // Likely refused, but a retry of a request that once succeeded must
                        // get its first answer back: the database decides, unreserved.
                        reserved = 0;
                    }
                }
                let submission = Submission {
                    group,
                    reply,
                    spender: myself.clone(),
                    reserved,
                };
                // The committer answers the caller and then tells this actor (`Settled`).
                match state.committer.cast(CommitterMsg::Commit(submission)) {
                    Ok(()) => state.in_flight += reserved,
                    Err(e) => {
                        if let ractor::MessagingErr::SendErr(CommitterMsg::Commit(s)) = e {
                            let stopped = CommitError("ledger committer stopped; retry".into());
                            let _ = s.reply.send(Err(stopped));
                        }
                    }
                }
            }
            AccountMsg::IdleCheck => {
                if state.in_flight == 0 && state.last_active.elapsed() >= IDLE_AFTER {
                    // The registry stops routing here first; then what is already
                    // queued is handled before the actor ends.
                    let (account, id) = (state.account, myself.get_id());
                    if ask(
                        &state.registry,
                        |reply| AccountsMsg::Retire { account, id, reply },
                        CALL_TIMEOUT,
                    )
                    .await
                        == Ok(true)
                    {
                        myself.drain()?;
                    }
                }
            }
            AccountMsg::Settled { reserved, outcome } => {
                state.in_flight -= reserved;
                if let Ok(GroupOutcome::Committed(transfers)) = outcome {
                    for t in transfers.iter().filter(|t| t.spec.debit == state.account) {
                        match t.spec.phase {
                            Phase::Posted => state.balance.debits_posted += t.spec.amount.get(),
                            Phase::Pending => state.balance.debits_pending += t.spec.amount.get(),
                            // Settlements change what is pending; reload rather than guess.
                            Phase::Post(_) | Phase::Void(_) => {
                                state.balance =
                                    Box::pin(state.store.ledger().balance(state.account)).await?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl AccountState {
    fn covers(&self, amount: u64) -> bool {
        self.balance.available() - i128::from(self.in_flight) >= i128::from(amount)
    }
}

/// What `group` would take from `account`'s available balance.
fn spending(account: &AccountRef, group: &[TransferSpec]) -> u64 {
    group
        .iter()
        .filter(|s| s.debit == *account && matches!(s.phase, Phase::Posted | Phase::Pending))
        .map(|s| s.amount.get())
        .sum()
}
