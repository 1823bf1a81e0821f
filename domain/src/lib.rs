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
//! - [`money`]: exact money (yuan and cents) and its rounding rules.
//! - [`mall`]: products, coupons, order pricing and refunds.
//! - [`distribution`]: referral codes and the upline hierarchy.
//! - [`commission`]: multi-level commission rules and each commission's lifecycle.

pub mod account;
pub mod announcement;
pub mod commission;
pub mod distribution;
pub mod event;
pub mod ids;
pub mod ledger;
pub mod mall;
pub mod money;
pub mod rbac;
pub mod role;
pub mod topic;
