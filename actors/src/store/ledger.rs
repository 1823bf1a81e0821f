//! The ledger in the database. Every rule of `domain::ledger::Book` is enforced here
//! again by the database itself (guarded balance updates, unique idempotency keys,
//! one settlement per hold, refund totals that cannot pass the charge), so several
//! nodes cannot double-spend whatever their actors believe.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use medrt_domain::event::Event;
use medrt_domain::ids::UserId;
use medrt_domain::ledger::{
    AccountRef, Balance, LedgerConfig, LedgerError, Phase as LedgerPhase, PointKind, Reason,
    Reference, Transfer, TransferSpec,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use super::bulk_rows::{self, Field};
use super::entities::ledger_transfers as transfers;
use super::entities::{ledger_accounts as accounts, ledger_refunds as refunds};
use super::key_values;
use super::ledger_group::apply_group;
use super::ledger_history::HistoryCursor;
use super::ledger_rows::{balances_from_json, to_balance, to_transfer};
use super::page::{Page, PageRequest};
use super::script::Script;
use super::{Store, StoreError};

const CONFIG_KEY: &str = "config";

/// The ledger's store. Its reads are of committed state, so they go beside the writer
/// (`Store::reader`): on SQLite the writer's one connection may be held by the
/// ledger's own batches for up to 50 ms at a time (see `ledger_writer`).
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
        balance_of(&self.store.reader, account).await
    }

    /// Available points of both kinds.
    pub async fn available(&self, user: UserId) -> Result<(i64, i64), StoreError> {
        available_of(&self.store.reader, user).await
    }

    /// Applies `groups` in one transaction, each all-or-nothing. A rejected group
    /// changes nothing; the others commit together. Users whose balance changed get a
    /// `points.balance` event in the same transaction.
    pub async fn commit(
        &self,
        groups: &[Vec<TransferSpec>],
    ) -> Result<Vec<GroupOutcome>, StoreError> {
        if super::ledger_batch::eligible(groups)
            && let Some(outcomes) = super::ledger_batch::commit(self.store, groups).await?
        {
            self.store.outbox_written.notify_one();
            return Ok(outcomes);
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
        let events = balance_events(&txn, &touched).await?;
        self.store
            .commit_with_events(txn, &events, Utc::now())
            .await?;
        Ok(outcomes)
    }

    /// Checks every account against the invariants, in one consistent read.
    pub async fn audit(&self) -> Result<Audit, StoreError> {
        let txn = self.store.reader.begin().await?;
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

    /// Transfers touching `user`'s accounts, newest first (see `ledger_history`).
    pub async fn history(
        &self,
        user: UserId,
        page: PageRequest<HistoryCursor>,
    ) -> Result<Page<Transfer, HistoryCursor>, StoreError> {
        super::ledger_history::page(&self.store.reader, user, page).await
    }

    /// The posted charge made for `reference`, if any.
    pub async fn charge_for(&self, reference: &Reference) -> Result<Option<Transfer>, StoreError> {
        let row = transfers::Entity::find()
            .filter(transfers::Column::Reference.eq(reference.as_str()))
            .filter(transfers::Column::Reason.eq(Reason::Charge.as_str()))
            .filter(transfers::Column::Phase.is_in([LedgerPhase::POSTED, LedgerPhase::POST]))
            .order_by_asc(transfers::Column::Id)
            .one(&self.store.reader)
            .await?;
        row.map(to_transfer).transpose()
    }

    /// What is left to refund of `charge` (all of it until its first refund, which
    /// creates the charge's refund row).
    pub async fn refundable(&self, charge: &Transfer) -> Result<u64, StoreError> {
        let row = refunds::Entity::find_by_id(charge.id.as_uuid())
            .one(&self.store.reader)
            .await?;
        Ok(row.map_or(charge.spec.amount.get(), |r| {
            Ord::max(r.charged - r.refunded, 0) as u64
        }))
    }

    pub async fn config(&self) -> Result<LedgerConfig, StoreError> {
        Ok(key_values::get(&self.store.reader, CONFIG_KEY)
            .await?
            .unwrap_or_default())
    }

    pub async fn set_config(&self, config: &LedgerConfig) -> Result<(), StoreError> {
        key_values::put(&self.store.db, CONFIG_KEY, config).await
    }
}

/// One account's balance (zero if it was never used), on any connection.
pub(super) async fn balance_of<C: ConnectionTrait>(
    conn: &C,
    account: AccountRef,
) -> Result<Balance, StoreError> {
    let row = accounts::Entity::find_by_id(account.to_string())
        .one(conn)
        .await?;
    row.map(to_balance)
        .transpose()
        .map(Option::unwrap_or_default)
}

async fn available_of<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
) -> Result<(i64, i64), StoreError> {
    let accounts: Vec<AccountRef> = PointKind::ALL
        .iter()
        .map(|k| AccountRef::user(user, *k))
        .collect();
    let balances = balances_of(conn, &accounts).await?;
    Ok((
        available_in(&balances, user, PointKind::High)?,
        available_in(&balances, user, PointKind::Low)?,
    ))
}

