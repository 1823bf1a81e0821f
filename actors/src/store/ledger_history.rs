//! Account histories as chains. Each account row holds its newest transfer (`head`)
//! and each transfer the one before it on its debit and on its credit account, so a
//! history is read by following links from the head, and writing one costs no index
//! entry per account (see migration 15). A chain is in commit order for its account.
//! A user's history merges the chains of their accounts, one per point kind.
//!
//! Only users' accounts keep chains. Nothing reads a system account's history, and the
//! revenue account, which nearly every charge credits, is the hottest row in the
//! ledger: a batch updates it last, after its transfers are written, so that the row
//! stays locked only until the commit.

use std::collections::{HashMap, VecDeque};

use foldhash::fast::RandomState;

use medrt_domain::ids::UserId;
use medrt_domain::ledger::{AccountRef, PointKind, Transfer};
use sea_orm::{ConnectionTrait, EntityTrait, Statement, Value};
use uuid::Uuid;

use super::StoreError;
use super::bulk_rows::param;
use super::entities::ledger_transfers as transfers;
use super::ledger_rows::to_transfer;
use super::page::{Page, PageCursor, PageRequest};

/// A transfer's predecessors on its two accounts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Links {
    pub debit_prev: Option<Uuid>,
    pub credit_prev: Option<Uuid>,
}

/// Whether `account` keeps a history chain (see above).
pub(super) fn chained(account: &AccountRef) -> bool {
    account.user_id().is_some()
}

/// A map by account of the kind planning a batch builds for every transfer, hashed
/// with foldhash: with SipHash, hashing was a fifth of the instructions spent planning
/// a ledger batch (callgrind).
pub(super) type AccountMap<V> = HashMap<AccountRef, V, RandomState>;

/// Links a batch's transfers, in order, onto chains whose heads were `heads`.
pub(super) struct Chains(AccountMap<Option<Uuid>>);

impl Chains {
    pub fn new(heads: AccountMap<Option<Uuid>>) -> Self {
        Self(heads)
    }

    /// `t`'s predecessors; `t` becomes the head of its chained accounts.
    pub fn link(&mut self, t: &Transfer) -> Links {
        let id = Some(t.id.as_uuid());
        let mut push = |account| {
            chained(&account)
                .then(|| std::mem::replace(self.0.entry(account).or_default(), id))
                .flatten()
        };
        Links {
            debit_prev: push(t.spec.debit),
            credit_prev: push(t.spec.credit),
        }
    }
}

/// The head each chained account has once `batch` is linked: its last transfer there.
pub(super) fn new_heads(batch: &[Transfer]) -> AccountMap<Uuid> {
    let mut heads = AccountMap::with_capacity_and_hasher(batch.len(), RandomState::default());
    for t in batch {
        for account in [t.spec.debit, t.spec.credit].into_iter().filter(chained) {
            heads.insert(account, t.id.as_uuid());
        }
    }
    heads
}

/// Where a user's history goes on: for each point kind (`PointKind::ALL` order), the
/// next transfer to show from that account, or `None` once its chain is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryCursor([Option<Uuid>; 2]);

impl PageCursor for HistoryCursor {
    fn parse(raw: &str) -> Option<Self> {
        let (high, low) = raw.split_once('.')?;
        let part = |p: &str| match p {
            "-" => Some(None),
            id => Uuid::try_parse(id).ok().map(Some),
        };
        let next = [part(high)?, part(low)?];
        next.iter().any(Option::is_some).then_some(Self(next))
    }

    fn encode(&self) -> String {
        let part = |p: &Option<Uuid>| p.map_or("-".to_owned(), |id| id.simple().to_string());
        format!("{}.{}", part(&self.0[0]), part(&self.0[1]))
    }
}

/// A chain's transfers as read, each with its predecessor on that chain.
struct Link {
    transfer: Transfer,
    prev: Option<Uuid>,
}

/// Where one chain is read from.
#[derive(Clone, Copy)]
enum Start {
    Head,
    At(Uuid),
}

