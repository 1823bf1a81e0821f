use sea_orm_migration::prelude::*;

use crate::statements::execute_all;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LedgerTransfers {
    Table,
    DebitPrev,
    CreditPrev,
}

#[derive(DeriveIden)]
enum LedgerAccounts {
    Table,
    Head,
    PrevHead,
}

/// An account's history becomes a chain: the account row holds its newest transfer
/// (`head`) and each transfer the one before it on each of its users' accounts. The
/// per-account indexes on the transfers table go: with many accounts in a batch, each
/// of their entries landed on a page of its own, which made them most of what a
/// commit wrote, while the account rows a chain updates are written anyway.
/// `prev_head` is the head an update replaced, which the update returns (neither
/// database's RETURNING shows a row's old values).
///
/// Only users' accounts (`u:…`) keep chains: nothing reads a system account's history,
/// and the revenue account is the ledger's hottest row. Existing transfers are chained
/// in id order, oldest first, by these statements.
const BACKFILL: &[&str] = &[
    r#"CREATE TEMPORARY TABLE "ledger_links" AS
        SELECT "account", "id",
            LAG("id") OVER (PARTITION BY "account" ORDER BY "id") AS "prev",
            LEAD("id") OVER (PARTITION BY "account" ORDER BY "id") AS "next"
        FROM (SELECT "debit_account" AS "account", "id" FROM "ledger_transfers"
              UNION ALL
              SELECT "credit_account", "id" FROM "ledger_transfers") AS "postings"
        WHERE "account" LIKE 'u:%'"#,
    r#"UPDATE "ledger_transfers" SET "debit_prev" = l."prev" FROM "ledger_links" AS l
        WHERE l."id" = "ledger_transfers"."id" AND l."account" = "ledger_transfers"."debit_account""#,
    r#"UPDATE "ledger_transfers" SET "credit_prev" = l."prev" FROM "ledger_links" AS l
        WHERE l."id" = "ledger_transfers"."id" AND l."account" = "ledger_transfers"."credit_account""#,
    r#"UPDATE "ledger_accounts" SET "head" = l."id" FROM "ledger_links" AS l
        WHERE l."account" = "ledger_accounts"."account" AND l."next" IS NULL"#,
    r#"DROP TABLE "ledger_links""#,
    r#"DROP INDEX "idx_ledger_transfers_debit""#,
    r#"DROP INDEX "idx_ledger_transfers_credit""#,
];

/// Adds (or drops) the chain columns, one per statement as SQLite requires.
async fn chain_columns(manager: &SchemaManager<'_>, add: bool) -> Result<(), DbErr> {
    let columns: [(DynIden, DynIden); 4] = [
        (
            LedgerTransfers::Table.into_iden(),
            LedgerTransfers::DebitPrev.into_iden(),
        ),
        (
            LedgerTransfers::Table.into_iden(),
            LedgerTransfers::CreditPrev.into_iden(),
        ),
        (
            LedgerAccounts::Table.into_iden(),
            LedgerAccounts::Head.into_iden(),
        ),
        (
            LedgerAccounts::Table.into_iden(),
            LedgerAccounts::PrevHead.into_iden(),
        ),
    ];
    for (table, column) in columns {
        let mut alter = Table::alter();
        alter.table(table);
        if add {
            alter.add_column(ColumnDef::new(column).uuid().null());
        } else {
            alter.drop_column(column);
        }
        manager.alter_table(alter).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        chain_columns(manager, true).await?;
        execute_all(manager, BACKFILL).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        execute_all(
            manager,
            &[
                r#"CREATE INDEX "idx_ledger_transfers_debit" ON "ledger_transfers" ("debit_account", "id")"#,
                r#"CREATE INDEX "idx_ledger_transfers_credit" ON "ledger_transfers" ("credit_account", "id")"#,
            ],
        )
        .await?;
        chain_columns(manager, false).await
    }
}
