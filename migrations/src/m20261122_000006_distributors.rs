use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Distributors {
    Table,
    Id,
    UserId,
    ReferralCode,
    UplineId,
    /// Uplines nearest first, as a JSON array of ids.
    Lineage,
    /// `/<root>/…/<self>/`: the downline is every path with this prefix.
    Path,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Distributors::Table)
                    .if_not_exists()
                    .col(pk_uuid(Distributors::Id))
                    .col(uuid_uniq(Distributors::UserId))
                    .col(string_len_uniq(Distributors::ReferralCode, 16))
                    .col(uuid_null(Distributors::UplineId))
                    .col(text(Distributors::Lineage))
                    .col(string_len(Distributors::Path, 4000))
                    .col(timestamp_with_time_zone(Distributors::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_distributors_user")
                            .from(Distributors::Table, Distributors::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_distributors_upline")
                            .from(Distributors::Table, Distributors::UplineId)
                            .to(Distributors::Table, Distributors::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_distributors_path")
                    .table(Distributors::Table)
                    .col(Distributors::Path)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Distributors::Table).to_owned())
            .await
    }
}
