use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One row per order and level: the commission's rate and settlement date fixed at
/// payment, its amounts by where the money is (cents), and its status for filtering and
/// for the settlement job's index.
#[derive(DeriveIden)]
enum Commissions {
    Table,
    Id,
    OrderNo,
    Level,
    DistributorId,
    Rate,
    BaseCents,
    PendingCents,
    SettledCents,
    PaidOutCents,
    ReversedCents,
    ClawedBackCents,
    VoidedCents,
    Status,
    DueAt,
    CreatedAt,
}

/// Each distributor's commissions summed by bucket, kept in step with every change in
/// the same transaction, so totals are one row however many commissions there are.
#[derive(DeriveIden)]
enum CommissionTotals {
    Table,
    DistributorId,
    PendingCents,
    SettledCents,
    ReversedCents,
    PaidOutCents,
    ClawedBackCents,
    VoidedCents,
    /// What the orders that earned these commissions still have paid.
    SalesCents,
    /// Clawbacks already deducted from payouts.
    RecoveredCents,
}

/// Each payout: settled commissions paid, clawbacks recovered from them, the rest sent.
#[derive(DeriveIden)]
enum Payouts {
    Table,
    Id,
    DistributorId,
    GrossCents,
    ClawbackCents,
    NetCents,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Distributors {
    Table,
    Id,
    /// Set when the distributor is marked as fraud: no new commissions.
    BlockedAt,
}

#[derive(DeriveIden)]
enum Orders {
    Table,
    OrderNo,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Commissions::Table)
                    .if_not_exists()
                    .col(pk_uuid(Commissions::Id))
                    .col(string_len(Commissions::OrderNo, 34))
                    .col(integer(Commissions::Level))
                    .col(uuid(Commissions::DistributorId))
                    .col(string_len(Commissions::Rate, 24))
                    .col(big_integer(Commissions::BaseCents))
                    .col(big_integer(Commissions::PendingCents))
                    .col(big_integer(Commissions::SettledCents))
                    .col(big_integer(Commissions::PaidOutCents))
                    .col(big_integer(Commissions::ReversedCents))
                    .col(big_integer(Commissions::ClawedBackCents))
                    .col(big_integer(Commissions::VoidedCents))
                    .col(string_len(Commissions::Status, 16))
                    .col(timestamp_with_time_zone(Commissions::DueAt))
                    .col(timestamp_with_time_zone(Commissions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_commissions_order")
                            .from(Commissions::Table, Commissions::OrderNo)
                            .to(Orders::Table, Orders::OrderNo),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_commissions_distributor")
                            .from(Commissions::Table, Commissions::DistributorId)
                            .to(Distributors::Table, Distributors::Id),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            (
                "uq_commissions_order_level",
                vec![Commissions::OrderNo, Commissions::Level],
                true,
            ),
            (
                "idx_commissions_distributor",
                vec![Commissions::DistributorId, Commissions::Id],
                false,
            ),
            (
                "idx_commissions_due",
                vec![Commissions::Status, Commissions::DueAt],
                false,
            ),
        ];
        for (name, columns, unique) in indexes {
            let mut index = Index::create();
            index.name(name).table(Commissions::Table);
            for column in columns {
                index.col(column);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(CommissionTotals::Table)
                    .if_not_exists()
                    .col(pk_uuid(CommissionTotals::DistributorId))
                    .col(big_integer(CommissionTotals::PendingCents))
                    .col(big_integer(CommissionTotals::SettledCents))
                    .col(big_integer(CommissionTotals::ReversedCents))
                    .col(big_integer(CommissionTotals::PaidOutCents))
                    .col(big_integer(CommissionTotals::ClawedBackCents))
                    .col(big_integer(CommissionTotals::VoidedCents))
                    .col(big_integer(CommissionTotals::SalesCents))
                    .col(big_integer(CommissionTotals::RecoveredCents))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_commission_totals_distributor")
                            .from(CommissionTotals::Table, CommissionTotals::DistributorId)
                            .to(Distributors::Table, Distributors::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Payouts::Table)
                    .if_not_exists()
                    .col(pk_uuid(Payouts::Id))
                    .col(uuid(Payouts::DistributorId))
                    .col(big_integer(Payouts::GrossCents))
                    .col(big_integer(Payouts::ClawbackCents))
                    .col(big_integer(Payouts::NetCents))
                    .col(timestamp_with_time_zone(Payouts::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_payouts_distributor")
                            .from(Payouts::Table, Payouts::DistributorId)
                            .to(Distributors::Table, Distributors::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_payouts_distributor")
                    .table(Payouts::Table)
                    .col(Payouts::DistributorId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Distributors::Table)
                    .add_column(timestamp_with_time_zone_null(Distributors::BlockedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Distributors::Table)
                    .drop_column(Distributors::BlockedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Payouts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(CommissionTotals::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Commissions::Table).to_owned())
            .await
    }
}
