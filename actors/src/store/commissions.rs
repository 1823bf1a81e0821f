//! Commissions in the database: one row per order and level, amounts in cents by where
//! the money is. Orders create and change them (`orders`); this module lists them,
//! sums a distributor's totals, settles what is due in batches and voids a fraudulent
//! distributor's open ones.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use medrt_domain::commission::{
    CommissionRules, CommissionStatus, CommissionTotals, OrderCommission, Payout,
};
use medrt_domain::event::Event;
use medrt_domain::ids::{CommissionId, DistributorId, OrderNo, PayoutId, UserId};
use medrt_domain::money::Money;
use sea_orm::sea_query::{Expr, ExprTrait, LockType};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    DbBackend, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::chunks::statement_chunks;
use super::commission_totals::{self, Delta, Standing};
use super::entities::{commissions, distributors, payouts};
use super::key_values;
use super::page::{self, Page, PageRequest};
use super::{Store, StoreError};

const RULES_KEY: &str = "commission_rules";

/// Most rows one `IN (…)` list carries (under both backends' parameter limits).
const IN_LIST_MAX: usize = 10_000;

#[derive(Clone, Debug)]
pub struct CommissionRecord {
    pub id: CommissionId,
    pub order_no: OrderNo,
    pub distributor: DistributorId,
    pub commission: OrderCommission,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct PayoutRecord {
    pub id: PayoutId,
    pub distributor: DistributorId,
    pub payout: Payout,
    pub created_at: DateTime<Utc>,
}

/// What one settlement batch moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub commissions: u64,
    pub amount: Money,
}

pub struct Commissions<'a> {
    store: &'a Store,
}