/// The one order in which writers lock account rows (descending byte order of the key,
/// whatever the database's collation), so that concurrent writers never deadlock.
/// Descending puts system accounts (`s:…`) after users' (`u:…`): the revenue account,
/// which nearly every batch credits, is locked last and so held only until the commit.
pub(super) const LOCK_ORDER: &str = r#"account COLLATE "C" DESC"#;

/// The account every transaction that moves any of `user`'s balances locks on
/// PostgreSQL, whichever kinds it moves: two transactions never move one user's
/// balances at once, so each `points.balance` event reports both kinds as they stood
/// together. One row per user is enough, and it is the one most moves lock anyway.
pub(super) fn user_lock(user: UserId) -> AccountRef {
    AccountRef::user(user, PointKind::High)
}

/// The stored totals of those of `accounts` that were ever used, in one query.
async fn balances_of<C: ConnectionTrait>(
    conn: &C,
    accounts: &[AccountRef],
) -> Result<HashMap<AccountRef, Balance>, StoreError> {
    // One JSON document: a statement's rows cross from SQLite's connection thread one
    // at a time, each value copied and then looked up by column name, which for a
    // batch's few hundred accounts cost more than reading them. Each account found is
    // named by its place among those asked for.
    let backend = conn.get_database_backend();
    let (array, close, place) = match backend {
        DbBackend::Postgres => (
            "coalesce(json_agg(json_build_array",
            ")), '[]')::text",
            "r.key - 1 AS i",
        ),
        _ => ("json_group_array(json_array", "))", "r.key AS i"),
    };
    let keys: Vec<(String,)> = accounts.iter().map(|a| (a.to_string(),)).collect();
    let fields = [("account", Field::Text)];
    let mut script = Script::new(backend);
    let (values, bound) = bulk_rows::values(backend, &fields, &keys);
    script.push(values, |first| {
        let asked = bound.select(first, &[place]);
        format!(
            "SELECT {array}(k.i, a.debits_posted, a.credits_posted, a.debits_pending, \
               a.credits_pending{close} AS found \
             FROM ({asked}) AS k JOIN ledger_accounts a ON a.account = k.account"
        )
    });
    let row = script.query_last(conn).await?;
    let row = row.ok_or_else(|| StoreError::corrupt("an aggregate returned no row"))?;
    balances_from_json(&row.try_get::<String>("", "found")?, accounts)
}

fn available_in(
    balances: &HashMap<AccountRef, Balance>,
    user: UserId,
    kind: PointKind,
) -> Result<i64, StoreError> {
    let balance = balances
        .get(&AccountRef::user(user, kind))
        .copied()
        .unwrap_or_default();
    i64::try_from(balance.available()).map_err(StoreError::corrupt)
}

/// A `points.balance` event for each of `users`, their balances read as they stand.
async fn balance_events<C: ConnectionTrait>(
    conn: &C,
    users: &BTreeSet<UserId>,
) -> Result<Vec<Event>, StoreError> {
    let accounts: Vec<AccountRef> = users
        .iter()
        .flat_map(|u| PointKind::ALL.map(|k| AccountRef::user(*u, k)))
        .collect();
    let known = if accounts.is_empty() {
        HashMap::new()
    } else {
        balances_of(conn, &accounts).await?
    };
    users
        .iter()
        .map(|&user_id| {
            Ok(Event::PointsBalance {
                user_id,
                high: available_in(&known, user_id, PointKind::High)?,
                low: available_in(&known, user_id, PointKind::Low)?,
            })
        })
        .collect()
}
