//! `HubActor`: one per node. Knows which local sessions listen to which topic and
//! delivers every bus event to them; keeps this node's presence in the cache.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use medrt_domain::ids::UserId;
use medrt_domain::topic::Topic;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::task::JoinHandle;

use crate::bus::{Bus, Delivery};
use crate::cache::Cache;
use crate::distribution::{DistributorsActor, DistributorsArgs, DistributorsMsg};
use crate::session::SessionMsg;
use crate::store::Store;

pub struct HubActor;

pub struct HubArgs {
    pub node_id: String,
    pub bus: Arc<dyn Bus>,
    pub cache: Arc<dyn Cache>,
    pub store: Store,
    pub sessions_per_user_max: usize,
    pub presence_ttl: Duration,
}

pub struct HubState {
    args: HubArgs,
    sessions: HashMap<ActorId, SessionEntry>,
    per_user: HashMap<UserId, usize>,
    topics: HashMap<Topic, HashMap<ActorId, ActorRef<SessionMsg>>>,
    bus_listener: JoinHandle<()>,
    /// Commission events go through the distributor's actor, which adds fresh totals.
    distributors: ActorRef<DistributorsMsg>,
}

struct SessionEntry {
    user: UserId,
    actor: ActorRef<SessionMsg>,
    topics: Vec<Topic>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("too many open sessions for this user (at most {0})")]
    TooManySessions(usize),
}

pub enum HubMsg {
    /// A session starts; refused when the user already has too many on this node.
    Join {
        user: UserId,
        session: ActorRef<SessionMsg>,
        reply: RpcReplyPort<Result<(), JoinError>>,
    },
    /// A session ended (normally or by failure).
    Leave {
        session: ActorId,
    },
    /// Replies once the subscription is in place, so replay can start without a gap.
    Subscribe {
        session: ActorId,
        topic: Topic,
        reply: RpcReplyPort<()>,
    },
    Unsubscribe {
        session: ActorId,
        topic: Topic,
    },
    /// An event arrived from the bus.
    Deliver(Arc<Delivery>),
    /// A commission event, completed by its distributor's actor, for the sessions.
    Push(Arc<Delivery>),
    /// The bus subscription ended: the hub must be restarted to resubscribe.
    BusClosed,
    /// Refresh this node's liveness in the cache.
    Heartbeat,
}

