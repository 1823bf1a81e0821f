//! `SessionSupervisor`: parent of every `SessionActor` on this node. Opens sessions,
//! and when one ends, normally or by panicking, removes it from the hub so nothing
//! else notices.

use std::time::Duration;

use medrt_domain::rbac::Principal;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SpawnErr, SupervisionEvent};
use tokio::sync::mpsc;

use crate::hub::{HubMsg, JoinError};
use crate::session::{Outbound, SessionActor, SessionArgs, SessionLimits, SessionMsg};
use crate::store::Store;

pub struct SessionSupervisor;

pub struct SessionSupervisorArgs {
    pub hub: ActorRef<HubMsg>,
    pub store: Store,
    pub limits: SessionLimits,
}

pub struct SessionSupervisorState {
    args: SessionSupervisorArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("too many open sessions for this user (at most {0})")]
    TooManySessions(usize),
    #[error("the session could not start")]
    Unavailable,
}

pub enum SessionSupervisorMsg {
    Open {
        principal: Principal,
        outbound: mpsc::Sender<Outbound>,
        reply: RpcReplyPort<Result<ActorRef<SessionMsg>, OpenError>>,
    },
    /// The hub was replaced: sessions registered with the old one are closed so their
    /// clients reconnect (and replay what they missed).
    HubRestarted(ActorRef<HubMsg>),
    /// Close every session (server shutdown); replies when none is left or time is up.
    CloseAll {
        grace: Duration,
        reply: RpcReplyPort<()>,
    },
}

impl Actor for SessionSupervisor {
    type Msg = SessionSupervisorMsg;
    type State = SessionSupervisorState;
    type Arguments = SessionSupervisorArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: SessionSupervisorArgs,
    ) -> Result<SessionSupervisorState, ActorProcessingErr> {
        Ok(SessionSupervisorState { args })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        msg: SessionSupervisorMsg,
        state: &mut SessionSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SessionSupervisorMsg::Open {
                principal,
                outbound,
                reply,
            } => {
                let args = SessionArgs {
                    principal,
                    outbound,
                    hub: state.args.hub.clone(),
                    store: state.args.store.clone(),
                    limits: state.args.limits.clone(),
                };
                let opened =
                    match Actor::spawn_linked(None, SessionActor, args, myself.get_cell()).await {
                        Ok((session, _)) => {
                            metrics::gauge!("medrt_ws_sessions").increment(1.0);
                            Ok(session)
                        }
                        Err(SpawnErr::StartupFailed(e)) => match e.downcast_ref::<JoinError>() {
                            Some(JoinError::TooManySessions(max)) => {
                                Err(OpenError::TooManySessions(*max))
                            }
                            None => {
                                tracing::warn!(error = %e, "session failed to start");
                                Err(OpenError::Unavailable)
                            }
                        },
                        Err(e) => {
                            tracing::warn!(error = %e, "session failed to start");
                            Err(OpenError::Unavailable)
                        }
                    };
                let _ = reply.send(opened);
            }
            SessionSupervisorMsg::HubRestarted(hub) => {
                state.args.hub = hub;
                for child in myself.get_children() {
                    let _ = child.send_message(SessionMsg::Shutdown);
                }
            }
            SessionSupervisorMsg::CloseAll { grace, reply } => {
                for child in myself.get_children() {
                    let _ = child.send_message(SessionMsg::Shutdown);
                }
                // Children end on their own; a separate task watches for that so this
                // actor keeps handling their supervision events (and the hub clean-up)
                // meanwhile.
                tokio::spawn(async move {
                    let deadline = tokio::time::Instant::now() + grace;
                    while !myself.get_children().is_empty()
                        && tokio::time::Instant::now() < deadline
                    {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    myself.stop_children(Some("server shutdown".into()));
                    let _ = reply.send(());
                });
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut SessionSupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let ended = match event {
            SupervisionEvent::ActorTerminated(cell, _, _) => cell,
            SupervisionEvent::ActorFailed(cell, error) => {
                metrics::counter!("medrt_ws_session_failures_total").increment(1);
                tracing::error!(session = %cell.get_id(), %error, "session failed; cleaning up");
                cell
            }
            _ => return Ok(()),
        };
        metrics::gauge!("medrt_ws_sessions").decrement(1.0);
        let _ = state.args.hub.cast(HubMsg::Leave {
            session: ended.get_id(),
        });
        Ok(())
    }
}
