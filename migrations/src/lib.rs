//! The medrt schema, one migration per change, valid on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_users;
mod m20261122_000002_outbox;
mod m20261122_000003_announcements;
mod m20261122_000004_ledger;
mod m20261122_000005_ledger_user_index;
mod m20261122_000006_distributors;
mod m20261122_000007_referral_bindings;
mod m20261122_000008_products;
mod m20261122_000009_coupons;
mod m20261122_000010_orders;
mod m20261122_000011_commissions;
mod m20261122_000012_settings;
mod m20261122_000013_ledger_lean_indexes;
mod m20261122_000014_ledger_accounts_without_user;
mod m20261122_000015_ledger_history_chains;
mod m20261122_000016_ledger_accounts_clustered;
mod m20261122_000017_ledger_keys_bytewise;
mod statements;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_users::Migration),
            Box::new(m20261122_000002_outbox::Migration),
            Box::new(m20261122_000003_announcements::Migration),
            Box::new(m20261122_000004_ledger::Migration),
            Box::new(m20261122_000005_ledger_user_index::Migration),
            Box::new(m20261122_000006_distributors::Migration),
            Box::new(m20261122_000007_referral_bindings::Migration),
            Box::new(m20261122_000008_products::Migration),
            Box::new(m20261122_000009_coupons::Migration),
            Box::new(m20261122_000010_orders::Migration),
            Box::new(m20261122_000011_commissions::Migration),
            Box::new(m20261122_000012_settings::Migration),
            Box::new(m20261122_000013_ledger_lean_indexes::Migration),
            Box::new(m20261122_000014_ledger_accounts_without_user::Migration),
            Box::new(m20261122_000015_ledger_history_chains::Migration),
            Box::new(m20261122_000016_ledger_accounts_clustered::Migration),
            Box::new(m20261122_000017_ledger_keys_bytewise::Migration),
        ]
    }
}