impl<'a> Commissions<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// The rules new payments earn by (the standard ones until an admin sets others).
    pub async fn rules(&self) -> Result<CommissionRules, StoreError> {
        rules_on(&self.store.db).await
    }

    pub async fn set_rules(&self, rules: &CommissionRules) -> Result<(), StoreError> {
        key_values::put(&self.store.db, RULES_KEY, rules).await
    }

    pub async fn totals(&self, of: DistributorId) -> Result<CommissionTotals, StoreError> {
        Ok(self.standing(of).await?.totals)
    }

    pub async fn standing(&self, of: DistributorId) -> Result<Standing, StoreError> {
        commission_totals::read(&self.store.db, of).await
    }

    /// Pays out everything the distributor has settled, less the clawbacks they still
    /// owe; `None` when nothing is settled, `NotFound` for someone who never joined.
    /// Commission rows are locked before the totals row is written, in the same order
    /// as settlement, so the two never deadlock.
    pub async fn pay_out(
        &self,
        distributor: DistributorId,
        now: DateTime<Utc>,
    ) -> Result<Option<PayoutRecord>, StoreError> {
        let txn = self.store.begin_write().await?;
        let standing = commission_totals::read(&txn, distributor).await?;
        let mut query = commissions::Entity::find()
            .select_only()
            .columns([commissions::Column::Id, commissions::Column::SettledCents])
            .filter(commissions::Column::DistributorId.eq(distributor.as_uuid()))
            .filter(commissions::Column::SettledCents.gt(0));
        if txn.get_database_backend() == DbBackend::Postgres {
            query = query.lock(LockType::Update);
        }
        let settled: Vec<(uuid::Uuid, i64)> = query.into_tuple().all(&txn).await?;
        let gross = money_of(settled.iter().map(|(_, c)| c).sum())?;
        let Some(payout) = Payout::of(gross, standing.clawback_outstanding) else {
            return Ok(None);
        };
        let ids: Vec<uuid::Uuid> = settled.iter().map(|(id, _)| *id).collect();
        for chunk in ids.chunks(IN_LIST_MAX) {
            commissions::Entity::update_many()
                .col_expr(
                    commissions::Column::PaidOutCents,
                    Expr::col(commissions::Column::PaidOutCents)
                        .add(Expr::col(commissions::Column::SettledCents)),
                )
                .col_expr(commissions::Column::SettledCents, Expr::value(0i64))
                .col_expr(
                    commissions::Column::Status,
                    Expr::value(CommissionStatus::PaidOut.as_str()),
                )
                .filter(commissions::Column::Id.is_in(chunk.iter().copied()))
                .exec(&txn)
                .await?;
        }
        let cents = |m: Money| m.cents() as i64;
        let delta = Delta {
            settled: -cents(payout.gross),
            paid_out: cents(payout.gross),
            recovered: cents(payout.clawback),
            ..Delta::default()
        };
        commission_totals::apply(&txn, &BTreeMap::from([(distributor, delta)])).await?;
        let id = PayoutId::generate();
        payouts::ActiveModel {
            id: Set(id.as_uuid()),
            distributor_id: Set(distributor.as_uuid()),
            gross_cents: Set(cents(payout.gross)),
            clawback_cents: Set(cents(payout.clawback)),
            net_cents: Set(cents(payout.net)),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(Some(PayoutRecord {
            id,
            distributor,
            payout,
            created_at: now,
        }))
    }

    /// A distributor's commissions, newest first, optionally of one status.
    pub async fn of(
        &self,
        distributor: DistributorId,
        status: Option<CommissionStatus>,
        page: PageRequest,
    ) -> Result<Page<CommissionRecord>, StoreError> {
        let mut query = commissions::Entity::find()
            .filter(commissions::Column::DistributorId.eq(distributor.as_uuid()));
        if let Some(status) = status {
            query = query.filter(commissions::Column::Status.eq(status.as_str()));
        }
        page::fetch(
            &self.store.db,
            query,
            commissions::Column::Id,
            Order::Desc,
            page,
            to_record,
            |r| r.id.as_uuid(),
        )
        .await
    }

    /// Every commission of one order, level 1 first.
    pub async fn of_order(&self, order_no: OrderNo) -> Result<Vec<CommissionRecord>, StoreError> {
        of_order_on(&self.store.db, order_no)
            .await?
            .into_iter()
            .map(to_record)
            .collect()
    }

    /// Settles up to `limit` commissions whose date has come by `now`, in one
    /// transaction with one `commission.settled` event per distributor. Safe to run
    /// again at any time and on several nodes at once: a row is settled only while it
    /// is pending, and PostgreSQL nodes skip rows another is settling.
    pub async fn settle_due(&self, now: DateTime<Utc>, limit: u64) -> Result<Settled, StoreError> {
        let txn = self.store.begin_write().await?;
        let backend = txn.get_database_backend();
        // One statement picks, locks and settles the batch. A pending commission has
        // never been settled (settling moves all of it, and nothing adds to pending
        // later), so its new `settled_cents` is exactly what moved.
        // PostgreSQL: `= ANY(ARRAY(…))` looks the rows up by key (an `IN (…)` subquery is
        // planned as a hash join over the whole table), and rows another node is
        // settling are skipped.
        let due = "SELECT id FROM commissions WHERE status = 'pending' AND due_at <= {now} \
                   ORDER BY due_at LIMIT {limit}";
        let pick = match backend {
            DbBackend::Postgres => format!(
                "id = ANY(ARRAY({} FOR UPDATE SKIP LOCKED))",
                due.replace("{now}", "$1").replace("{limit}", "$2")
            ),
            _ => format!(
                "id IN ({})",
                due.replace("{now}", "?").replace("{limit}", "?")
            ),
        };
        let sql = format!(
            "UPDATE commissions SET settled_cents = settled_cents + pending_cents, \
               pending_cents = 0, status = 'settled' \
             WHERE {pick} RETURNING distributor_id, settled_cents"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = txn
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [now.into(), limit.into()],
            ))
            .await?;
        if rows.is_empty() {
            return Ok(Settled::default());
        }
        let mut due: Vec<(uuid::Uuid, i64)> = Vec::with_capacity(rows.len());
        for row in rows {
            due.push((
                row.try_get("", "distributor_id")?,
                row.try_get("", "settled_cents")?,
            ));
        }
        let mut per_distributor: HashMap<uuid::Uuid, (u64, i64)> = HashMap::new();
        for (distributor, pending) in &due {
            let entry = per_distributor.entry(*distributor).or_default();
            entry.0 += 1;
            entry.1 += pending;
        }
        let deltas: BTreeMap<DistributorId, Delta> = per_distributor
            .iter()
            .map(|(d, (_, cents))| {
                let delta = Delta {
                    pending: -cents,
                    settled: *cents,
                    ..Delta::default()
                };
                (DistributorId::from_uuid(*d), delta)
            })
            .collect();
        commission_totals::apply(&txn, &deltas).await?;
        let users = users_of(&txn, per_distributor.keys().copied()).await?;
        let mut events = Vec::with_capacity(per_distributor.len());
        for (distributor, (count, cents)) in &per_distributor {
            events.push(Event::CommissionsSettled {
                user_id: user_of(&users, *distributor)?,
                distributor_id: DistributorId::from_uuid(*distributor),
                count: *count,
                amount: money_of(*cents)?,
                totals: None,
            });
        }
        self.store.commit_with_events(txn, &events, now).await?;
        Ok(Settled {
            commissions: due.len() as u64,
            amount: money_of(due.iter().map(|(_, c)| c).sum())?,
        })
    }

    /// Marks a distributor as fraud: they earn nothing from now on and whatever they
    /// had open (pending or settled) is voided. Returns how many commissions were voided;
    /// marking twice changes nothing more.
    pub async fn block(
        &self,
        distributor: DistributorId,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let txn = self.store.begin_write().await?;
        let found = distributors::Entity::update_many()
            .col_expr(distributors::Column::BlockedAt, Expr::value(now))
            .filter(distributors::Column::Id.eq(distributor.as_uuid()))
            .filter(distributors::Column::BlockedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        if found == 0 {
            distributors::Entity::find_by_id(distributor.as_uuid())
                .one(&txn)
                .await?
                .ok_or(StoreError::NotFound)?;
        }
        let voided = commissions::Entity::update_many()
            .col_expr(
                commissions::Column::VoidedCents,
                Expr::col(commissions::Column::VoidedCents)
                    .add(Expr::col(commissions::Column::PendingCents))
                    .add(Expr::col(commissions::Column::SettledCents)),
            )
            .col_expr(commissions::Column::PendingCents, Expr::value(0i64))
            .col_expr(commissions::Column::SettledCents, Expr::value(0i64))
            .col_expr(
                commissions::Column::Status,
                Expr::value(CommissionStatus::Voided.as_str()),
            )
            .filter(commissions::Column::DistributorId.eq(distributor.as_uuid()))
            .filter(
                commissions::Column::PendingCents
                    .gt(0)
                    .or(commissions::Column::SettledCents.gt(0)),
            )
            .exec(&txn)
            .await?
            .rows_affected;
        commission_totals::void_open(&txn, distributor).await?;
        txn.commit().await?;
        Ok(voided)
    }
}

