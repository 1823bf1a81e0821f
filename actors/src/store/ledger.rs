//! The ledger in the database. Every rule of `domain::ledger::Book` is enforced here
//! again by the database itself (guarded balance updates, unique idempotency keys,
//! one settlement per hold, refund totals that cannot pass the charge), so several
//! nodes cannot double-spend whatever their actors believe.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use medrt_domain::event::Event;
use medrt_domain::ids::UserId;
use medrt_domain::ledger::{
    AccountRef, Amount, Balance, LedgerConfig, LedgerError, Phase, PointKind, Reason, Reference,
    Transfer, TransferId, TransferSpec,
};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use super::entities::ledger_transfers as transfers;
use super::entities::{
    ledger_accounts as accounts, ledger_refunds as refunds, ledger_settings as settings,
};
use super::outbox::Outbox;
use super::page::{Page, PageRequest};
use super::{Store, StoreError};

const CONFIG_KEY: &str = "config";

pub struct Ledger<'a> {
    store: &'a Store,
}

/// The books checked from the database: per kind, posted balances and pending amounts
/// must each net to zero, and no user account may be overdrawn.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audit {
    pub accounts: u64,
    pub transfers: u64,
    /// Per kind: sum of posted balances, sum of pending debits minus pending credits.
    pub imbalances: Vec<(PointKind, i128, i128)>,
    pub overdrawn: Vec<String>,
}

impl Audit {
    pub fn balanced(&self) -> bool {
        self.imbalances
            .iter()
            .all(|(_, posted, pending)| *posted == 0 && *pending == 0)
            && self.overdrawn.is_empty()
    }
}

/// What became of one group of a committed batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupOutcome {
    Committed(Vec<Transfer>),
    Replayed(Vec<Transfer>),
    Rejected(LedgerError),
}

