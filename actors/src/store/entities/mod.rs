//! sea-orm entities, one per table. Private to `store`: nothing outside sees them.

pub mod announcements;
pub mod commission_totals;
pub mod commissions;
pub mod coupons;
pub mod distributors;
pub mod ledger_accounts;
pub mod ledger_refunds;
pub mod ledger_transfers;
pub mod order_items;
pub mod order_refunds;
pub mod orders;
pub mod outbox;
pub mod outbox_meta;
pub mod payouts;
pub mod products;
pub mod referral_bindings;
pub mod settings;
pub mod users;
