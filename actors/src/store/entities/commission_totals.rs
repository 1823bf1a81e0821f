use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commission_totals")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub distributor_id: Uuid,
    pub pending_cents: i64,
    pub settled_cents: i64,
    pub reversed_cents: i64,
    pub paid_out_cents: i64,
    pub clawed_back_cents: i64,
    pub voided_cents: i64,
    pub sales_cents: i64,
    pub recovered_cents: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