impl<'a> Ledger<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self { store }
    }

    pub async fn balance(&self, account: AccountRef) -> Result<Balance, StoreError> {
        let row = accounts::Entity::find_by_id(account.to_string())
            .one(&self.store.db)
            .await?;
        row.map(to_balance)
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Available points of both kinds.
    pub async fn available(&self, user: UserId) -> Result<(i64, i64), StoreError> {
        available_of(&self.store.db, user).await
    }

    /// Applies `groups` in one transaction, each all-or-nothing. A rejected group
    /// changes nothing; the others commit together. Users whose balance changed get a
    /// `points.balance` event in the same transaction.
    pub async fn commit(
        &self,
        groups: &[Vec<TransferSpec>],
    ) -> Result<Vec<GroupOutcome>, StoreError> {
        if super::ledger_batch::eligible(groups) {
            if let Some(outcomes) = super::ledger_batch::commit(self.store, groups).await? {
                self.store.outbox_written.notify_one();
                return Ok(outcomes);
            }
        }
        let txn = self.store.begin_write().await?;
        let mut outcomes = Vec::with_capacity(groups.len());
        let mut touched: BTreeSet<UserId> = BTreeSet::new();
        for group in groups {
            let savepoint = txn.begin().await?;
            match apply_group(&savepoint, group).await? {
                GroupOutcome::Committed(done) => {
                    savepoint.commit().await?;
                    for t in &done {
                        touched.extend(t.spec.debit.user_id());
                        touched.extend(t.spec.credit.user_id());
                    }
                    outcomes.push(GroupOutcome::Committed(done));
                }
                other => {
                    savepoint.rollback().await?;
                    outcomes.push(other);
                }
            }
        }
        Outbox::append_all(&txn, &balance_events(&txn, &touched).await?, Utc::now()).await?;
        txn.commit().await?;
        if !touched.is_empty() {
            self.store.outbox_written.notify_one();
        }
        Ok(outcomes)
    }

    /// Checks every account against the invariants, in one consistent read.
    pub async fn audit(&self) -> Result<Audit, StoreError> {
        let txn = self.store.db.begin().await?;
        let rows = accounts::Entity::find().all(&txn).await?;
        let transfers = transfers::Entity::find().count(&txn).await?;
        txn.commit().await?;
        let mut audit = Audit {
            accounts: rows.len() as u64,
            transfers,
            ..Audit::default()
        };
        let mut sums: HashMap<PointKind, (i128, i128)> =
            PointKind::ALL.iter().map(|k| (*k, (0, 0))).collect();
        for row in rows {
            let account: AccountRef = row.account.parse().map_err(StoreError::corrupt)?;
            let balance = to_balance(row)?;
            let sum = sums.entry(account.kind).or_default();
            sum.0 += balance.posted();
            sum.1 += i128::from(balance.debits_pending) - i128::from(balance.credits_pending);
            if account.must_stay_non_negative() && balance.available() < 0 {
                audit.overdrawn.push(account.to_string());
            }
        }
        audit.imbalances = PointKind::ALL
            .iter()
            .map(|k| (*k, sums[k].0, sums[k].1))
            .collect();
        Ok(audit)
    }

    /// Transfers touching `user`'s accounts, newest first.
    pub async fn history(
        &self,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<Transfer>, StoreError> {
        let keys: Vec<String> = PointKind::ALL
            .iter()
            .map(|k| AccountRef::user(user, *k).to_string())
            .collect();
        let mut query = transfers::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(transfers::Column::DebitAccount.is_in(keys.clone()))
                    .add(transfers::Column::CreditAccount.is_in(keys)),
            )
            .order_by_desc(transfers::Column::Id)
            .limit(page.limit + 1);
        if let Some(before) = page.after {
            query = query.filter(transfers::Column::Id.lt(before.0));
        }
        let rows = query.all(&self.store.db).await?;
        let items = rows
            .into_iter()
            .map(to_transfer)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(items, page.limit, |t| t.id.as_uuid()))
    }

    /// The posted charge made for `reference`, if any.
    pub async fn charge_for(&self, reference: &Reference) -> Result<Option<Transfer>, StoreError> {
        let row = transfers::Entity::find()
            .filter(transfers::Column::Reference.eq(reference.as_str()))
            .filter(transfers::Column::Reason.eq(Reason::Charge.as_str()))
            .filter(transfers::Column::Phase.ne("pending"))
            .order_by_asc(transfers::Column::Id)
            .one(&self.store.db)
            .await?;
        row.map(to_transfer).transpose()
    }

    /// What is left to refund of `charge`.
    pub async fn refundable(&self, charge: TransferId) -> Result<u64, StoreError> {
        let row = refunds::Entity::find_by_id(charge.as_uuid())
            .one(&self.store.db)
            .await?;
        Ok(row.map_or(0, |r| Ord::max(r.charged - r.refunded, 0) as u64))
    }

    pub async fn config(&self) -> Result<LedgerConfig, StoreError> {
        let row = settings::Entity::find_by_id(CONFIG_KEY.to_owned())
            .one(&self.store.db)
            .await?;
        match row {
            None => Ok(LedgerConfig::default()),
            Some(r) => serde_json::from_str(&r.value).map_err(StoreError::corrupt),
        }
    }

    pub async fn set_config(&self, config: &LedgerConfig) -> Result<(), StoreError> {
        let value = serde_json::to_string(config).map_err(StoreError::corrupt)?;
        let row = settings::ActiveModel {
            key: Set(CONFIG_KEY.to_owned()),
            value: Set(value),
        };
        settings::Entity::insert(row)
            .on_conflict(
                OnConflict::column(settings::Column::Key)
                    .update_column(settings::Column::Value)
                    .to_owned(),
            )
            .exec(&self.store.db)
            .await?;
        Ok(())
    }
}

async fn available_of<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
) -> Result<(i64, i64), StoreError> {
    Ok(available_of_all(conn, &BTreeSet::from([user]))
        .await?
        .remove(&user)
        .unwrap_or((0, 0)))
}

/// Available (high, low) points of each of `users`, in one query.
async fn available_of_all<C: ConnectionTrait>(
    conn: &C,
    users: &BTreeSet<UserId>,
) -> Result<HashMap<UserId, (i64, i64)>, StoreError> {
    let ids: Vec<uuid::Uuid> = users.iter().map(|u| u.as_uuid()).collect();
    let rows = accounts::Entity::find()
        .filter(accounts::Column::UserId.is_in(ids))
        .all(conn)
        .await?;
    let mut totals: HashMap<UserId, (i64, i64)> = users.iter().map(|u| (*u, (0, 0))).collect();
    for row in rows {
        let account: AccountRef = row.account.parse().map_err(StoreError::corrupt)?;
        let Some(user) = account.user_id() else {
            continue;
        };
        let available = i64::try_from(to_balance(row)?.available()).map_err(StoreError::corrupt)?;
        let entry = totals.entry(user).or_default();
        match account.kind {
            PointKind::High => entry.0 = available,
            PointKind::Low => entry.1 = available,
        }
    }
    Ok(totals)
}

