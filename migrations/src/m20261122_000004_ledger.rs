use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LedgerAccounts {
    Table,
    Account,
    UserId,
    Kind,
    DebitsPosted,
    CreditsPosted,
    DebitsPending,
    CreditsPending,
}

#[derive(DeriveIden)]
enum LedgerTransfers {
    Table,
    Id,
    IdempotencyKey,
    Fingerprint,
    DebitAccount,
    CreditAccount,
    Kind,
    Amount,
    Reason,
    Reference,
    Phase,
    /// For post/void: the hold settled. Unique, so a hold settles once.
    Settles,
    /// For refunds: the charge reversed.
    Reverses,
    CreatedAt,
}

/// How much of each charge has been refunded, guarded so it never exceeds the charge.
#[derive(DeriveIden)]
enum LedgerRefunds {
    Table,
    ChargeId,
    Charged,
    Refunded,
}

/// Ledger settings: payment mode and prices, as JSON values by key.
#[derive(DeriveIden)]
enum LedgerSettings {
    Table,
    Key,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LedgerAccounts::Table)
                    .if_not_exists()
                    .col(string_len(LedgerAccounts::Account, 64).primary_key())
                    .col(uuid_null(LedgerAccounts::UserId))
                    .col(string_len(LedgerAccounts::Kind, 8))
                    .col(big_integer(LedgerAccounts::DebitsPosted).default(0))
                    .col(big_integer(LedgerAccounts::CreditsPosted).default(0))
                    .col(big_integer(LedgerAccounts::DebitsPending).default(0))
                    .col(big_integer(LedgerAccounts::CreditsPending).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LedgerTransfers::Table)
                    .if_not_exists()
                    .col(pk_uuid(LedgerTransfers::Id))
                    .col(string_len_uniq(LedgerTransfers::IdempotencyKey, 160))
                    .col(text(LedgerTransfers::Fingerprint))
                    .col(string_len(LedgerTransfers::DebitAccount, 64))
                    .col(string_len(LedgerTransfers::CreditAccount, 64))
                    .col(string_len(LedgerTransfers::Kind, 8))
                    .col(big_integer(LedgerTransfers::Amount))
                    .col(string_len(LedgerTransfers::Reason, 16))
                    .col(string_len_null(LedgerTransfers::Reference, 128))
                    .col(string_len(LedgerTransfers::Phase, 8))
                    .col(uuid_null(LedgerTransfers::Settles).unique_key())
                    .col(uuid_null(LedgerTransfers::Reverses))
                    .col(timestamp_with_time_zone(LedgerTransfers::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_ledger_transfers_debit", LedgerTransfers::DebitAccount),
            (
                "idx_ledger_transfers_credit",
                LedgerTransfers::CreditAccount,
            ),
            ("idx_ledger_transfers_reference", LedgerTransfers::Reference),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(LedgerTransfers::Table)
                        .col(column)
                        .col(LedgerTransfers::Id)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(LedgerRefunds::Table)
                    .if_not_exists()
                    .col(pk_uuid(LedgerRefunds::ChargeId))
                    .col(big_integer(LedgerRefunds::Charged))
                    .col(big_integer(LedgerRefunds::Refunded))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LedgerSettings::Table)
                    .if_not_exists()
                    .col(string_len(LedgerSettings::Key, 64).primary_key())
                    .col(text(LedgerSettings::Value))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LedgerSettings::Table.into_iden(),
            LedgerRefunds::Table.into_iden(),
            LedgerTransfers::Table.into_iden(),
            LedgerAccounts::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
