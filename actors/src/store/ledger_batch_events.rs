//! A batch's `points.balance` events and its overdraft guard, both computed by the
//! database in the batch's last statement. The outbox row reads each user's balances
//! as the batch left them; its payload is `NULL`, failing the statement and with it the
//! batch, when a user account could not cover its debits. So nothing comes back to be
//! checked between a batch's writes: the batch is one script, which on SQLite is one
//! hand-off to its connection's thread while the write lock is held.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use medrt_domain::event::Event;
use medrt_domain::ids::UserId;
use medrt_domain::ledger::{AccountRef, PointKind};
use sea_orm::DbBackend;

use super::StoreError;
use super::bulk_rows::{self, Field, Text};
use super::ledger_history::AccountMap;
use super::outbox::Outbox;
use super::script::Script;

/// Appends the outbox row of `users`' balance events, refused if any account in
/// `debited` is overdrawn. `debited` maps each user account the batch debits to what
/// the batch credits it: the account must cover its debits with what it had before
/// the batch (credits arriving in the same batch are not counted, as the per-group
/// path, taking transfers in order, might not count them). `users` must not be empty.
pub(super) fn push_guarded_events(
    script: &mut Script,
    users: &BTreeSet<UserId>,
    debited: &AccountMap<u64>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let backend = script.backend();
    // Where the rows go; the balances are the database's to fill in.
    let probes: Vec<Event> = users
        .iter()
        .map(|&user_id| Event::PointsBalance {
            user_id,
            high: 0,
            low: 0,
        })
        .collect();
    // Each user's row holds, for each account the batch debits, what it credits them
    // (-1 for an account not debited, which has nothing to cover).
    let user_rows: Vec<_> = users
        .iter()
        .map(|&u| {
            let [high, low] = PointKind::ALL.map(|kind| AccountRef::user(u, kind));
            let guard = |a| debited.get(&a).map_or(-1, |&c| c as i64);
            (Text(u), guard(high), guard(low))
        })
        .collect();
    let user_fields = [
        ("user_id", Field::Text),
        ("high_credited", Field::BigInt),
        ("low_credited", Field::BigInt),
    ];
    let (values, bound) = bulk_rows::values(backend, &user_fields, &user_rows);
    let many = users.len() > 1;
    Outbox::push_computed(
        script,
        &probes,
        values,
        |first| {
            let asked = bound.select(first, &[]);
            // Per account (`a` its alias, `k` its kind): what it has, and whether it
            // covered its debits with what it had before the batch (a debited account
            // exists).
            let available = |a: &str| {
                format!("coalesce({a}.credits_posted - {a}.debits_posted - {a}.debits_pending, 0)")
            };
            let covered = |a: &str, k: &str| {
                format!(
                    "(u.{k}_credited < 0 OR coalesce({a}.credits_posted - u.{k}_credited \
                       - {a}.debits_posted - {a}.debits_pending >= 0, false))"
                )
            };
            let object = match backend {
                DbBackend::Postgres => "json_build_object",
                _ => "json_object",
            };
            // `Event::PointsBalance` as serde writes it (the tests decode it).
            let event = format!(
                "{object}('type', 'points.balance', 'user_id', b.user_id, 'high', b.high, \
                   'low', b.low)"
            );
            let (document, ok) = match (backend, many) {
                (DbBackend::Postgres, true) => {
                    (format!("json_agg({event})::text"), "bool_and(b.ok)")
                }
                (DbBackend::Postgres, false) => (format!("{event}::text"), "b.ok"),
                (_, true) => (format!("json_group_array({event})"), "min(b.ok)"),
                (_, false) => (event, "b.ok"),
            };
            format!(
                "(SELECT CASE WHEN {ok} THEN {document} END FROM \
                   (SELECT u.user_id, {} AS high, {} AS low, {} AND {} AS ok \
                    FROM ({asked}) AS u \
                    LEFT JOIN ledger_accounts h ON h.account = {} \
                    LEFT JOIN ledger_accounts l ON l.account = {}) AS b)",
                available("h"),
                available("l"),
                covered("h", "high"),
                covered("l", "low"),
                account_of("u.user_id", PointKind::High),
                account_of("u.user_id", PointKind::Low),
            )
        },
        now,
    )
}

