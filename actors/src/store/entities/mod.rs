//! sea-orm entities, one per table. Private to `store`: nothing outside sees them.

pub mod announcements;
pub mod coupons;
pub mod distributors;
pub mod ledger_accounts;
pub mod ledger_refunds;
pub mod ledger_settings;
pub mod ledger_transfers;
pub mod outbox;
pub mod outbox_meta;
pub mod products;
pub mod referral_bindings;
pub mod users;