impl Actor for HubActor {
    type Msg = HubMsg;
    type State = HubState;
    type Arguments = HubArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<HubMsg>,
        args: HubArgs,
    ) -> Result<HubState, ActorProcessingErr> {
        let mut events = args.bus.subscribe().await?;
        let me = myself.clone();
        let bus_listener = tokio::spawn(async move {
            while let Some(delivery) = events.next().await {
                if me.cast(HubMsg::Deliver(delivery)).is_err() {
                    return;
                }
            }
            let _ = me.cast(HubMsg::BusClosed);
        });
        args.cache
            .node_alive(&args.node_id, args.presence_ttl)
            .await?;
        myself.send_interval(args.presence_ttl / 3, || HubMsg::Heartbeat);
        let distributors = spawn_distributors(&args, &myself).await?;
        Ok(HubState {
            args,
            sessions: HashMap::new(),
            per_user: HashMap::new(),
            topics: HashMap::new(),
            bus_listener,
            distributors,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<HubMsg>,
        state: &mut HubState,
    ) -> Result<(), ActorProcessingErr> {
        state.bus_listener.abort();
        state.distributors.stop(None);
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<HubMsg>,
        msg: HubMsg,
        state: &mut HubState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            HubMsg::Join {
                user,
                session,
                reply,
            } => {
                let open = state.per_user.get(&user).copied().unwrap_or(0);
                if open >= state.args.sessions_per_user_max {
                    let _ = reply.send(Err(JoinError::TooManySessions(
                        state.args.sessions_per_user_max,
                    )));
                    return Ok(());
                }
                state.sessions.insert(
                    session.get_id(),
                    SessionEntry {
                        user,
                        actor: session,
                        topics: Vec::new(),
                    },
                );
                state.per_user.insert(user, open + 1);
                if open == 0 {
                    state.presence(user, true).await;
                }
                let _ = reply.send(Ok(()));
            }
            HubMsg::Leave { session } => state.leave(session).await,
            HubMsg::Subscribe {
                session,
                topic,
                reply,
            } => {
                if let Some(entry) = state.sessions.get_mut(&session) {
                    if !entry.topics.contains(&topic) {
                        entry.topics.push(topic);
                    }
                    state
                        .topics
                        .entry(topic)
                        .or_default()
                        .insert(session, entry.actor.clone());
                }
                let _ = reply.send(());
            }
            HubMsg::Unsubscribe { session, topic } => {
                if let Some(entry) = state.sessions.get_mut(&session) {
                    entry.topics.retain(|t| *t != topic);
                }
                state.drop_subscriber(topic, session);
            }
            HubMsg::Deliver(delivery) if delivery.event.distributor().is_some() => {
                // Only worth the totals query when someone here listens.
                if state.topics.contains_key(&delivery.topic) {
                    let _ = state
                        .distributors
                        .cast(DistributorsMsg::Committed(delivery));
                }
            }
            HubMsg::Deliver(delivery) | HubMsg::Push(delivery) => state.fan_out(delivery),
            HubMsg::BusClosed => return Err("the bus subscription ended".into()),
            HubMsg::Heartbeat => {
                if let Err(e) = state
                    .args
                    .cache
                    .node_alive(&state.args.node_id, state.args.presence_ttl)
                    .await
                {
                    tracing::warn!(error = %e, "cannot refresh node liveness");
                }
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<HubMsg>,
        event: SupervisionEvent,
        state: &mut HubState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(cell, error) = event
            && cell.get_id() == state.distributors.get_id()
        {
            tracing::error!(%error, "distributor registry failed; restarting it");
            state.distributors = spawn_distributors(&state.args, &myself).await?;
        }
        Ok(())
    }
}

async fn spawn_distributors(
    args: &HubArgs,
    hub: &ActorRef<HubMsg>,
) -> Result<ActorRef<DistributorsMsg>, ActorProcessingErr> {
    let registry = DistributorsArgs {
        store: args.store.clone(),
        hub: hub.clone(),
    };
    Ok(
        Actor::spawn_linked(None, DistributorsActor, registry, hub.get_cell())
            .await?
            .0,
    )
}

impl HubState {
    fn fan_out(&self, delivery: Arc<Delivery>) {
        let Some(subscribers) = self.topics.get(&delivery.topic) else {
            return;
        };
        for session in subscribers.values() {
            let _ = session.cast(SessionMsg::Deliver(delivery.clone()));
        }
        metrics::counter!("medrt_bus_delivered_total").increment(subscribers.len() as u64);
    }

    async fn leave(&mut self, session: ActorId) {
        let Some(entry) = self.sessions.remove(&session) else {
            return;
        };
        for topic in &entry.topics {
            self.drop_subscriber(*topic, session);
        }
        let remaining = self.per_user.get(&entry.user).copied().unwrap_or(1) - 1;
        if remaining == 0 {
            self.per_user.remove(&entry.user);
            self.presence(entry.user, false).await;
        } else {
            self.per_user.insert(entry.user, remaining);
        }
    }

    fn drop_subscriber(&mut self, topic: Topic, session: ActorId) {
        if let Some(subscribers) = self.topics.get_mut(&topic) {
            subscribers.remove(&session);
            if subscribers.is_empty() {
                self.topics.remove(&topic);
            }
        }
    }

    async fn presence(&self, user: UserId, online: bool) {
        let cache = &self.args.cache;
        let node = &self.args.node_id;
        let result = if online {
            cache.presence_join(user, node).await
        } else {
            cache.presence_leave(user, node).await
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, %user, online, "cannot update presence");
        }
    }
}
