use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Which distributor referred a user who registered with a referral code: that
/// distributor's lineage earns on the user's orders.
#[derive(DeriveIden)]
enum ReferralBindings {
    Table,
    UserId,
    DistributorId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Distributors {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReferralBindings::Table)
                    .if_not_exists()
                    .col(pk_uuid(ReferralBindings::UserId))
                    .col(uuid(ReferralBindings::DistributorId))
                    .col(timestamp_with_time_zone(ReferralBindings::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_referral_bindings_user")
                            .from(ReferralBindings::Table, ReferralBindings::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_referral_bindings_distributor")
                            .from(ReferralBindings::Table, ReferralBindings::DistributorId)
                            .to(Distributors::Table, Distributors::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_referral_bindings_distributor")
                    .table(ReferralBindings::Table)
                    .col(ReferralBindings::DistributorId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ReferralBindings::Table).to_owned())
            .await
    }
}