/// SQL naming the `kind` account of the user whose id (as text) `user_id` holds, as
/// `AccountRef` names it: the rows then need not carry each account's name.
fn account_of(user_id: &str, kind: PointKind) -> String {
    let nil = UserId::from_uuid(uuid::Uuid::nil());
    let name = AccountRef::user(nil, kind).to_string();
    let (before, after) = name
        .split_once(&nil.to_string())
        .expect("a user account's name holds the user's id");
    format!("('{before}' || {user_id} || '{after}')")
}

#[cfg(test)]
mod tests {
    use medrt_domain::event::Event;
    use medrt_domain::topic::Topic;
    use sea_orm::{ConnectionTrait, DbErr};

    use super::*;
    use crate::store::Store;
    use crate::store::ledger_batch::refused;
    use crate::store::test_store::migrated_store;

    /// Stores `account` with these posted totals.
    async fn account(store: &Store, account: AccountRef, credits: i64, debits: i64) {
        let sql = format!(
            "INSERT INTO ledger_accounts (account, kind, credits_posted, debits_posted) \
             VALUES ('{account}', '{}', {credits}, {debits})",
            account.kind.as_str()
        );
        store.db.execute_unprepared(&sql).await.unwrap();
    }

    async fn push(
        store: &Store,
        users: &[UserId],
        debited: &[(AccountRef, u64)],
    ) -> Result<(), DbErr> {
        let mut script = Script::new(DbBackend::Sqlite);
        let users = users.iter().copied().collect();
        let debited = debited.iter().copied().collect();
        push_guarded_events(&mut script, &users, &debited, Utc::now()).unwrap();
        script.execute(&store.db).await
    }

    fn balance(user_id: UserId, high: i64, low: i64) -> Event {
        Event::PointsBalance { user_id, high, low }
    }

    #[tokio::test]
    async fn the_events_report_each_users_balances_as_stored() {
        let (store, _dir) = migrated_store().await;
        let (a, b) = (UserId::generate(), UserId::generate());
        account(&store, AccountRef::user(a, PointKind::High), 10, 3).await;
        account(&store, AccountRef::user(b, PointKind::Low), 5, 0).await;
        push(&store, &[a, b], &[]).await.unwrap();
        let claim = store.outbox().claim(10, None).await.unwrap();
        assert_eq!(claim.rows, 1, "several users' events share a row");
        let mut events: Vec<Event> = claim.deliveries.into_iter().map(|d| d.event).collect();
        events.sort_by_key(|e| e.topic().to_string());
        let mut expected = [balance(a, 7, 0), balance(b, 0, 5)];
        expected.sort_by_key(|e| e.topic().to_string());
        assert_eq!(events, expected);

        // One user's event has a row of its own, which a reconnecting client replays.
        let after = store.outbox().claim(10, None).await.unwrap().deliveries[0].id;
        push(&store, &[b], &[]).await.unwrap();
        let replay = store
            .outbox()
            .replay(Topic::User(b), after, 10)
            .await
            .unwrap();
        let replayed: Vec<&Event> = replay.deliveries.iter().map(|d| &d.event).collect();
        assert_eq!(replayed, [&balance(b, 0, 5)]);
        assert!(replay.complete);
    }

    #[tokio::test]
    async fn an_account_that_could_not_cover_its_debits_refuses_the_row() {
        let (store, _dir) = migrated_store().await;
        let a = UserId::generate();
        let high = AccountRef::user(a, PointKind::High);
        // After the batch: 10 in, 8 out. Of the 10, the batch itself credited `credited`.
        account(&store, high, 10, 8).await;
        let debited = |credited| [(high, credited)];
        let e = push(&store, &[a], &debited(3)).await.unwrap_err();
        assert!(refused(&e), "{e}");
        assert_eq!(store.outbox().pending().await.unwrap(), 0);
        // Covered with what it had before the batch (10 - 2 = 8).
        push(&store, &[a], &debited(2)).await.unwrap();
        assert_eq!(store.outbox().pending().await.unwrap(), 1);
    }
}
