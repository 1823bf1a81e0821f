//! `RootActor`: the top of the supervision tree. Starts the hub, the outbox relay, the
//! session supervisor, the ledger and the commission settlement job, and restarts
//! whichever of them fails.

use std::sync::Arc;
use std::time::Duration;

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use crate::ask::CALL_TIMEOUT;
use crate::bus::Bus;
use crate::cache::Cache;
use crate::distribution::{SettlementActor, SettlementArgs, SettlementMsg, SettlementSettings};
use crate::hub::{HubActor, HubArgs, HubMsg};
use crate::ledger::{AccountsActor, AccountsMsg, CommitSettings, CommitterActor, CommitterMsg};
use crate::relay::{OutboxRelayActor, RelayArgs, RelayMsg, RelaySettings};
use crate::session::SessionLimits;
use crate::session_supervisor::{SessionSupervisor, SessionSupervisorArgs, SessionSupervisorMsg};
use crate::store::Store;

pub struct RootActor;

/// How long stopping the root may take: each child in turn (see `post_stop`), then
/// the root itself.
pub(crate) const STOP_TIMEOUT: Duration = CALL_TIMEOUT.saturating_mul(7);

#[derive(Clone)]
pub struct RootArgs {
    pub node_id: String,
    pub store: Store,
    pub bus: Arc<dyn Bus>,
    pub cache: Arc<dyn Cache>,
    pub limits: SessionLimits,
    pub sessions_per_user_max: usize,
    pub presence_ttl: Duration,
    pub relay: RelaySettings,
    /// How the ledger forms its batches.
    pub ledger: CommitSettings,
    pub settlement: SettlementSettings,
}

/// The current children; they change when one is restarted.
#[derive(Clone)]
pub struct Children {
    pub hub: ActorRef<HubMsg>,
    pub relay: ActorRef<RelayMsg>,
    pub sessions: ActorRef<SessionSupervisorMsg>,
    pub committer: ActorRef<CommitterMsg>,
    pub accounts: ActorRef<AccountsMsg>,
    pub settlement: ActorRef<SettlementMsg>,
}

pub struct RootState {
    args: RootArgs,
    children: Children,
}

pub enum RootMsg {
    Children(RpcReplyPort<Children>),
}

impl Actor for RootActor {
    type Msg = RootMsg;
    type State = RootState;
    type Arguments = RootArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<RootMsg>,
        args: RootArgs,
    ) -> Result<RootState, ActorProcessingErr> {
        let me = myself.get_cell();
        let hub = spawn_hub(&args, me.clone()).await?;
        let relay = spawn_relay(&args, me.clone()).await?;
        let sessions = spawn_sessions(&args, hub.clone(), me.clone()).await?;
        let committer = spawn_committer(&args, me.clone()).await?;
        let accounts = spawn_accounts(&args, committer.clone(), me.clone()).await?;
        let settlement = spawn_settlement(&args, me).await?;
        let children = Children {
            hub,
            relay,
            sessions,
            committer,
            accounts,
            settlement,
        };
        Ok(RootState { args, children })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<RootMsg>,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        let Children {
            hub,
            relay,
            sessions,
            committer,
            accounts,
            settlement,
        } = &state.children;
        // One at a time, each finishing the message in hand: what is still linked when
        // the root ends is killed mid-message (a write cut off, its callers unanswered).
        let order = [
            settlement.get_cell(),
            accounts.get_cell(),
            committer.get_cell(),
            sessions.get_cell(),
            relay.get_cell(),
            hub.get_cell(),
        ];
        for child in order {
            if let Err(e) = child.stop_and_wait(None, Some(CALL_TIMEOUT)).await {
                tracing::warn!(error = %e, "a child did not stop in time; it is killed");
            }
        }
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<RootMsg>,
        msg: RootMsg,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RootMsg::Children(reply) => {
                let _ = reply.send(state.children.clone());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<RootMsg>,
        event: SupervisionEvent,
        state: &mut RootState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, why) = match event {
            SupervisionEvent::ActorFailed(cell, error) => (cell, error.to_string()),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, reason.unwrap_or_else(|| "stopped".into()))
            }
            _ => return Ok(()),
        };
        let me = myself.get_cell();
        let children = &mut state.children;
        if cell.get_id() == children.hub.get_id() {
            tracing::error!(%why, "hub ended; restarting it and closing its sessions");
            children.hub = spawn_hub(&state.args, me).await?;
            let _ = children
                .sessions
                .cast(SessionSupervisorMsg::HubRestarted(children.hub.clone()));
        } else if cell.get_id() == children.relay.get_id() {
            tracing::error!(%why, "outbox relay ended; restarting it");
            children.relay = spawn_relay(&state.args, me).await?;
        } else if cell.get_id() == children.committer.get_id() {
            tracing::error!(%why, "ledger committer ended; restarting it");
            children.committer = spawn_committer(&state.args, me).await?;
            let _ = children
                .accounts
                .cast(AccountsMsg::CommitterRestarted(children.committer.clone()));
        } else if cell.get_id() == children.accounts.get_id() {
            tracing::error!(%why, "ledger account registry ended; restarting it");
            cell.stop_children(None);
            children.accounts = spawn_accounts(&state.args, children.committer.clone(), me).await?;
        } else if cell.get_id() == children.settlement.get_id() {
            tracing::error!(%why, "commission settlement ended; restarting it");
            children.settlement = spawn_settlement(&state.args, me).await?;
        } else if cell.get_id() == children.sessions.get_id() {
            tracing::error!(%why, "session supervisor ended; restarting it");
            cell.stop_children(None);
            children.sessions = spawn_sessions(&state.args, children.hub.clone(), me).await?;
        }
        metrics::counter!("medrt_actor_restarts_total").increment(1);
        Ok(())
    }
}