/// The rules in force, read inside the caller's transaction.
pub(super) async fn rules_on(conn: &impl ConnectionTrait) -> Result<CommissionRules, StoreError> {
    Ok(key_values::get(conn, RULES_KEY)
        .await?
        .unwrap_or_else(CommissionRules::standard))
}

/// Stores newly earned commissions of one order.
pub(super) async fn insert(
    txn: &DatabaseTransaction,
    order_no: OrderNo,
    earned: &[(DistributorId, OrderCommission)],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let rows: Vec<commissions::ActiveModel> = earned
        .iter()
        .map(|(distributor, c)| {
            let mut row = active(c);
            row.id = Set(CommissionId::generate().as_uuid());
            row.order_no = Set(order_no.to_string());
            row.level = Set(c.level as i32);
            row.distributor_id = Set(distributor.as_uuid());
            row.rate = Set(c.rate.to_string());
            row.due_at = Set(c.due_at);
            row.created_at = Set(now);
            row
        })
        .collect();
    for chunk in statement_chunks(txn.get_database_backend(), &rows) {
        commissions::Entity::insert_many(chunk.to_vec())
            .exec(txn)
            .await
            .map_err(|e| StoreError::unique(e, "commission"))?;
    }
    let mut deltas: BTreeMap<DistributorId, Delta> = BTreeMap::new();
    for (distributor, c) in earned {
        deltas
            .entry(*distributor)
            .or_default()
            .add(Delta::between(None, c));
    }
    commission_totals::apply(txn, &deltas).await
}

/// Brings an order's commissions down to what its new `net` earns; returns the ones
/// that changed.
pub(super) async fn follow_refund(
    txn: &DatabaseTransaction,
    order_no: OrderNo,
    net: Money,
) -> Result<Vec<(DistributorId, OrderCommission)>, StoreError> {
    let mut changed = Vec::new();
    let mut deltas: BTreeMap<DistributorId, Delta> = BTreeMap::new();
    for row in of_order_on(txn, order_no).await? {
        let record = to_record(row)?;
        let mut c = record.commission.clone();
        // A voided commission no longer follows its order.
        if c.on_refund(net).is_err() || c == record.commission {
            continue;
        }
        let mut update = active(&c);
        update.id = Set(record.id.as_uuid());
        commissions::Entity::update(update).exec(txn).await?;
        deltas
            .entry(record.distributor)
            .or_default()
            .add(Delta::between(Some(&record.commission), &c));
        changed.push((record.distributor, c));
    }
    commission_totals::apply(txn, &deltas).await?;
    Ok(changed)
}

