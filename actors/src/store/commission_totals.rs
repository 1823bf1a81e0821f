//! Each distributor's commission totals: one row, moved by deltas in the same
//! transaction as the commissions it sums, so reading totals costs one row however many
//! commissions a distributor has. One `UPDATE … FROM` over JSON rows moves every
//! distributor of a batch.

use std::collections::BTreeMap;

use medrt_domain::commission::{CommissionTotals, OrderCommission};
use medrt_domain::ids::DistributorId;
use medrt_domain::money::Money;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    EntityTrait, QueryFilter, Statement,
};

use super::StoreError;
use super::bulk_rows::{self, Field};
use super::commissions::money_of;
use super::entities::commission_totals as totals;

/// A change to one distributor's totals, in signed cents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Delta {
    pub pending: i64,
    pub settled: i64,
    pub reversed: i64,
    pub paid_out: i64,
    pub clawed_back: i64,
    pub voided: i64,
    pub sales: i64,
    pub recovered: i64,
}

impl Delta {
    /// What a commission moving from `before` (`None`: just earned) to `after` changes.
    pub(super) fn between(before: Option<&OrderCommission>, after: &OrderCommission) -> Self {
        let c = |m: Money| m.cents() as i64;
        let was = |f: fn(&OrderCommission) -> Money| before.map_or(0, |b| c(f(b)));
        Delta {
            pending: c(after.pending) - was(|x| x.pending),
            settled: c(after.settled) - was(|x| x.settled),
            reversed: c(after.reversed) - was(|x| x.reversed),
            paid_out: c(after.paid_out) - was(|x| x.paid_out),
            clawed_back: c(after.clawed_back) - was(|x| x.clawed_back),
            voided: c(after.voided) - was(|x| x.voided),
            sales: c(after.base) - was(|x| x.base),
            recovered: 0,
        }
    }

    pub(super) fn add(&mut self, other: Delta) {
        self.pending += other.pending;
        self.settled += other.settled;
        self.reversed += other.reversed;
        self.paid_out += other.paid_out;
        self.clawed_back += other.clawed_back;
        self.voided += other.voided;
        self.sales += other.sales;
        self.recovered += other.recovered;
    }

    fn columns(&self) -> [i64; 8] {
        [
            self.pending,
            self.settled,
            self.reversed,
            self.paid_out,
            self.clawed_back,
            self.voided,
            self.sales,
            self.recovered,
        ]
    }
}

/// The zero row of a new distributor.
pub(super) async fn open(txn: &DatabaseTransaction, of: DistributorId) -> Result<(), StoreError> {
    totals::ActiveModel {
        distributor_id: Set(of.as_uuid()),
        pending_cents: Set(0),
        settled_cents: Set(0),
        reversed_cents: Set(0),
        paid_out_cents: Set(0),
        clawed_back_cents: Set(0),
        voided_cents: Set(0),
        sales_cents: Set(0),
        recovered_cents: Set(0),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Adds every delta to its distributor's row, in one statement.
pub(super) async fn apply(
    txn: &DatabaseTransaction,
    deltas: &BTreeMap<DistributorId, Delta>,
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let rows: Vec<_> = deltas
        .iter()
        .filter(|(_, d)| **d != Delta::default())
        .map(|(distributor, d)| {
            let [pe, se, re, po, cb, vo, sa, rc] = d.columns();
            (
                distributor.as_uuid().simple().to_string(),
                pe,
                se,
                re,
                po,
                cb,
                vo,
                sa,
                rc,
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let fields = [("d", Field::Uuid)]
        .into_iter()
        .chain(["pe", "se", "re", "po", "cb", "vo", "sa", "rc"].map(|name| (name, Field::BigInt)));
    let fields: Vec<_> = fields.collect();
    let (values, bound) = bulk_rows::values(backend, &fields, &rows);
    let source = bound.select(1, &[]);
    let sql = format!(
        "WITH v AS ({source}) \
         UPDATE commission_totals SET \
           pending_cents = commission_totals.pending_cents + v.pe, \
           settled_cents = commission_totals.settled_cents + v.se, \
           reversed_cents = commission_totals.reversed_cents + v.re, \
           paid_out_cents = commission_totals.paid_out_cents + v.po, \
           clawed_back_cents = commission_totals.clawed_back_cents + v.cb, \
           voided_cents = commission_totals.voided_cents + v.vo, \
           sales_cents = commission_totals.sales_cents + v.sa, \
           recovered_cents = commission_totals.recovered_cents + v.rc \
         FROM v WHERE commission_totals.distributor_id = v.d"
    );
    let moved = txn
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?
        .rows_affected();
    if moved != rows.len() as u64 {
        return Err(StoreError::corrupt(format!(
            "commission totals missing for {} distributors",
            rows.len() as u64 - moved
        )));
    }
    Ok(())
}

/// Fraud: whatever is open in the totals moves to voided, as the commissions did.
pub(super) async fn void_open(
    txn: &DatabaseTransaction,
    of: DistributorId,
) -> Result<(), StoreError> {
    totals::Entity::update_many()
        .col_expr(
            totals::Column::VoidedCents,
            Expr::col(totals::Column::VoidedCents)
                .add(Expr::col(totals::Column::PendingCents))
                .add(Expr::col(totals::Column::SettledCents)),
        )
        .col_expr(totals::Column::PendingCents, Expr::value(0i64))
        .col_expr(totals::Column::SettledCents, Expr::value(0i64))
        .filter(totals::Column::DistributorId.eq(of.as_uuid()))
        .exec(txn)
        .await?;
    Ok(())
}

/// A distributor's standing: commission totals, sales, clawbacks still owed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    pub totals: CommissionTotals,
    /// What the orders that pay this distributor commissions still have paid.
    pub sales: Money,
    /// Clawed back and not yet deducted from a payout.
    pub clawback_outstanding: Money,
}

/// A distributor's standing; `NotFound` for someone who never joined.
pub(super) async fn read(
    conn: &impl ConnectionTrait,
    of: DistributorId,
) -> Result<Standing, StoreError> {
    let row = totals::Entity::find_by_id(of.as_uuid())
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(Standing {
        totals: CommissionTotals {
            pending: money_of(row.pending_cents)?,
            settled: money_of(row.settled_cents)?,
            reversed: money_of(row.reversed_cents)?,
            paid_out: money_of(row.paid_out_cents)?,
            clawed_back: money_of(row.clawed_back_cents)?,
            voided: money_of(row.voided_cents)?,
        },
        sales: money_of(row.sales_cents)?,
        clawback_outstanding: money_of(row.clawed_back_cents - row.recovered_cents)?,
    })
}
