use sea_orm_migration::prelude::*;

use crate::statements::execute_all_on;
use sea_orm_migration::sea_orm::DbBackend;

/// On SQLite the accounts table is rebuilt clustered by its key (`WITHOUT ROWID`), as
/// migration 13 did for transfers. With a text primary key a rowid table keeps two
/// B-trees, the rows and an index on the key: each of a batch's few hundred upserts and
/// reads then sought both. PostgreSQL tables are heaps either way; nothing changes there.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The statements rebuilding the accounts table with `options` after its definition
/// (`WITHOUT ROWID`, or none for the rowid table migration 15 left).
fn rebuild(options: &str) -> [String; 4] {
    [
        format!(
            r#"CREATE TABLE "ledger_accounts_rebuilt" (
                "account" varchar(64) NOT NULL PRIMARY KEY,
                "kind" varchar(8) NOT NULL,
                "debits_posted" bigint NOT NULL DEFAULT 0,
                "credits_posted" bigint NOT NULL DEFAULT 0,
                "debits_pending" bigint NOT NULL DEFAULT 0,
                "credits_pending" bigint NOT NULL DEFAULT 0,
                "head" uuid_text NULL,
                "prev_head" uuid_text NULL
            ) {options}"#
        ),
        r#"INSERT INTO "ledger_accounts_rebuilt" SELECT "account", "kind", "debits_posted",
            "credits_posted", "debits_pending", "credits_pending", "head", "prev_head"
            FROM "ledger_accounts""#
            .to_owned(),
        r#"DROP TABLE "ledger_accounts""#.to_owned(),
        r#"ALTER TABLE "ledger_accounts_rebuilt" RENAME TO "ledger_accounts""#.to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all_on(manager, DbBackend::Sqlite, &rebuild("WITHOUT ROWID")).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all_on(manager, DbBackend::Sqlite, &rebuild("")).await
    }
}
