//! `Platform`: the running system as the gateway sees it. Starts the actor tree and
//! offers the operations the edge needs, each with a deadline.

use std::sync::Arc;
use std::time::Duration;

use medrt_domain::ids::UserId;
use medrt_domain::rbac::Principal;
use ractor::{Actor, ActorRef};
use tokio::sync::mpsc;

use crate::ask::{AskError, CALL_TIMEOUT, ask};
use crate::bus::Bus;
use crate::cache::{Cache, CacheError};
use crate::distribution::SettlementMsg;
use crate::ledger::{LedgerFailure, LedgerService};
use crate::relay::RelayMsg;
use crate::root::{Children, RootActor, RootArgs, RootMsg, STOP_TIMEOUT};
use crate::session::{Outbound, SessionMsg};
use crate::session_supervisor::{OpenError, SessionSupervisorMsg};
use crate::store::{Settled, Store};

/// Settling a large backlog takes a while; the caller waits for it.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
#[error("commission settlement failed: {0}")]
pub struct SettleError(pub String);

pub struct Platform {
    store: Store,
    bus: Arc<dyn Bus>,
    cache: Arc<dyn Cache>,
    node_id: String,
    root: ActorRef<RootMsg>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error("the actor system failed to start: {0}")]
    Start(String),
}

/// What `/readyz` reports: each dependency, reachable or the reason it is not.
pub struct Readiness {
    pub database: Result<(), String>,
    pub bus: Result<(), String>,
    pub cache: Result<(), String>,
}

impl Readiness {
    pub fn ready(&self) -> bool {
        self.database.is_ok() && self.bus.is_ok() && self.cache.is_ok()
    }
}

impl Platform {
    pub async fn start(parts: RootArgs) -> Result<Self, PlatformError> {
        let (store, bus, cache, node_id) = (
            parts.store.clone(),
            parts.bus.clone(),
            parts.cache.clone(),
            parts.node_id.clone(),
        );
        let (root, _) = Actor::spawn(None, RootActor, parts)
            .await
            .map_err(|e| PlatformError::Start(e.to_string()))?;
        Ok(Self {
            store,
            bus,
            cache,
            node_id,
            root,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn bus_kind(&self) -> &'static str {
        self.bus.kind()
    }

    pub fn cache(&self) -> &dyn Cache {
        self.cache.as_ref()
    }

    async fn children(&self) -> Result<Children, AskError> {
        ask(&self.root, RootMsg::Children, CALL_TIMEOUT).await
    }

    /// Starts a session for an authenticated connection; frames for the client arrive
    /// on the other end of `outbound`.
    pub async fn open_session(
        &self,
        principal: Principal,
        outbound: mpsc::Sender<Outbound>,
    ) -> Result<ActorRef<SessionMsg>, OpenError> {
        let sessions = self
            .children()
            .await
            .map_err(|_| OpenError::Unavailable)?
            .sessions;
        ask(
            &sessions,
            |reply| SessionSupervisorMsg::Open {
                principal,
                outbound,
                reply,
            },
            CALL_TIMEOUT,
        )
        .await
        .map_err(|_| OpenError::Unavailable)?
    }

    /// The points ledger.
    pub async fn ledger(&self) -> Result<LedgerService, LedgerFailure> {
        let children = self
            .children()
            .await
            .map_err(|e| LedgerFailure::Unavailable(e.to_string()))?;
        Ok(LedgerService::new(children.accounts, self.store.clone()))
    }

    /// Nodes currently holding sessions of `user`.
    /// Settles every commission that is due now (the timer does it too).
    pub async fn settle_commissions(&self) -> Result<Settled, SettleError> {
        let settlement = self
            .children()
            .await
            .map_err(|e| SettleError(e.to_string()))?
            .settlement;
        ask(&settlement, SettlementMsg::RunNow, SETTLE_TIMEOUT)
            .await
            .map_err(|e| SettleError(e.to_string()))?
            .map_err(SettleError)
    }

    pub async fn presence(&self, user: UserId) -> Result<Vec<String>, CacheError> {
        self.cache.presence(user).await
    }

    pub async fn readiness(&self) -> Readiness {
        let (database, bus, cache) =
            tokio::join!(self.store.ping(), self.bus.ping(), self.cache.ping());
        Readiness {
            database: database.map_err(|e| e.to_string()),
            bus: bus.map_err(|e| e.to_string()),
            cache: cache.map_err(|e| e.to_string()),
        }
    }

    /// Closes every session with a close frame, publishes what the outbox still holds,
    /// and stops the actor tree.
    pub async fn shutdown(&self, grace: Duration) {
        if let Ok(children) = self.children().await {
            let close = ask(
                &children.sessions,
                |reply| SessionSupervisorMsg::CloseAll { grace, reply },
                grace + CALL_TIMEOUT,
            );
            if let Err(e) = close.await {
                tracing::warn!(error = %e, "sessions did not close in time");
            }
            match ask(&children.relay, RelayMsg::Flush, grace + CALL_TIMEOUT).await {
                Ok(Ok(0)) => tracing::info!("outbox flushed"),
                Ok(Ok(left)) => tracing::warn!(
                    left,
                    "outbox not empty at shutdown; the next start publishes it"
                ),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "outbox flush failed; the next start publishes it")
                }
                Err(e) => tracing::warn!(error = %e, "outbox relay did not answer"),
            }
        }
        let _ = self
            .root
            .stop_and_wait(Some("shutdown".into()), Some(STOP_TIMEOUT))
            .await;
        self.store.clone().close().await;
    }
}