/// Transfers on `user`'s accounts, newest first as far as ids tell (each account's own
/// order is its commit order).
pub(super) async fn page<C: ConnectionTrait>(
    conn: &C,
    user: UserId,
    request: PageRequest<HistoryCursor>,
) -> Result<Page<Transfer, HistoryCursor>, StoreError> {
    let starts: [Option<Start>; 2] = match request.after {
        None => [Some(Start::Head); 2],
        Some(HistoryCursor(next)) => next.map(|n| n.map(Start::At)),
    };
    let mut chains: [Vec<Link>; 2] = Default::default();
    for ((kind, start), chain) in PointKind::ALL.into_iter().zip(starts).zip(&mut chains) {
        if let Some(start) = start {
            *chain = walk(conn, AccountRef::user(user, kind), start, request.limit).await?;
        }
    }
    Ok(merge(chains, request.limit))
}

/// Up to `limit` transfers of `account`'s chain from `start`. A start that is not on
/// this account's chain (a forged cursor) reads nothing.
async fn walk<C: ConnectionTrait>(
    conn: &C,
    account: AccountRef,
    start: Start,
    limit: u64,
) -> Result<Vec<Link>, StoreError> {
    let backend = conn.get_database_backend();
    let (p_at, p_account, p_limit) = (param(backend, 1), param(backend, 2), param(backend, 3));
    let sql = format!(
        "WITH RECURSIVE chain (id, depth) AS ( \
           SELECT t.id, 0 FROM ledger_transfers t \
           WHERE t.id = COALESCE({p_at}, (SELECT head FROM ledger_accounts WHERE account = {p_account})) \
             AND (t.debit_account = {p_account} OR t.credit_account = {p_account}) \
           UNION ALL \
           SELECT CASE WHEN t.debit_account = {p_account} THEN t.debit_prev ELSE t.credit_prev END, \
                  c.depth + 1 \
           FROM chain c JOIN ledger_transfers t ON t.id = c.id \
           WHERE c.depth + 1 < {p_limit}) \
         SELECT t.* FROM chain c JOIN ledger_transfers t ON t.id = c.id ORDER BY c.depth"
    );
    let at = match start {
        Start::Head => None,
        Start::At(id) => Some(id),
    };
    let values: Vec<Value> = vec![
        Value::Uuid(at),
        account.to_string().into(),
        (limit as i64).into(),
    ];
    let name = account.to_string();
    transfers::Entity::find()
        .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
        .all(conn)
        .await?
        .into_iter()
        .map(|row| {
            let prev = if row.debit_account == name {
                row.debit_prev
            } else {
                row.credit_prev
            };
            Ok(Link {
                transfer: to_transfer(row)?,
                prev,
            })
        })
        .collect()
}

/// The newest `limit` of the chains' transfers (by id; each chain keeps its order) and
/// where each chain goes on.
fn merge(chains: [Vec<Link>; 2], limit: u64) -> Page<Transfer, HistoryCursor> {
    let mut next = chains
        .each_ref()
        .map(|c| c.first().map(|l| l.transfer.id.as_uuid()));
    let mut chains = chains.map(VecDeque::from);
    let mut items = Vec::new();
    while (items.len() as u64) < limit {
        let pick = match (chains[0].front(), chains[1].front()) {
            (Some(a), Some(b)) if a.transfer.id >= b.transfer.id => 0,
            (Some(_), None) => 0,
            (_, Some(_)) => 1,
            (None, None) => break,
        };
        let link = chains[pick].pop_front().expect("a front");
        next[pick] = link.prev;
        items.push(link.transfer);
    }
    // A chain read to its limit may go on; one read short has ended at `prev == None`.
    let next_cursor = next
        .iter()
        .any(Option::is_some)
        .then_some(HistoryCursor(next));
    Page { items, next_cursor }
}

#[cfg(test)]
mod tests {
    use super::*;
    use medrt_domain::ledger::{
        Amount, IdempotencyKey, Reason, SystemAccount, TransferId, TransferSpec,
    };

