//! The running medrt system: actors, and the only crate that touches the database,
//! the bus and the cache.
//!
//! # Layout
//! - [`platform`]: `Platform`, the façade the gateway uses; starts the tree.
//! - [`root`]: `RootActor`, supervising the hub, the outbox relay and the sessions.
//! - [`hub`]: `HubActor`, topic → local sessions, presence.
//! - [`session`], [`session_supervisor`]: one `SessionActor` per WebSocket connection.
//! - [`ledger`]: the points ledger: `AccountsActor`, `AccountActor`, `CommitterActor`, `LedgerService`.
//! - [`distribution`]: `DistributorsActor`/`DistributorActor` (live commission pushes), `SettlementActor`.
//! - [`relay`]: `OutboxRelayActor`, outbox → bus.
//! - [`store`]: sea-orm repositories, one per aggregate.
//! - [`bus`]: in-process and NATS event buses; [`cache`]: in-memory and Redis caches.
//! - [`ask`]: request/reply with deadlines.

pub mod ask;
pub mod bus;
pub mod cache;
pub mod distribution;
pub mod hub;
pub mod ledger;
pub mod platform;
pub mod relay;
pub mod root;
pub mod session;
pub mod session_supervisor;
pub mod store;
