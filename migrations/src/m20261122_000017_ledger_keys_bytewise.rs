use sea_orm_migration::prelude::*;

use crate::statements::execute_all_on;
use sea_orm_migration::sea_orm::DbBackend;

/// On PostgreSQL the ledger's text keys compare byte by byte (`COLLATE "C"`): account
/// names, idempotency keys and references are identifiers, never sorted for people, and
/// the database's default collation (`C.UTF-8` here) compared each through `strcoll`
/// in every index probe and insert of a batch. Bytewise is also the order the batch's
/// upserts are sorted in (Rust's `str` order), so the lock order is the index order.
/// SQLite already compares them bytewise.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The statements giving the ledger's key columns `collation`.
fn collate(collation: &str) -> [String; 2] {
    let column = |name: &str, len: u32| {
        format!(r#"ALTER COLUMN "{name}" TYPE varchar({len}) COLLATE "{collation}""#)
    };
    [
        format!(r#"ALTER TABLE "ledger_accounts" {}"#, column("account", 64)),
        format!(
            r#"ALTER TABLE "ledger_transfers" {}, {}, {}, {}"#,
            column("idempotency_key", 160),
            column("debit_account", 64),
            column("credit_account", 64),
            column("reference", 128),
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all_on(manager, DbBackend::Postgres, &collate("C")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all_on(manager, DbBackend::Postgres, &collate("default")).await
    }
}
