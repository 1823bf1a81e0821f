//! The referral programme's live side.
//!
//! - `DistributorsActor` (a child of the hub) receives every committed commission event
//!   and hands it to the `DistributorActor` of its distributor, starting one on first use
//!   and stopping it once idle.
//! - `DistributorActor` re-reads its distributor's totals after each committed change and
//!   pushes the event with them to the distributor's sessions, so a session never sees
//!   totals older than the last commit, in whatever order nodes publish events.
//! - `SettlementActor` (a child of the root) settles commissions whose window has passed,
//!   on a timer and on demand; the database decides what is due, so it is idempotent,
//!   safe on several nodes and picks up after a restart where the last run stopped.

mod distributor;
mod registry;
mod settlement;

pub use distributor::{DistributorActor, DistributorMsg};
pub use registry::{DistributorsActor, DistributorsArgs, DistributorsMsg};
pub use settlement::{
    SettlementActor, SettlementArgs, SettlementMsg, SettlementSettings, settle_all,
};
