use sea_orm_migration::prelude::*;

use crate::statements::execute_all;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Transfers are the ledger's hottest insert, so every byte and index entry counts.
/// The `fingerprint` column goes: it repeated the other columns, which a retry is now
/// compared with directly. Only settlements carry `settles` and only some transfers a
/// `reference`, so those indexes become partial (no entry for the NULLs). On SQLite the
/// table is rebuilt (its `settles` constraint was part of the table), clustered by its
/// id (`WITHOUT ROWID`): one B-tree fewer per row.
const SQLITE_UP: &[&str] = &[
    r#"CREATE TABLE "ledger_transfers_rebuilt" (
        "id" uuid_text NOT NULL PRIMARY KEY,
        "idempotency_key" varchar(160) NOT NULL UNIQUE,
        "debit_account" varchar(64) NOT NULL,
        "credit_account" varchar(64) NOT NULL,
        "kind" varchar(8) NOT NULL,
        "amount" integer NOT NULL,
        "reason" varchar(16) NOT NULL,
        "reference" varchar(128) NULL,
        "phase" varchar(8) NOT NULL,
        "settles" uuid_text NULL,
        "reverses" uuid_text NULL,
        "created_at" timestamp_with_timezone_text NOT NULL
    ) WITHOUT ROWID"#,
    r#"INSERT INTO "ledger_transfers_rebuilt" SELECT "id", "idempotency_key",
        "debit_account", "credit_account", "kind", "amount", "reason", "reference", "phase",
        "settles", "reverses", "created_at" FROM "ledger_transfers""#,
    r#"DROP TABLE "ledger_transfers""#,
    r#"ALTER TABLE "ledger_transfers_rebuilt" RENAME TO "ledger_transfers""#,
    r#"CREATE INDEX "idx_ledger_transfers_debit" ON "ledger_transfers" ("debit_account", "id")"#,
    r#"CREATE INDEX "idx_ledger_transfers_credit" ON "ledger_transfers" ("credit_account", "id")"#,
];

const POSTGRES_UP: &[&str] = &[
    r#"ALTER TABLE "ledger_transfers" DROP COLUMN "fingerprint""#,
    r#"ALTER TABLE "ledger_transfers" DROP CONSTRAINT "ledger_transfers_settles_key""#,
    r#"DROP INDEX "idx_ledger_transfers_reference""#,
];

/// Both backends: the partial indexes; accounts are no longer looked up by user (their
/// key names the user).
const BOTH: &[&str] = &[
    r#"DROP INDEX "idx_ledger_accounts_user""#,
    r#"CREATE UNIQUE INDEX "idx_ledger_transfers_settles" ON "ledger_transfers" ("settles")
        WHERE "settles" IS NOT NULL"#,
    r#"CREATE INDEX "idx_ledger_transfers_reference" ON "ledger_transfers" ("reference", "id")
        WHERE "reference" IS NOT NULL"#,
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DbBackend::Postgres => execute_all(manager, POSTGRES_UP).await?,
            _ => execute_all(manager, SQLITE_UP).await?,
        }
        execute_all(manager, BOTH).await
    }

    async fn down(&self, _: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "dropping the fingerprint column cannot be undone: restore a backup taken \
             before this migration"
                .to_owned(),
        ))
    }
}
