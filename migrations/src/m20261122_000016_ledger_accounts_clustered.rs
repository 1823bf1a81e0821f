use sea_orm_migration::prelude::*;

use crate::statements::execute_all;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// On SQLite the accounts table is rebuilt clustered by its key (`WITHOUT ROWID`), as
/// migration 13 did for transfers. With a text primary key a rowid table keeps two
/// B-trees, the rows and an index on the key: each of a batch's few hundred upserts and
/// reads then sought both. PostgreSQL tables are heaps either way; nothing changes there.
const SQLITE_UP: &[&str] = &[
    r#"CREATE TABLE "ledger_accounts_rebuilt" (
        "account" varchar(64) NOT NULL PRIMARY KEY,
        "kind" varchar(8) NOT NULL,
        "debits_posted" bigint NOT NULL DEFAULT 0,
        "credits_posted" bigint NOT NULL DEFAULT 0,
        "debits_pending" bigint NOT NULL DEFAULT 0,
        "credits_pending" bigint NOT NULL DEFAULT 0,
        "head" uuid_text NULL,
        "prev_head" uuid_text NULL
    ) WITHOUT ROWID"#,
    r#"INSERT INTO "ledger_accounts_rebuilt" SELECT "account", "kind", "debits_posted",
        "credits_posted", "debits_pending", "credits_pending", "head", "prev_head"
        FROM "ledger_accounts""#,
    r#"DROP TABLE "ledger_accounts""#,
    r#"ALTER TABLE "ledger_accounts_rebuilt" RENAME TO "ledger_accounts""#,
];

/// The rowid table again, as migration 15 left it.
const SQLITE_DOWN: &[&str] = &[
    r#"CREATE TABLE "ledger_accounts_rebuilt" (
        "account" varchar(64) NOT NULL PRIMARY KEY,
        "kind" varchar(8) NOT NULL,
        "debits_posted" bigint NOT NULL DEFAULT 0,
        "credits_posted" bigint NOT NULL DEFAULT 0,
        "debits_pending" bigint NOT NULL DEFAULT 0,
        "credits_pending" bigint NOT NULL DEFAULT 0,
        "head" uuid_text NULL,
        "prev_head" uuid_text NULL
    )"#,
    r#"INSERT INTO "ledger_accounts_rebuilt" SELECT "account", "kind", "debits_posted",
        "credits_posted", "debits_pending", "credits_pending", "head", "prev_head"
        FROM "ledger_accounts""#,
    r#"DROP TABLE "ledger_accounts""#,
    r#"ALTER TABLE "ledger_accounts_rebuilt" RENAME TO "ledger_accounts""#,
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => Ok(()),
            _ => execute_all(manager, SQLITE_UP).await,
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => Ok(()),
            _ => execute_all(manager, SQLITE_DOWN).await,
        }
    }
}