/// A `points.balance` event for each of `users`, with their balances as of now.
pub(super) async fn balance_events<C: ConnectionTrait>(
    conn: &C,
    users: &BTreeSet<UserId>,
) -> Result<Vec<Event>, StoreError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let balances = available_of_all(conn, users).await?;
    Ok(users
        .iter()
        .map(|u| {
            let (high, low) = balances.get(u).copied().unwrap_or((0, 0));
            Event::PointsBalance {
                user_id: *u,
                high,
                low,
            }
        })
        .collect())
}

/// One group inside its savepoint. `Err` is a database failure; rule violations come
/// back as `Rejected` and the caller rolls the savepoint back.
async fn apply_group(
    txn: &DatabaseTransaction,
    group: &[TransferSpec],
) -> Result<GroupOutcome, StoreError> {
    let keys: Vec<&str> = group.iter().map(|s| s.key.as_str()).collect();
    let existing: HashMap<String, transfers::Model> = transfers::Entity::find()
        .filter(transfers::Column::IdempotencyKey.is_in(keys))
        .all(txn)
        .await?
        .into_iter()
        .map(|m| (m.idempotency_key.clone(), m))
        .collect();
    if !existing.is_empty() {
        let mut replayed = Vec::with_capacity(group.len());
        for spec in group {
            match existing.get(spec.key.as_str()) {
                Some(row) if row.fingerprint == spec.fingerprint() => {
                    replayed.push(to_transfer(row.clone())?)
                }
                _ => return Ok(GroupOutcome::Rejected(LedgerError::KeyReused)),
            }
        }
        return Ok(GroupOutcome::Replayed(replayed));
    }
    let now = Utc::now();
    let mut done = Vec::with_capacity(group.len());
    for spec in group {
        if let Err(rule) = apply_one(txn, spec).await? {
            return Ok(GroupOutcome::Rejected(rule));
        }
        let transfer = Transfer {
            id: TransferId::generate(),
            spec: spec.clone(),
            at: now,
        };
        insert_transfer(txn, &transfer).await?;
        done.push(transfer);
    }
    Ok(GroupOutcome::Committed(done))
}

/// Moves the balances for one spec, after checking it against the database.
async fn apply_one(
    txn: &DatabaseTransaction,
    spec: &TransferSpec,
) -> Result<Result<(), LedgerError>, StoreError> {
    if let Err(e) = spec.check_shape() {
        return Ok(Err(e));
    }
    ensure_account(txn, spec.debit).await?;
    ensure_account(txn, spec.credit).await?;
    let amount = spec.amount.get() as i64;
    match spec.phase {
        Phase::Posted | Phase::Pending => {
            if let Some(charge) = spec.reverses {
                if let Err(e) = reserve_refund(txn, charge, spec).await? {
                    return Ok(Err(e));
                }
            }
            let (debit_col, credit_col) = match spec.phase {
                Phase::Pending => (
                    accounts::Column::DebitsPending,
                    accounts::Column::CreditsPending,
                ),
                _ => (
                    accounts::Column::DebitsPosted,
                    accounts::Column::CreditsPosted,
                ),
            };
            let mut debit = accounts::Entity::update_many()
                .col_expr(debit_col, Expr::col(debit_col).add(amount))
                .filter(accounts::Column::Account.eq(spec.debit.to_string()));
            if spec.debit.must_stay_non_negative() {
                debit = debit.filter(
                    Expr::col(accounts::Column::CreditsPosted)
                        .sub(Expr::col(accounts::Column::DebitsPosted))
                        .sub(Expr::col(accounts::Column::DebitsPending))
                        .gte(amount),
                );
            }
            if debit.exec(txn).await?.rows_affected == 0 {
                let available = balance_in(txn, spec.debit).await?.available();
                return Ok(Err(LedgerError::Insufficient {
                    available,
                    wanted: spec.amount.get(),
                }));
            }
            accounts::Entity::update_many()
                .col_expr(credit_col, Expr::col(credit_col).add(amount))
                .filter(accounts::Column::Account.eq(spec.credit.to_string()))
                .exec(txn)
                .await?;
        }
        Phase::Post(hold) | Phase::Void(hold) => {
            let held = match open_hold(txn, hold, spec).await? {
                Ok(held) => held,
                Err(e) => return Ok(Err(e)),
            };
            let posted = if matches!(spec.phase, Phase::Post(_)) {
                amount
            } else {
                0
            };
            if posted > held {
                return Ok(Err(LedgerError::PostExceedsHold));
            }
            for (account, pending, posted_col) in [
                (
                    spec.debit,
                    accounts::Column::DebitsPending,
                    accounts::Column::DebitsPosted,
                ),
                (
                    spec.credit,
                    accounts::Column::CreditsPending,
                    accounts::Column::CreditsPosted,
                ),
            ] {
                accounts::Entity::update_many()
                    .col_expr(pending, Expr::col(pending).sub(held))
                    .col_expr(posted_col, Expr::col(posted_col).add(posted))
                    .filter(accounts::Column::Account.eq(account.to_string()))
                    .exec(txn)
                    .await?;
            }
        }
    }
    Ok(Ok(()))
}

