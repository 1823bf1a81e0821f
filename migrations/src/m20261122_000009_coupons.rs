use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Coupons: amounts in integer cents, percentages in hundredths of a percent.
#[derive(DeriveIden)]
enum Coupons {
    Table,
    Code,
    Kind,
    ValueCents,
    PercentBasisPoints,
    ThresholdCents,
    ValidFrom,
    ValidUntil,
    PerUserLimit,
    TotalLimit,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Coupons::Table)
                    .if_not_exists()
                    .col(string_len(Coupons::Code, 32).primary_key())
                    .col(string_len(Coupons::Kind, 16))
                    .col(big_integer(Coupons::ValueCents))
                    .col(integer(Coupons::PercentBasisPoints))
                    .col(big_integer(Coupons::ThresholdCents))
                    .col(timestamp_with_time_zone(Coupons::ValidFrom))
                    .col(timestamp_with_time_zone(Coupons::ValidUntil))
                    .col(integer_null(Coupons::PerUserLimit))
                    .col(integer_null(Coupons::TotalLimit))
                    .col(timestamp_with_time_zone(Coupons::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Coupons::Table).to_owned())
            .await
    }
}