async fn spawn_hub(
    args: &RootArgs,
    root: ActorCell,
) -> Result<ActorRef<HubMsg>, ActorProcessingErr> {
    let hub_args = HubArgs {
        node_id: args.node_id.clone(),
        bus: args.bus.clone(),
        cache: args.cache.clone(),
        store: args.store.clone(),
        sessions_per_user_max: args.sessions_per_user_max,
        presence_ttl: args.presence_ttl,
    };
    Ok(Actor::spawn_linked(None, HubActor, hub_args, root).await?.0)
}

async fn spawn_relay(
    args: &RootArgs,
    root: ActorCell,
) -> Result<ActorRef<RelayMsg>, ActorProcessingErr> {
    let relay_args = RelayArgs {
        store: args.store.clone(),
        bus: args.bus.clone(),
        settings: args.relay.clone(),
    };
    Ok(
        Actor::spawn_linked(None, OutboxRelayActor, relay_args, root)
            .await?
            .0,
    )
}

async fn spawn_sessions(
    args: &RootArgs,
    hub: ActorRef<HubMsg>,
    root: ActorCell,
) -> Result<ActorRef<SessionSupervisorMsg>, ActorProcessingErr> {
    let sup_args = SessionSupervisorArgs {
        hub,
        store: args.store.clone(),
        limits: args.limits.clone(),
    };
    Ok(Actor::spawn_linked(None, SessionSupervisor, sup_args, root)
        .await?
        .0)
}

async fn spawn_committer(
    args: &RootArgs,
    root: ActorCell,
) -> Result<ActorRef<CommitterMsg>, ActorProcessingErr> {
    Ok(Actor::spawn_linked(
        None,
        CommitterActor,
        (args.store.clone(), args.ledger),
        root,
    )
    .await?
    .0)
}

async fn spawn_accounts(
    args: &RootArgs,
    committer: ActorRef<CommitterMsg>,
    root: ActorCell,
) -> Result<ActorRef<AccountsMsg>, ActorProcessingErr> {
    Ok(
        Actor::spawn_linked(None, AccountsActor, (args.store.clone(), committer), root)
            .await?
            .0,
    )
}

async fn spawn_settlement(
    args: &RootArgs,
    root: ActorCell,
) -> Result<ActorRef<SettlementMsg>, ActorProcessingErr> {
    let settlement = SettlementArgs {
        store: args.store.clone(),
        settings: args.settlement.clone(),
    };
    Ok(Actor::spawn_linked(None, SettlementActor, settlement, root)
        .await?
        .0)
}
