//! The points ledger's rules, after TigerBeetle: double entry, immutable transfers, at
//! most one transfer per idempotency key, user balances never below zero, two-phase
//! holds and all-or-nothing linked groups.
//!
//! - [`points`]: `PointKind`, `Amount`.
//! - [`account`]: `AccountRef` (user or system account of one kind) and its `Balance`.
//! - [`pricing`]: payment mode and prices per task type.
//! - [`transfer`]: `TransferSpec` (what a caller asks for) and `Transfer` (what happened).
//! - [`book`]: `Book`, the complete rule set as an in-memory state machine: the
//!   reference the database implementation is checked against.

pub mod account;
pub mod book;
pub mod points;
pub mod pricing;
pub mod transfer;

pub use account::{AccountRef, Balance, Owner, SystemAccount};
pub use book::{Book, LedgerError};
pub use points::{Amount, PointKind};
pub use pricing::{LedgerConfig, PaymentMode, Price};
pub use transfer::{IdempotencyKey, Phase, Reason, Reference, Transfer, TransferId, TransferSpec};
