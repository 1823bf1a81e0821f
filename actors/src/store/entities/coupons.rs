use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "coupons")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub kind: String,
    pub value_cents: i64,
    pub percent_basis_points: i32,
    pub threshold_cents: i64,
    pub valid_from: DateTimeUtc,
    pub valid_until: DateTimeUtc,
    pub per_user_limit: Option<i32>,
    pub total_limit: Option<i32>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
