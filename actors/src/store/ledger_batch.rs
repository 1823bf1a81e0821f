//! The ledger's fast path: a whole batch of simple transfers (single, posted or held,
//! no refunds or settlements) in a constant number of statements. Balances move by one
//! guarded `UPDATE … FROM` over every account in the batch; if any guard refuses
//! (an account short on funds, perhaps spent through another node), the transaction
//! rolls back and the caller falls back to the per-group path, which finds out exactly
//! which request to refuse.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;
use medrt_domain::ledger::{
    AccountRef, LedgerError, Phase, Reason, Transfer, TransferId, TransferSpec,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    Statement, Value,
};

use super::chunks::statement_chunks;
use super::entities::{
    ledger_accounts as accounts, ledger_refunds as refunds, ledger_transfers as transfers,
};
use super::ledger::{GroupOutcome, balance_events};
use super::ledger_rows::{account_row, to_transfer, transfer_row};
use super::outbox::Outbox;
use super::{Store, StoreError};

/// Whether every group is one plain posted or pending transfer with a key of its own.
pub(super) fn eligible(groups: &[Vec<TransferSpec>]) -> bool {
    let mut keys = HashSet::with_capacity(groups.len());
    groups.iter().all(|g| {
        matches!(g.as_slice(), [s] if matches!(s.phase, Phase::Posted | Phase::Pending)
            && s.reverses.is_none()
            && s.check_shape().is_ok()
            && keys.insert(s.key.as_str()))
    })
}

#[derive(Default)]
struct Delta {
    debits_posted: i64,
    credits_posted: i64,
    debits_pending: i64,
    credits_pending: i64,
}

/// Commits `groups` (see `eligible`) in one transaction, or `None` when a guard refused.
pub(super) async fn commit(
    store: &Store,
    groups: &[Vec<TransferSpec>],
) -> Result<Option<Vec<GroupOutcome>>, StoreError> {
    let txn = store.begin_write().await?;
    let backend = txn.get_database_backend();
    let keys: Vec<&str> = groups.iter().map(|g| g[0].key.as_str()).collect();
    let mut existing: HashMap<String, transfers::Model> = HashMap::new();
    for chunk in statement_chunks(backend, &keys) {
        let rows = transfers::Entity::find()
            .filter(transfers::Column::IdempotencyKey.is_in(chunk.iter().copied()))
            .all(&txn)
            .await?;
        existing.extend(rows.into_iter().map(|m| (m.idempotency_key.clone(), m)));
    }
    let now = Utc::now();
    let mut outcomes = Vec::with_capacity(groups.len());
    let mut fresh: Vec<Transfer> = Vec::with_capacity(groups.len());
    let mut deltas: BTreeMap<AccountRef, Delta> = BTreeMap::new();
    for group in groups {
        let spec = &group[0];
        if let Some(row) = existing.get(spec.key.as_str()) {
            outcomes.push(if row.fingerprint == spec.fingerprint() {
                GroupOutcome::Replayed(vec![to_transfer(row.clone())?])
            } else {
                GroupOutcome::Rejected(LedgerError::KeyReused)
            });
            continue;
        }
        let amount = spec.amount.get() as i64;
        let pending = spec.phase == Phase::Pending;
        let debit = deltas.entry(spec.debit).or_default();
        if pending {
            debit.debits_pending += amount
        } else {
            debit.debits_posted += amount
        }
        let credit = deltas.entry(spec.credit).or_default();
        if pending {
            credit.credits_pending += amount
        } else {
            credit.credits_posted += amount
        }
        let transfer = Transfer {
            id: TransferId::generate(),
            spec: spec.clone(),
            at: now,
        };
        outcomes.push(GroupOutcome::Committed(vec![transfer.clone()]));
        fresh.push(transfer);
    }
    if fresh.is_empty() {
        txn.commit().await?;
        return Ok(Some(outcomes));
    }
    let deltas: Vec<(AccountRef, Delta)> = deltas.into_iter().collect();
    let mut moved = 0;
    for chunk in statement_chunks(backend, &deltas) {
        accounts::Entity::insert_many(chunk.iter().map(|(a, _)| account_row(*a)))
            .on_conflict_do_nothing_on([accounts::Column::Account])
            .exec(&txn)
            .await?;
        moved += apply_deltas(&txn, chunk).await?;
    }
    if moved != deltas.len() as u64 {
        txn.rollback().await?;
        return Ok(None);
    }
    for chunk in statement_chunks(backend, &fresh) {
        transfers::Entity::insert_many(chunk.iter().map(transfer_row))
            .exec(&txn)
            .await?;
    }
    let charges: Vec<refunds::ActiveModel> = fresh
        .iter()
        .filter(|t| t.spec.reason == Reason::Charge && t.spec.phase == Phase::Posted)
        .map(|t| refunds::ActiveModel {
            charge_id: sea_orm::ActiveValue::Set(t.id.as_uuid()),
            charged: sea_orm::ActiveValue::Set(t.spec.amount.get() as i64),
            refunded: sea_orm::ActiveValue::Set(0),
        })
        .collect();
    for chunk in statement_chunks(backend, &charges) {
        refunds::Entity::insert_many(chunk.to_vec())
            .exec(&txn)
            .await?;
    }
    let touched = fresh
        .iter()
        .flat_map(|t| [t.spec.debit.user_id(), t.spec.credit.user_id()])
        .flatten()
        .collect();
    Outbox::append_all(&txn, &balance_events(&txn, &touched).await?, now).await?;
    txn.commit().await?;
    Ok(Some(outcomes))
}

/// One statement moving every account's totals; user accounts only if they stay
/// covered (counting only what they had before this batch). Returns the rows moved.
async fn apply_deltas(
    txn: &DatabaseTransaction,
    deltas: &[(AccountRef, Delta)],
) -> Result<u64, StoreError> {
    let backend = txn.get_database_backend();
    let mut values: Vec<Value> = Vec::with_capacity(deltas.len() * 6);
    let mut rows = Vec::with_capacity(deltas.len());
    for (account, d) in deltas {
        let first = values.len();
        let p = |i: usize| match backend {
            DbBackend::Postgres => format!("${}", first + i + 1),
            _ => "?".to_owned(),
        };
        let cast = if backend == DbBackend::Postgres {
            "::bigint"
        } else {
            ""
        };
        rows.push(format!(
            "({}, {}{cast}, {}{cast}, {}{cast}, {}{cast}, {}{cast})",
            p(0),
            p(1),
            p(2),
            p(3),
            p(4),
            p(5)
        ));
        values.extend([
            account.to_string().into(),
            d.debits_posted.into(),
            d.credits_posted.into(),
            d.debits_pending.into(),
            d.credits_pending.into(),
            i64::from(account.must_stay_non_negative()).into(),
        ]);
    }
    let sql = format!(
        "WITH v(account, dp, cp, dpe, cpe, guarded) AS (VALUES {}) \
         UPDATE ledger_accounts SET \
           debits_posted = ledger_accounts.debits_posted + v.dp, \
           credits_posted = ledger_accounts.credits_posted + v.cp, \
           debits_pending = ledger_accounts.debits_pending + v.dpe, \
           credits_pending = ledger_accounts.credits_pending + v.cpe \
         FROM v WHERE ledger_accounts.account = v.account AND (v.guarded = 0 OR \
           ledger_accounts.credits_posted - ledger_accounts.debits_posted - ledger_accounts.debits_pending - v.dp - v.dpe >= 0)",
        rows.join(", ")
    );
    let result = txn
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(result.rows_affected())
}
