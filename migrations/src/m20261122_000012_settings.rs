use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The key-value settings table now holds more than the ledger's (commission rules).
#[derive(DeriveIden)]
enum LedgerSettings {
    Table,
}

#[derive(DeriveIden)]
enum Settings {
    Table,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .rename_table(
                Table::rename()
                    .table(LedgerSettings::Table, Settings::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .rename_table(
                Table::rename()
                    .table(Settings::Table, LedgerSettings::Table)
                    .to_owned(),
            )
            .await
    }
}
