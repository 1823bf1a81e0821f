//! The ledger's fast path: a whole batch of simple transfers (single, posted or held,
//! no refunds or settlements) in a constant number of statements, each taking its rows
//! as parameters whose number does not depend on the batch size (`bulk_rows`).
//! Balances move by two upserts, one for users' accounts and one for the system
//! accounts after the transfers, the first keeping the history heads it replaces,
//! onto which the transfers' insert links them. The statement after the transfers
//! writes the users' balance events as the database computes them and
//! refuses the batch if a user account would be overdrawn (`ledger_batch_events`).
//! Nothing comes back between the statements: a batch is one script. If an account
//! would have been overdrawn (perhaps spent through another node) or an idempotency
//! key was already used, the transaction rolls back and the caller falls back to the
//! per-group path, which finds out exactly which request to refuse or replay.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use foldhash::fast::RandomState;

use chrono::Utc;
use medrt_domain::ids::UserId;
use medrt_domain::ledger::{AccountRef, Phase, Transfer, TransferId, TransferSpec};
use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};
use uuid::Uuid;

use super::bulk_rows::{self, Field, Text};
use super::ledger::{GroupOutcome, user_lock};
use super::ledger_batch_events::push_guarded_events;
use super::ledger_history::{AccountMap, Chains, Links, chained, new_heads};
use super::ledger_writer::BatchTxn;
use super::script::Script;
use super::{Store, StoreError};

/// Whether every group is one plain posted or pending transfer with a key of its own.
pub(super) fn eligible(groups: &[Vec<TransferSpec>]) -> bool {
    let mut keys = HashSet::with_capacity_and_hasher(groups.len(), RandomState::default());
    groups.iter().all(|g| {
        matches!(g.as_slice(), [s] if matches!(s.phase, Phase::Posted | Phase::Pending)
            && s.reverses.is_none()
            && s.check_shape().is_ok()
            && keys.insert(s.key.as_str()))
    })
}

/// What a batch adds to one account's totals.
#[derive(Default)]
struct Delta {
    debits_posted: u64,
    credits_posted: u64,
    debits_pending: u64,
    credits_pending: u64,
}

impl Delta {
    fn debit(&mut self, amount: u64, pending: bool) {
        *if pending {
            &mut self.debits_pending
        } else {
            &mut self.debits_posted
        } += amount;
    }

    fn credit(&mut self, amount: u64, pending: bool) {
        *if pending {
            &mut self.credits_pending
        } else {
            &mut self.credits_posted
        } += amount;
    }
}

/// Commits `groups` (see `eligible`) in one transaction, or `None` when a guard
/// refused or a key was seen before.
pub(super) async fn commit(
    store: &Store,
    groups: &[Vec<TransferSpec>],
) -> Result<Option<Vec<GroupOutcome>>, StoreError> {
    let now = Utc::now();
    let mut deltas: BTreeMap<AccountRef, Delta> = BTreeMap::new();
    let fresh: Vec<Transfer> = groups
        .iter()
        .map(|group| {
            let spec = &group[0];
            let amount = spec.amount.get();
            let pending = spec.phase == Phase::Pending;
            deltas.entry(spec.debit).or_default().debit(amount, pending);
            deltas
                .entry(spec.credit)
                .or_default()
                .credit(amount, pending);
            Transfer {
                id: TransferId::generate(),
                spec: spec.clone(),
                at: now,
            }
        })
        .collect();
    let users: BTreeSet<UserId> = deltas.keys().filter_map(AccountRef::user_id).collect();
    if store.concurrent_writers() > 1 {
        // The upsert locks (sorted, so concurrent batches lock in one order) the
        // lock row of each user whose balance moves: the balances the user's event
        // reports cannot change under it. SQLite's single writer needs no lock.
        for user in &users {
            deltas.entry(user_lock(*user)).or_default();
        }
    }
    // Users' accounts move first (linking the transfers into their histories needs the
    // heads this replaces), the system accounts last, after the transfers are written
    // (see `ledger_history`), which is also `LOCK_ORDER` (`s:…` after `u:…`). Apart,
    // the users' rows are alike (a burst of charges debits each the same way), so on
    // SQLite the fields they share are bound once (`jsonb_shared`).
    let (first, last): (BTreeMap<_, _>, BTreeMap<_, _>) = deltas
        .into_iter()
        .partition(|(account, _)| chained(account));
    // Each transfer's predecessors within the batch; the first on an account follows
    // the head the upsert replaced, which the insert reads.
    let mut chains = Chains::new(AccountMap::with_capacity_and_hasher(
        fresh.len(),
        RandomState::default(),
    ));
    let links: Vec<Links> = fresh.iter().map(|t| chains.link(t)).collect();
    // What the batch credits each user account it debits (see `push_guarded_events`).
    let debited: AccountMap<u64> = first
        .iter()
        .filter(|(account, d)| {
            account.must_stay_non_negative() && (d.debits_posted > 0 || d.debits_pending > 0)
        })
        .map(|(account, d)| (*account, d.credits_posted))
        .collect();
    let mut script = BatchTxn::opening_script(store);
    push_balance_moves(&mut script, &first, &new_heads(&fresh));
    push_transfers(&mut script, &fresh, &links, now);
    if !users.is_empty() {
        push_guarded_events(&mut script, &users, &debited, now)?;
    }
    // System accounts have no floor, so this cannot refuse. Last, so the revenue
    // account, which the other writer's batch also moves, is locked only until the
    // commit.
    if !last.is_empty() {
        push_balance_moves(&mut script, &last, &AccountMap::default());
    }
    let txn = BatchTxn::begin(store).await?;
    txn.close_script(&mut script);
    if let Err(e) = script.execute(&txn).await {
        txn.rollback().await?;
        return if refused(&e) { Ok(None) } else { Err(e.into()) };
    }
    txn.committed().await?;
    Ok(Some(
        fresh
            .into_iter()
            .map(|t| GroupOutcome::Committed(vec![t]))
            .collect(),
    ))
}

