//! medrt's business rules and types: pure, synchronous, free of I/O.
//!
//! # Layout
//! - [`ids`]: identifiers (`UserId`, `EventId`, `AnnouncementId`).
//! - [`account`]: parsed account input (`Username`, `Password`, `Email`, `Phone`) and `UserStatus`.
//! - [`role`]: the five roles and who may create whom.
//! - [`rbac`]: the one permission policy every route and WebSocket topic uses.
//! - [`topic`]: WebSocket topics and who may subscribe to them.
//! - [`announcement`]: system-wide notices broadcast to every signed-in user.
//! - [`event`]: the single `Event` enum every state change produces.
//! - [`ledger`]: the points ledger: kinds, amounts, accounts, transfers and their rules.

pub mod account;
pub mod announcement;
pub mod event;
pub mod ids;
pub mod ledger;
pub mod rbac;
pub mod role;
pub mod topic;
