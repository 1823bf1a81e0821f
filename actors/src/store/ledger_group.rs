//! The ledger's per-group path: each group inside its own savepoint, every rule checked
//! against the database one transfer at a time. Handles what the batch fast path
//! does not (settlements, refunds, linked groups, and batches a guard refused).

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use medrt_domain::ids::UserId;
use medrt_domain::ledger::{AccountRef, LedgerError, Phase, Transfer, TransferId, TransferSpec};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, Statement, Value,
};

use super::StoreError;
use super::bulk_rows::{self, Field};
use super::entities::{
    ledger_accounts as accounts, ledger_refunds as refunds, ledger_transfers as transfers,
};
use super::ledger::{GroupOutcome, LOCK_ORDER, balance_of, user_lock};
use super::ledger_history::{Chains, Links, chained};
use super::ledger_rows::{account_row, replaced_heads, to_transfer, transfer_row};

/// One group inside its savepoint. `Err` is a database failure; rule violations come
/// back as `Rejected` and the caller rolls the savepoint back.
pub(super) async fn apply_group(
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
                Some(row) => {
                    let earlier = to_transfer(row.clone())?;
                    // A retry with the same key must repeat the request exactly.
                    if earlier.spec != *spec {
                        return Ok(GroupOutcome::Rejected(LedgerError::KeyReused));
                    }
                    replayed.push(earlier);
                }
                None => return Ok(GroupOutcome::Rejected(LedgerError::KeyReused)),
            }
        }
        return Ok(GroupOutcome::Replayed(replayed));
    }
    prepare_accounts(txn, group).await?;
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
        let links = link(txn, &transfer).await?;
        insert_transfer(txn, &transfer, links).await?;
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
    let amount = spec.amount.get() as i64;
    match spec.phase {
        Phase::Posted | Phase::Pending => {
            if let Some(charge) = spec.reverses
                && let Err(e) = reserve_refund(txn, charge, spec).await?
            {
                return Ok(Err(e));
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
                let available = balance_of(txn, spec.debit).await?.available();
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
        .filter(|r| r.phase == Phase::PENDING)
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
    let row = to_transfer(row)?;
    if !row.spec.is_charge() {
        return Ok(Err(LedgerError::UnknownCharge));
    }
    if row.spec.debit != spec.credit {
        return Ok(Err(LedgerError::RefundMismatch));
    }
    let amount = spec.amount.get() as i64;
    // A charge's refund row is created by its first refund, keeping charges cheap.
    let first = refunds::ActiveModel {
        charge_id: Set(charge.as_uuid()),
        charged: Set(row.spec.amount.get() as i64),
        refunded: Set(0),
    };
    refunds::Entity::insert(first)
        .on_conflict_do_nothing_on([refunds::Column::ChargeId])
        .exec_without_returning(txn)
        .await?;
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

/// Creates the group's accounts on first use and, on PostgreSQL, locks them and its
/// users' lock rows (see `user_lock`) in sorted order, as the batch path's upsert does:
/// concurrent writers (a second batch, another node) then always wait for each other
/// in one order and never deadlock.
async fn prepare_accounts(
    txn: &DatabaseTransaction,
    group: &[TransferSpec],
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let mut accounts: BTreeSet<AccountRef> =
        group.iter().flat_map(|s| [s.debit, s.credit]).collect();
    if backend == DbBackend::Postgres {
        let users: Vec<UserId> = accounts.iter().filter_map(AccountRef::user_id).collect();
        accounts.extend(users.into_iter().map(user_lock));
    }
    for account in &accounts {
        accounts::Entity::insert(account_row(*account))
            .on_conflict_do_nothing_on([accounts::Column::Account])
            .exec_without_returning(txn)
            .await?;
    }
    if backend == DbBackend::Postgres {
        let keys: Vec<(String,)> = accounts.iter().map(|a| (a.to_string(),)).collect();
        let (accounts_in, values) = bulk_rows::is_in(backend, "account", Field::Text, &keys);
        let sql = format!(
            "SELECT account FROM ledger_accounts WHERE {accounts_in} ORDER BY {LOCK_ORDER} \
             FOR UPDATE"
        );
        txn.query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// Makes `t` the head of its accounts' chains; its predecessors on them.
async fn link(txn: &DatabaseTransaction, t: &Transfer) -> Result<Links, StoreError> {
    // An account without a chain is given as `NULL`, which matches no row.
    let name = |account: AccountRef| chained(&account).then(|| account.to_string());
    let values: [Value; 3] = [
        Value::Uuid(Some(t.id.as_uuid())),
        Value::String(name(t.spec.debit)),
        Value::String(name(t.spec.credit)),
    ];
    let backend = txn.get_database_backend();
    let sql = format!(
        "UPDATE ledger_accounts SET prev_head = head, head = {} \
         WHERE account IN ({}, {}) RETURNING account, prev_head",
        bulk_rows::param(backend, 1),
        bulk_rows::param(backend, 2),
        bulk_rows::param(backend, 3)
    );
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(Chains::new(replaced_heads(&rows)?).link(t))
}

async fn insert_transfer(
    txn: &DatabaseTransaction,
    t: &Transfer,
    links: Links,
) -> Result<(), StoreError> {
    transfers::Entity::insert(transfer_row(t, links))
        .exec_without_returning(txn)
        .await
        .map_err(|e| StoreError::unique(e, "idempotency key"))?;
    Ok(())
}
