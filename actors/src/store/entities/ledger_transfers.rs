use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_transfers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    #[sea_orm(unique)]
    pub idempotency_key: String,
    pub debit_account: String,
    pub credit_account: String,
    pub kind: String,
    pub amount: i64,
    pub reason: String,
    pub reference: Option<String>,
    pub phase: String,
    pub settles: Option<Uuid>,
    pub reverses: Option<Uuid>,
    pub created_at: DateTimeUtc,
    /// The transfer before this one on the debit account's history chain (users'
    /// accounts only).
    pub debit_prev: Option<Uuid>,
    /// The transfer before this one on the credit account's chain.
    pub credit_prev: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
