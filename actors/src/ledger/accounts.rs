//! `AccountsActor`: the registry of live `AccountActor`s on this node, spawning one on
//! an account's first request and forgetting it when it ends.

use std::collections::HashMap;

use foldhash::fast::RandomState;

use medrt_domain::ledger::{AccountRef, TransferSpec};
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use super::account::{AccountActor, AccountArgs, AccountMsg, SubmitReply};
use super::committer::{CommitError, CommitterMsg};
use crate::store::Store;

pub struct AccountsActor;

pub struct AccountsState {
    store: Store,
    committer: ActorRef<CommitterMsg>,
    /// Looked up on every request: foldhash, not SipHash.
    live: HashMap<AccountRef, ActorRef<AccountMsg>, RandomState>,
    by_id: HashMap<ActorId, AccountRef>,
}

pub enum AccountsMsg {
    /// Routes a group to the actor of the account it spends from.
    Submit {
        group: Vec<TransferSpec>,
        reply: SubmitReply,
    },
    /// An idle account actor asks to retire; `true` once it no longer gets requests.
    Retire {
        account: AccountRef,
        id: ActorId,
        reply: RpcReplyPort<bool>,
    },
    /// The committer was replaced: account actors holding the old one are stopped and
    /// come back on demand.
    CommitterRestarted(ActorRef<CommitterMsg>),
}

impl Actor for AccountsActor {
    type Msg = AccountsMsg;
    type State = AccountsState;
    type Arguments = (Store, ActorRef<CommitterMsg>);

    async fn pre_start(
        &self,
        _: ActorRef<AccountsMsg>,
        (store, committer): Self::Arguments,
    ) -> Result<AccountsState, ActorProcessingErr> {
        Ok(AccountsState {
            store,
            committer,
            live: HashMap::default(),
            by_id: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<AccountsMsg>,
        msg: AccountsMsg,
        state: &mut AccountsState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            AccountsMsg::Submit { group, reply } => {
                let Some(account) = group.first().map(|s| s.debit) else {
                    let _ = reply.send(Err(CommitError("an empty request moves nothing".into())));
                    return Ok(());
                };
                let actor = match state.live.get(&account) {
                    Some(actor) => actor.clone(),
                    None => {
                        let args = AccountArgs {
                            registry: myself.clone(),
                            account,
                            store: state.store.clone(),
                            committer: state.committer.clone(),
                        };
                        match Actor::spawn_linked(None, AccountActor, args, myself.get_cell()).await
                        {
                            Ok((actor, _)) => {
                                state.by_id.insert(actor.get_id(), account);
                                state.live.insert(account, actor.clone());
                                actor
                            }
                            Err(e) => {
                                let _ = reply
                                    .send(Err(CommitError(format!("account unavailable: {e}"))));
                                return Ok(());
                            }
                        }
                    }
                };
                if let Err(ractor::MessagingErr::SendErr(AccountMsg::Submit { reply, .. })) =
                    actor.cast(AccountMsg::Submit { group, reply })
                {
                    let _ = reply.send(Err(CommitError("account actor stopped; retry".into())));
                }
            }
            AccountsMsg::Retire { account, id, reply } => {
                let current = state.live.get(&account).is_some_and(|a| a.get_id() == id);
                if current {
                    state.live.remove(&account);
                    state.by_id.remove(&id);
                }
                let _ = reply.send(current);
            }
            AccountsMsg::CommitterRestarted(committer) => {
                state.committer = committer;
                for actor in state.live.values() {
                    actor.stop(Some("committer restarted".into()));
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _: ActorRef<AccountsMsg>,
        event: SupervisionEvent,
        state: &mut AccountsState,
    ) -> Result<(), ActorProcessingErr> {
        let ended = match event {
            SupervisionEvent::ActorTerminated(cell, _, _) => cell,
            SupervisionEvent::ActorFailed(cell, error) => {
                tracing::error!(%error, "account actor failed; it is re-created from the database on its next request");
                cell
            }
            _ => return Ok(()),
        };
        if let Some(account) = state.by_id.remove(&ended.get_id()) {
            state.live.remove(&account);
        }
        Ok(())
    }
}
