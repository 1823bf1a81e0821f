use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commissions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_no: String,
    pub level: i32,
    pub distributor_id: Uuid,
    pub rate: String,
    pub base_cents: i64,
    pub pending_cents: i64,
    pub settled_cents: i64,
    pub paid_out_cents: i64,
    pub reversed_cents: i64,
    pub clawed_back_cents: i64,
    pub voided_cents: i64,
    pub status: String,
    pub due_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
