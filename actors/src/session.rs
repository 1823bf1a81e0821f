//! `SessionActor`: one per WebSocket connection. Owns the connection's subscriptions,
//! authorizes topics, replays missed events, and feeds the connection's bounded send
//! queue; a client that cannot keep up is cut off rather than buffered without bound.

use std::collections::HashSet;
use std::sync::Arc;

use medrt_domain::ids::EventId;
use medrt_domain::rbac::{Denied, Principal};
use medrt_domain::topic::Topic;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::mpsc::{self, error::TrySendError};

use crate::ask::{CALL_TIMEOUT, ask};
use crate::bus::Delivery;
use crate::hub::HubMsg;
use crate::store::Store;

pub struct SessionActor;

/// Limits that apply to every session.
#[derive(Clone, Debug)]
pub struct SessionLimits {
    pub topics_max: usize,
    pub replay_max: u64,
}

pub struct SessionArgs {
    pub principal: Principal,
    pub outbound: mpsc::Sender<Outbound>,
    pub hub: ActorRef<HubMsg>,
    pub store: Store,
    pub limits: SessionLimits,
}

pub struct SessionState {
    principal: Principal,
    outbound: mpsc::Sender<Outbound>,
    hub: ActorRef<HubMsg>,
    store: Store,
    limits: SessionLimits,
    topics: Vec<Topic>,
    /// Ids just replayed, so the same events arriving live are not sent twice.
    replayed: HashSet<EventId>,
    replayed_max: Option<EventId>,
}

pub enum SessionMsg {
    Subscribe {
        topic: Topic,
        last_event_id: Option<EventId>,
    },
    Unsubscribe {
        topic: Topic,
    },
    Ping,
    Deliver(Arc<Delivery>),
    /// The server is going away: tell the client, then stop.
    Shutdown,
    /// Deliberate crash, only ever sent when fault injection is configured.
    InjectFault,
}

/// What the session asks its connection to send. Kept to two words: every connection's
/// send queue pre-allocates a block of these.
#[derive(Debug)]
pub enum Outbound {
    Event(Arc<Delivery>),
    Pong,
    Reply(Box<Reply>),
    Close(CloseReason),
}

/// Answers to the client's own requests.
#[derive(Debug)]
pub enum Reply {
    Subscribed {
        topic: Topic,
        recovered: Option<bool>,
    },
    Unsubscribed {
        topic: Topic,
    },
    Error {
        code: SessionError,
        message: String,
    },
}

impl From<Reply> for Outbound {
    fn from(reply: Reply) -> Self {
        Outbound::Reply(Box::new(reply))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    Forbidden,
    NotFound,
    TooManyTopics,
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    ServerShutdown,
}

impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        let user = args.principal.user_id;
        let session = myself.clone();
        ask(
            &args.hub,
            |reply| HubMsg::Join {
                user,
                session,
                reply,
            },
            CALL_TIMEOUT,
        )
        .await??;
        Ok(SessionState {
            principal: args.principal,
            outbound: args.outbound,
            hub: args.hub,
            store: args.store,
            limits: args.limits,
            topics: Vec::new(),
            replayed: HashSet::new(),
            replayed_max: None,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        msg: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SessionMsg::Subscribe {
                topic,
                last_event_id,
            } => state.subscribe(&myself, topic, last_event_id).await?,
            SessionMsg::Unsubscribe { topic } => {
                state.topics.retain(|t| *t != topic);
                let _ = state.hub.cast(HubMsg::Unsubscribe {
                    session: myself.get_id(),
                    topic,
                });
                state.push(&myself, Reply::Unsubscribed { topic }.into());
            }
            SessionMsg::Ping => state.push(&myself, Outbound::Pong),
            SessionMsg::Deliver(delivery) => state.deliver(&myself, delivery),
            SessionMsg::Shutdown => {
                state.push(&myself, Outbound::Close(CloseReason::ServerShutdown));
                myself.stop(Some("server shutdown".into()));
            }
            SessionMsg::InjectFault => panic!("fault injected into session {}", myself.get_id()),
        }
        Ok(())
    }
}

impl SessionState {
    async fn subscribe(
        &mut self,
        myself: &ActorRef<SessionMsg>,
        topic: Topic,
        last_event_id: Option<EventId>,
    ) -> Result<(), ActorProcessingErr> {
        if let Err(denied) = topic.authorize(&self.principal) {
            let (code, message) = match denied {
                Denied::Forbidden => (
                    SessionError::Forbidden,
                    "you may not subscribe to this topic",
                ),
                Denied::NotVisible => (SessionError::NotFound, "no such topic"),
            };
            self.push(
                myself,
                Reply::Error {
                    code,
                    message: format!("{message}: {topic}"),
                }
                .into(),
            );
            return Ok(());
        }
        if !self.topics.contains(&topic) {
            if self.topics.len() >= self.limits.topics_max {
                let message = format!("at most {} topics per connection", self.limits.topics_max);
                self.push(
                    myself,
                    Reply::Error {
                        code: SessionError::TooManyTopics,
                        message,
                    }
                    .into(),
                );
                return Ok(());
            }
            let session = myself.get_id();
            ask(
                &self.hub,
                |reply| HubMsg::Subscribe {
                    session,
                    topic,
                    reply,
                },
                CALL_TIMEOUT,
            )
            .await?;
            self.topics.push(topic);
        }
        let Some(after) = last_event_id else {
            self.push(
                myself,
                Reply::Subscribed {
                    topic,
                    recovered: None,
                }
                .into(),
            );
            return Ok(());
        };
        // Boxed: this future is large and rare; inline it would sit in every session's task.
        let outbox = self.store.outbox();
        match Box::pin(outbox.replay(topic, after, self.limits.replay_max)).await {
            Ok(replay) => {
                self.push(
                    myself,
                    Reply::Subscribed {
                        topic,
                        recovered: Some(replay.complete),
                    }
                    .into(),
                );
                for delivery in replay.deliveries {
                    self.replayed.insert(delivery.id);
                    self.replayed_max = self.replayed_max.max(Some(delivery.id));
                    self.push(myself, Outbound::Event(Arc::new(delivery)));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, %topic, "replay failed");
                self.push(
                    myself,
                    Reply::Subscribed {
                        topic,
                        recovered: Some(false),
                    }
                    .into(),
                );
            }
        }
        Ok(())
    }

    fn deliver(&mut self, myself: &ActorRef<SessionMsg>, delivery: Arc<Delivery>) {
        if !self.topics.contains(&delivery.topic) || self.replayed.contains(&delivery.id) {
            return;
        }
        if self.replayed_max.is_some_and(|max| delivery.id > max) {
            // Live events have overtaken the replay: nothing more can be a duplicate.
            self.replayed.clear();
            self.replayed_max = None;
        }
        self.push(myself, Outbound::Event(delivery));
    }

    /// Queues a frame for the client; a full queue means the client is too slow.
    fn push(&self, myself: &ActorRef<SessionMsg>, frame: Outbound) {
        match self.outbound.try_send(frame) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                metrics::counter!("medrt_ws_slow_consumers_total").increment(1);
                tracing::info!(user = %self.principal.user_id, "disconnecting a slow consumer");
                myself.stop(Some("slow consumer".into()));
            }
            Err(TrySendError::Closed(_)) => myself.stop(Some("connection closed".into())),
        }
    }
}

#[cfg(test)]
mod size_probe {
    /// Every connection's send queue holds `Outbound`s: they stay two words.
    #[test]
    fn outbound_frames_stay_two_words() {
        assert!(std::mem::size_of::<super::Outbound>() <= 2 * std::mem::size_of::<usize>());
    }
}