    fn transfer(debit: AccountRef, credit: AccountRef) -> Transfer {
        Transfer {
            id: TransferId::generate(),
            spec: TransferSpec::posted(
                IdempotencyKey::parse(&Uuid::now_v7().simple().to_string()).unwrap(),
                debit,
                credit,
                Amount::new(1).unwrap(),
                Reason::Charge,
                None,
            ),
            at: chrono::Utc::now(),
        }
    }

    #[test]
    fn a_batch_links_each_transfer_to_the_one_before_on_each_users_account() {
        let user = AccountRef::user(UserId::generate(), PointKind::High);
        let other = AccountRef::user(UserId::generate(), PointKind::High);
        let revenue = AccountRef::system(SystemAccount::Revenue, PointKind::High);
        let old = Uuid::now_v7();
        let batch = [
            transfer(user, revenue),
            transfer(user, other),
            transfer(other, revenue),
        ];
        let mut chains = Chains::new([(user, Some(old))].into_iter().collect());
        let links: Vec<Links> = batch.iter().map(|t| chains.link(t)).collect();
        let id = |i: usize| Some(batch[i].id.as_uuid());
        assert_eq!(
            links,
            [
                Links {
                    debit_prev: Some(old),
                    credit_prev: None
                },
                Links {
                    debit_prev: id(0),
                    credit_prev: None
                },
                Links {
                    debit_prev: id(1),
                    credit_prev: None
                },
            ]
        );
        let heads = new_heads(&batch);
        assert_eq!(heads.get(&user).copied(), id(1));
        assert_eq!(heads.get(&other).copied(), id(2));
        assert!(
            !heads.contains_key(&revenue),
            "system accounts keep no chain"
        );
    }

    /// A chain of `n` transfers, newest first, each linked to the next; the last one
    /// links to `tail` (the part of the chain not read).
    fn chain(ids: &[Uuid], tail: Option<Uuid>) -> Vec<Link> {
        let user = AccountRef::user(UserId::generate(), PointKind::High);
        let revenue = AccountRef::system(SystemAccount::Revenue, PointKind::High);
        ids.iter()
            .enumerate()
            .map(|(i, id)| {
                let mut t = transfer(user, revenue);
                t.id = TransferId::from_uuid(*id);
                Link {
                    transfer: t,
                    prev: ids.get(i + 1).copied().or(tail),
                }
            })
            .collect()
    }

    #[test]
    fn merging_takes_the_newest_first_and_says_where_each_chain_goes_on() {
        let ids: Vec<Uuid> = (0..6).map(|_| Uuid::now_v7()).collect();
        // high: 5, 2, 1 (then 0, unread); low: 4, 3
        let high = chain(&[ids[5], ids[2], ids[1]], Some(ids[0]));
        let low = chain(&[ids[4], ids[3]], None);
        let page = merge([high, low], 3);
        let shown: Vec<Uuid> = page.items.iter().map(|t| t.id.as_uuid()).collect();
        assert_eq!(shown, [ids[5], ids[4], ids[3]]);
        assert_eq!(page.next_cursor, Some(HistoryCursor([Some(ids[2]), None])));

        let rest = merge([chain(&[ids[2], ids[1], ids[0]], None), Vec::new()], 3);
        assert_eq!(rest.items.len(), 3);
        assert_eq!(rest.next_cursor, None, "both chains are done");
    }

    #[test]
    fn a_chain_read_to_the_limit_keeps_its_place() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let page = merge([chain(&[ids[2], ids[1]], Some(ids[0])), Vec::new()], 2);
        assert_eq!(page.next_cursor, Some(HistoryCursor([Some(ids[0]), None])));
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = HistoryCursor([Some(Uuid::now_v7()), None]);
        assert_eq!(HistoryCursor::parse(&c.encode()), Some(c));
        for bad in ["", "-", "-.-", "nope.-", "x", "a.b.c"] {
            assert_eq!(HistoryCursor::parse(bad), None, "{bad}");
        }
    }
}
