use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261122_000001_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Mall orders, money in integer cents. Who earns on an order (`beneficiaries`, a JSON
/// array of distributor ids, nearest first) is fixed when it is created.
#[derive(DeriveIden)]
enum Orders {
    Table,
    OrderNo,
    UserId,
    Status,
    SubtotalCents,
    DiscountCents,
    TotalCents,
    RefundedCents,
    CouponCode,
    Beneficiaries,
    PaymentRef,
    CreatedAt,
    PaidAt,
}

#[derive(DeriveIden)]
enum OrderItems {
    Table,
    OrderNo,
    Line,
    ProductId,
    Qty,
    UnitPriceCents,
}

/// Refunds by the caller's reference, so a retried refund moves money once.
#[derive(DeriveIden)]
enum OrderRefunds {
    Table,
    RefundRef,
    OrderNo,
    AmountCents,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Orders::Table)
                    .if_not_exists()
                    .col(string_len(Orders::OrderNo, 34).primary_key())
                    .col(uuid(Orders::UserId))
                    .col(string_len(Orders::Status, 24))
                    .col(big_integer(Orders::SubtotalCents))
                    .col(big_integer(Orders::DiscountCents))
                    .col(big_integer(Orders::TotalCents))
                    .col(big_integer(Orders::RefundedCents))
                    .col(string_len_null(Orders::CouponCode, 32))
                    .col(text(Orders::Beneficiaries))
                    .col(string_len_null(Orders::PaymentRef, 128).unique_key())
                    .col(timestamp_with_time_zone(Orders::CreatedAt))
                    .col(timestamp_with_time_zone_null(Orders::PaidAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_orders_user")
                            .from(Orders::Table, Orders::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_orders_user", Orders::UserId),
            ("idx_orders_coupon", Orders::CouponCode),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Orders::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(OrderItems::Table)
                    .if_not_exists()
                    .col(string_len(OrderItems::OrderNo, 34))
                    .col(integer(OrderItems::Line))
                    .col(uuid(OrderItems::ProductId))
                    .col(integer(OrderItems::Qty))
                    .col(big_integer(OrderItems::UnitPriceCents))
                    .primary_key(
                        Index::create()
                            .col(OrderItems::OrderNo)
                            .col(OrderItems::Line),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_items_order")
                            .from(OrderItems::Table, OrderItems::OrderNo)
                            .to(Orders::Table, Orders::OrderNo),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrderRefunds::Table)
                    .if_not_exists()
                    .col(string_len(OrderRefunds::RefundRef, 128).primary_key())
                    .col(string_len(OrderRefunds::OrderNo, 34))
                    .col(big_integer(OrderRefunds::AmountCents))
                    .col(timestamp_with_time_zone(OrderRefunds::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_refunds_order")
                            .from(OrderRefunds::Table, OrderRefunds::OrderNo)
                            .to(Orders::Table, Orders::OrderNo),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OrderRefunds::Table.into_iden(),
            OrderItems::Table.into_iden(),
            Orders::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