/// One `commission.update` per changed commission, with its distributor's totals as
/// this transaction sees them.
pub(super) async fn commission_events(
    txn: &DatabaseTransaction,
    order_no: OrderNo,
    changed: &[(DistributorId, OrderCommission)],
) -> Result<Vec<Event>, StoreError> {
    let users = users_of(txn, changed.iter().map(|(d, _)| d.as_uuid())).await?;
    let mut events = Vec::with_capacity(changed.len());
    for (distributor, c) in changed {
        events.push(Event::CommissionUpdate {
            user_id: user_of(&users, distributor.as_uuid())?,
            distributor_id: *distributor,
            order_no,
            level: c.level as u32,
            amount: c.effective(),
            status: c.status(),
            totals: commission_totals::read(txn, *distributor).await?.totals,
        });
    }
    Ok(events)
}

async fn of_order_on(
    conn: &impl ConnectionTrait,
    order_no: OrderNo,
) -> Result<Vec<commissions::Model>, StoreError> {
    Ok(commissions::Entity::find()
        .filter(commissions::Column::OrderNo.eq(order_no.to_string()))
        .order_by_asc(commissions::Column::Level)
        .all(conn)
        .await?)
}

/// Each distributor's user, for addressing events.
async fn users_of(
    conn: &impl ConnectionTrait,
    ids: impl IntoIterator<Item = uuid::Uuid>,
) -> Result<HashMap<uuid::Uuid, uuid::Uuid>, StoreError> {
    let ids: Vec<_> = ids.into_iter().collect();
    let mut users = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IN_LIST_MAX) {
        let rows: Vec<(uuid::Uuid, uuid::Uuid)> = distributors::Entity::find()
            .select_only()
            .columns([distributors::Column::Id, distributors::Column::UserId])
            .filter(distributors::Column::Id.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(conn)
            .await?;
        users.extend(rows);
    }
    Ok(users)
}

fn user_of(
    users: &HashMap<uuid::Uuid, uuid::Uuid>,
    distributor: uuid::Uuid,
) -> Result<UserId, StoreError> {
    users
        .get(&distributor)
        .map(|u| UserId::from_uuid(*u))
        .ok_or_else(|| {
            StoreError::corrupt(format!("commission of unknown distributor {distributor}"))
        })
}

/// The amounts (and status) of `c` as a row update.
fn active(c: &OrderCommission) -> commissions::ActiveModel {
    let cents = |m: Money| Set(m.cents() as i64);
    commissions::ActiveModel {
        base_cents: cents(c.base),
        pending_cents: cents(c.pending),
        settled_cents: cents(c.settled),
        paid_out_cents: cents(c.paid_out),
        reversed_cents: cents(c.reversed),
        clawed_back_cents: cents(c.clawed_back),
        voided_cents: cents(c.voided),
        status: Set(c.status().as_str().to_owned()),
        ..Default::default()
    }
}

/// Stored cents as money; a negative amount is corrupt data.
pub(super) fn money_of(cents: i64) -> Result<Money, StoreError> {
    u64::try_from(cents)
        .map(Money::from_cents)
        .map_err(|_| StoreError::corrupt(format!("negative amount {cents}")))
}

fn to_record(m: commissions::Model) -> Result<CommissionRecord, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("commission {}: {e}", m.id));
    Ok(CommissionRecord {
        id: CommissionId::from_uuid(m.id),
        order_no: m
            .order_no
            .parse()
            .map_err(|_| corrupt("order number".into()))?,
        distributor: DistributorId::from_uuid(m.distributor_id),
        created_at: m.created_at,
        commission: OrderCommission {
            level: usize::try_from(m.level).map_err(|e| corrupt(e.to_string()))?,
            rate: m
                .rate
                .parse()
                .map_err(|_| corrupt(format!("rate {}", m.rate)))?,
            base: money_of(m.base_cents)?,
            due_at: m.due_at,
            pending: money_of(m.pending_cents)?,
            settled: money_of(m.settled_cents)?,
            paid_out: money_of(m.paid_out_cents)?,
            reversed: money_of(m.reversed_cents)?,
            clawed_back: money_of(m.clawed_back_cents)?,
            voided: money_of(m.voided_cents)?,
        },
    })
}