/// The amount of hold `hold` if it is open and belongs to `spec`'s accounts.
async fn open_hold(
    txn: &DatabaseTransaction,
    hold: TransferId,
    spec: &TransferSpec,
) -> Result<Result<i64, LedgerError>, StoreError> {
    let Some(row) = transfers::Entity::find_by_id(hold.as_uuid())
        .one(txn)
        .await?
        .filter(|r| r.phase == "pending")
    else {
        return Ok(Err(LedgerError::UnknownHold));
    };
    if row.debit_account != spec.debit.to_string() || row.credit_account != spec.credit.to_string()
    {
        return Ok(Err(LedgerError::HoldMismatch));
    }
    let settled = transfers::Entity::find()
        .filter(transfers::Column::Settles.eq(hold.as_uuid()))
        .one(txn)
        .await?;
    if settled.is_some() {
        return Ok(Err(LedgerError::HoldSettled));
    }
    Ok(Ok(row.amount))
}

/// Counts a refund against its charge, refusing to pass what was charged.
async fn reserve_refund(
    txn: &DatabaseTransaction,
    charge: TransferId,
    spec: &TransferSpec,
) -> Result<Result<(), LedgerError>, StoreError> {
    let Some(row) = transfers::Entity::find_by_id(charge.as_uuid())
        .one(txn)
        .await?
    else {
        return Ok(Err(LedgerError::UnknownCharge));
    };
    if row.reason != Reason::Charge.as_str() || row.phase == "pending" {
        return Ok(Err(LedgerError::UnknownCharge));
    }
    if row.debit_account != spec.credit.to_string() {
        return Ok(Err(LedgerError::RefundMismatch));
    }
    let amount = spec.amount.get() as i64;
    let updated = refunds::Entity::update_many()
        .col_expr(
            refunds::Column::Refunded,
            Expr::col(refunds::Column::Refunded).add(amount),
        )
        .filter(refunds::Column::ChargeId.eq(charge.as_uuid()))
        .filter(
            Expr::col(refunds::Column::Refunded)
                .add(amount)
                .lte(Expr::col(refunds::Column::Charged)),
        )
        .exec(txn)
        .await?;
    if updated.rows_affected == 0 {
        let left = refunds::Entity::find_by_id(charge.as_uuid())
            .one(txn)
            .await?
            .map_or(0, |r| r.charged - r.refunded);
        return Ok(Err(LedgerError::RefundExceedsCharge {
            remaining: Ord::max(left, 0) as u64,
        }));
    }
    Ok(Ok(()))
}

pub(super) fn account_row(account: AccountRef) -> accounts::ActiveModel {
    accounts::ActiveModel {
        account: Set(account.to_string()),
        user_id: Set(account.user_id().map(|u| u.as_uuid())),
        kind: Set(account.kind.as_str().to_owned()),
        debits_posted: Set(0),
        credits_posted: Set(0),
        debits_pending: Set(0),
        credits_pending: Set(0),
    }
}