/// Appends the upsert adding every delta (creating accounts on first use; a zero delta
/// only locks its row), setting each moved account's head to `heads`' entry and keeping
/// the head it replaced (`prev_head`).
fn push_balance_moves(
    script: &mut Script,
    deltas: &BTreeMap<AccountRef, Delta>,
    heads: &AccountMap<Uuid>,
) {
    let backend = script.backend();
    // Upserted (and so locked) in `LOCK_ORDER`.
    let mut rows: Vec<_> = deltas
        .iter()
        .map(|(account, d)| {
            (
                account.to_string(),
                account.kind.as_str(),
                d.debits_posted,
                d.credits_posted,
                d.debits_pending,
                d.credits_pending,
                heads.get(account).map(|id| id.simple()),
            )
        })
        .collect();
    rows.sort_unstable_by(|a, b| b.0.cmp(&a.0));
    let fields = [
        ("account", Field::Text),
        ("kind", Field::Text),
        ("dp", Field::BigInt),
        ("cp", Field::BigInt),
        ("dpe", Field::BigInt),
        ("cpe", Field::BigInt),
        ("head", Field::Uuid),
    ];
    let (values, bound) = bulk_rows::values(backend, &fields, &rows);
    script.push(values, |first| {
        let source = bound.select(first, &[]);
        // `WHERE true` tells SQLite's parser the upsert's ON is not a join constraint.
        format!(
            "INSERT INTO ledger_accounts (account, kind, debits_posted, credits_posted, \
               debits_pending, credits_pending, head) \
             SELECT * FROM ({source}) AS d WHERE true \
             ON CONFLICT (account) DO UPDATE SET \
               debits_posted = ledger_accounts.debits_posted + excluded.debits_posted, \
               credits_posted = ledger_accounts.credits_posted + excluded.credits_posted, \
               debits_pending = ledger_accounts.debits_pending + excluded.debits_pending, \
               credits_pending = ledger_accounts.credits_pending + excluded.credits_pending, \
               prev_head = ledger_accounts.head, head = excluded.head \
             WHERE excluded.debits_posted <> 0 OR excluded.credits_posted <> 0 \
               OR excluded.debits_pending <> 0 OR excluded.credits_pending <> 0"
        )
    });
}

/// Whether the database refused the batch in a way the per-group path sorts out: a
/// key used before (the only unique constraint these statements can meet), or the
/// guard's `NULL` event payload (an account would be overdrawn; see
/// `ledger_batch_events`).
pub(super) fn refused(e: &DbErr) -> bool {
    if let Some(SqlErr::UniqueConstraintViolation(_)) = e.sql_err() {
        return true;
    }
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = e else {
        return false;
    };
    e.as_database_error()
        .is_some_and(|e| e.kind() == sqlx::error::ErrorKind::NotNullViolation)
}

/// Stands, in a transfer's row, for "first on its chained account in this batch": its
/// predecessor is the head the batch's upsert replaced there. No id is the max UUID.
const FOLLOWS_REPLACED_HEAD: Uuid = Uuid::max();

/// Appends the insert of `fresh`, linked as `links` says; a transfer first on a chained
/// account in the batch (no predecessor in it) follows the head the batch's upsert
/// replaced there.
fn push_transfers(
    script: &mut Script,
    fresh: &[Transfer],
    links: &[Links],
    now: chrono::DateTime<Utc>,
) {
    let backend = script.backend();
    let link = |account: &AccountRef, prev: Option<Uuid>| {
        let first = chained(account).then_some(FOLLOWS_REPLACED_HEAD);
        prev.or(first).map(Uuid::simple)
    };
    let rows: Vec<_> = fresh
        .iter()
        .zip(links)
        .map(|(t, links)| {
            let s = &t.spec;
            (
                t.id.as_uuid().simple(),
                s.key.as_str(),
                Text(s.debit),
                Text(s.credit),
                s.debit.kind.as_str(),
                s.amount.get(),
                s.reason.as_str(),
                s.reference.as_ref().map(|r| r.as_str()),
                s.phase.name(),
                link(&s.debit, links.debit_prev),
                link(&s.credit, links.credit_prev),
            )
        })
        .collect();
    let fields = [
        ("id", Field::Uuid),
        ("idempotency_key", Field::Text),
        ("debit_account", Field::Text),
        ("credit_account", Field::Text),
        ("kind", Field::Text),
        ("amount", Field::BigInt),
        ("reason", Field::Text),
        ("reference", Field::NullableText),
        ("phase", Field::Text),
        ("debit_prev", Field::Uuid),
        ("credit_prev", Field::Uuid),
    ];
    let replaced = bulk_rows::uuid_literal(backend, FOLLOWS_REPLACED_HEAD);
    // Each field is stored as it is, but a link marked as following the replaced head
    // is read from the account.
    let columns: Vec<(&str, String)> = fields
        .iter()
        .map(|(name, _)| {
            let column = match name.strip_suffix("_prev") {
                Some(side) => format!(
                    "CASE t.{name} WHEN {replaced} THEN (SELECT a.prev_head \
                       FROM ledger_accounts a WHERE a.account = t.{side}_account) \
                     ELSE t.{name} END"
                ),
                None => format!("t.{name}"),
            };
            (*name, column)
        })
        .collect();
    bulk_rows::push_insert_computed(script, "ledger_transfers", &columns, &fields, &rows, now);
}
