use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LedgerAccounts {
    Table,
    UserId,
}

/// An account's key already names its user (`user:<id>:<kind>`), and since migration 13
/// nothing looks accounts up by the separate `user_id` column: it goes, so the hottest
/// upsert writes less.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LedgerAccounts::Table)
                    .drop_column(LedgerAccounts::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(LedgerAccounts::Table)
                    .add_column(ColumnDef::new(LedgerAccounts::UserId).uuid().null())
                    .to_owned(),
            )
            .await
    }
}