async fn ensure_account(txn: &DatabaseTransaction, account: AccountRef) -> Result<(), StoreError> {
    accounts::Entity::insert(account_row(account))
        .on_conflict_do_nothing_on([accounts::Column::Account])
        .exec(txn)
        .await?;
    Ok(())
}

async fn balance_in(txn: &DatabaseTransaction, account: AccountRef) -> Result<Balance, StoreError> {
    let row = accounts::Entity::find_by_id(account.to_string())
        .one(txn)
        .await?;
    row.map(to_balance)
        .transpose()
        .map(Option::unwrap_or_default)
}

pub(super) fn transfer_row(t: &Transfer) -> transfers::ActiveModel {
    let spec = &t.spec;
    let (phase, settles) = match spec.phase {
        Phase::Posted => ("posted", None),
        Phase::Pending => ("pending", None),
        Phase::Post(h) => ("post", Some(h.as_uuid())),
        Phase::Void(h) => ("void", Some(h.as_uuid())),
    };
    transfers::ActiveModel {
        id: Set(t.id.as_uuid()),
        idempotency_key: Set(spec.key.as_str().to_owned()),
        fingerprint: Set(spec.fingerprint()),
        debit_account: Set(spec.debit.to_string()),
        credit_account: Set(spec.credit.to_string()),
        kind: Set(spec.debit.kind.as_str().to_owned()),
        amount: Set(spec.amount.get() as i64),
        reason: Set(spec.reason.as_str().to_owned()),
        reference: Set(spec.reference.as_ref().map(|r| r.as_str().to_owned())),
        phase: Set(phase.to_owned()),
        settles: Set(settles),
        reverses: Set(spec.reverses.map(|r| r.as_uuid())),
        created_at: Set(t.at),
    }
}

async fn insert_transfer(txn: &DatabaseTransaction, t: &Transfer) -> Result<(), StoreError> {
    let spec = &t.spec;
    transfers::Entity::insert(transfer_row(t))
        .exec(txn)
        .await
        .map_err(|e| StoreError::unique(e, "idempotency key"))?;
    let is_charge =
        spec.reason == Reason::Charge && matches!(spec.phase, Phase::Posted | Phase::Post(_));
    if is_charge {
        let charge = refunds::ActiveModel {
            charge_id: Set(t.id.as_uuid()),
            charged: Set(spec.amount.get() as i64),
            refunded: Set(0),
        };
        refunds::Entity::insert(charge).exec(txn).await?;
    }
    Ok(())
}

fn to_balance(row: accounts::Model) -> Result<Balance, StoreError> {
    let n = |v: i64| {
        u64::try_from(v)
            .map_err(|_| StoreError::corrupt(format!("negative total on {}", row.account)))
    };
    Ok(Balance {
        debits_posted: n(row.debits_posted)?,
        credits_posted: n(row.credits_posted)?,
        debits_pending: n(row.debits_pending)?,
        credits_pending: n(row.credits_pending)?,
    })
}

pub(super) fn to_transfer(row: transfers::Model) -> Result<Transfer, StoreError> {
    let bad = |what: &str| StoreError::corrupt(format!("transfer {}: bad {what}", row.id));
    let phase = match (row.phase.as_str(), row.settles) {
        ("posted", None) => Phase::Posted,
        ("pending", None) => Phase::Pending,
        ("post", Some(h)) => Phase::Post(TransferId::from_uuid(h)),
        ("void", Some(h)) => Phase::Void(TransferId::from_uuid(h)),
        _ => return Err(bad("phase")),
    };
    let spec = TransferSpec {
        key: medrt_domain::ledger::IdempotencyKey::parse(&row.idempotency_key)
            .map_err(|_| bad("key"))?,
        debit: row
            .debit_account
            .parse()
            .map_err(|_| bad("debit account"))?,
        credit: row
            .credit_account
            .parse()
            .map_err(|_| bad("credit account"))?,
        amount: Amount::new(row.amount).map_err(|_| bad("amount"))?,
        reason: Reason::parse(&row.reason).ok_or_else(|| bad("reason"))?,
        reference: row
            .reference
            .as_deref()
            .map(|r| Reference::parse(r).ok_or_else(|| bad("reference")))
            .transpose()?,
        phase,
        reverses: row.reverses.map(TransferId::from_uuid),
    };
    Ok(Transfer {
        id: TransferId::from_uuid(row.id),
        spec,
        at: row.created_at,
    })
}
