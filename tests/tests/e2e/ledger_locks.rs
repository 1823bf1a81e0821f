//! Concurrent writers lock account rows in one order, whichever path a request takes
//! (a whole batch at once, or group by group for linked transfers), so on PostgreSQL,
//! where two batches are written at once, none is ever rolled back as a deadlock; and
//! two writers never move one user's balances at once, so every `points.balance`
//! event reports both kinds as they stood together.

use std::collections::HashMap;

use medrt_actors::store::{DatabaseSettings, GroupOutcome, Store};
use medrt_domain::event::Event;
use medrt_domain::ids::UserId;
use medrt_domain::ledger::{
    AccountRef, Amount, IdempotencyKey, PointKind, Reason, SystemAccount, TransferSpec,
};
use medrt_tests::TestBackend;

const USERS: usize = 6;
const WRITERS: usize = 6;
const ROUNDS: usize = 30;

/// `amount` points from `debit` to `credit`, posted at once.
fn transfer(
    key: String,
    debit: AccountRef,
    credit: AccountRef,
    amount: i64,
    reason: Reason,
) -> TransferSpec {
    let key = IdempotencyKey::parse(&key).unwrap();
    TransferSpec::posted(
        key,
        debit,
        credit,
        Amount::new(amount).unwrap(),
        reason,
        None,
    )
}

/// A migrated store on the test's backend (PostgreSQL when the services are in use).
async fn store() -> (Store, TestBackend) {
    let backend = TestBackend::new().await;
    let store = Store::connect(&DatabaseSettings::with_url(&backend.database_url))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, backend)
}

/// Runs `WRITERS` writers at once, `ROUNDS` rounds each, every group of which must
/// commit. `round` makes a round's groups from the round's number, a key maker (a
/// different key for each `n`) and a deterministic pick below a bound.
async fn write_concurrently<R>(store: &Store, round: R)
where
    R: Fn(
            usize,
            &dyn Fn(usize) -> String,
            &mut dyn FnMut(usize) -> usize,
        ) -> Vec<Vec<TransferSpec>>
        + Clone
        + Send
        + 'static,
{
    let writers = (0..WRITERS).map(|w| {
        let (store, make) = (store.clone(), round.clone());
        tokio::spawn(async move {
            let mut seed = w as u64 + 1;
            let mut pick = move |n: usize| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) as usize % n
            };
            for round in 0..ROUNDS {
                let key = |n: usize| format!("w{w}-r{round}-{n}");
                let groups = make(round, &key, &mut pick);
                let outcomes = store
                    .ledger()
                    .commit(&groups)
                    .await
                    .unwrap_or_else(|e| panic!("writer {w} round {round}: {e}"));
                assert!(
                    outcomes
                        .iter()
                        .all(|o| matches!(o, GroupOutcome::Committed(_))),
                    "writer {w} round {round}: {outcomes:?}"
                );
            }
        })
    });
    for writer in futures::future::join_all(writers).await {
        writer.unwrap();
    }
}

#[tokio::test]
async fn crossing_transfers_from_both_paths_never_deadlock() {
    let (store, _backend) = store().await;
    let users: Vec<AccountRef> = (0..USERS)
        .map(|_| AccountRef::user(UserId::generate(), PointKind::High))
        .collect();
    let issuance = AccountRef::system(SystemAccount::Issuance, PointKind::High);
    let revenue = AccountRef::system(SystemAccount::Revenue, PointKind::High);
    let funding: Vec<Vec<TransferSpec>> = users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            vec![transfer(
                format!("fund-{i}"),
                issuance,
                *u,
                1_000_000,
                Reason::Grant,
            )]
        })
        .collect();
    store.ledger().commit(&funding).await.unwrap();

    write_concurrently(&store, move |round, key, pick| {
        let mut pick = move || pick(USERS);
        if round % 3 == 0 {
            // Linked: all-or-nothing, so committed group by group.
            let a = pick();
            let b = (a + 1 + pick() % (USERS - 1)) % USERS;
            let c = (b + 1 + pick() % (USERS - 1)) % USERS;
            vec![vec![
                transfer(key(0), users[a], users[b], 1, Reason::Allocation),
                transfer(key(1), users[b], users[c], 1, Reason::Allocation),
                transfer(key(2), users[c], revenue, 1, Reason::Charge),
            ]]
        } else {
            (0..4)
                .map(|n| {
                    let (a, b) = (pick(), pick());
                    let credit = if a == b { revenue } else { users[b] };
                    vec![transfer(key(n), users[a], credit, 1, Reason::Allocation)]
                })
                .collect()
        }
    })
    .await;
    let audit = store.ledger().audit().await.unwrap();
    assert!(audit.balanced(), "{audit:?}");
}

#[tokio::test]
async fn balance_events_report_both_kinds_as_they_stood_together() {
    let (store, _backend) = store().await;
    let users: Vec<UserId> = (0..USERS).map(|_| UserId::generate()).collect();
    let funding: Vec<Vec<TransferSpec>> = users
        .iter()
        .flat_map(|u| PointKind::ALL.map(|kind| (*u, kind)))
        .map(|(user, kind)| {
            vec![transfer(
                format!("fund-{user}-{}", kind.as_str()),
                AccountRef::system(SystemAccount::Issuance, kind),
                AccountRef::user(user, kind),
                1_000_000,
                Reason::Grant,
            )]
        })
        .collect();
    store.ledger().commit(&funding).await.unwrap();
    let funded = store.outbox().claim(1_000, None).await.unwrap();
    let ids: Vec<_> = funded.deliveries.iter().map(|d| d.id).collect();
    funded.finish(&ids).await.unwrap();

    // Only spends from here on: in the order they were committed, each user's
    // balances of both kinds can only go down. An event reporting one kind from before
    // a move that an earlier event already showed would go up again.
    let spenders = users.clone();
    write_concurrently(&store, move |round, key, pick| {
        let spend = |n: usize, user: UserId, kind: PointKind| {
            let revenue = AccountRef::system(SystemAccount::Revenue, kind);
            transfer(
                key(n),
                AccountRef::user(user, kind),
                revenue,
                1,
                Reason::Charge,
            )
        };
        if round % 3 == 0 {
            // Both kinds at once, all-or-nothing: committed group by group.
            let user = spenders[pick(USERS)];
            vec![vec![
                spend(0, user, PointKind::High),
                spend(1, user, PointKind::Low),
            ]]
        } else {
            (0..4)
                .map(|n| vec![spend(n, spenders[pick(USERS)], PointKind::ALL[pick(2)])])
                .collect()
        }
    })
    .await;

    let claim = store.outbox().claim(100_000, None).await.unwrap();
    let mut last: HashMap<UserId, (i64, i64)> =
        users.iter().map(|u| (*u, (1_000_000, 1_000_000))).collect();
    let mut events = 0;
    for delivery in &claim.deliveries {
        if let Event::PointsBalance { user_id, high, low } = delivery.event {
            let before = last.insert(user_id, (high, low)).unwrap();
            assert!(
                high <= before.0 && low <= before.1,
                "event {:?} for {user_id}: (high, low) went from {before:?} to {:?}",
                delivery.id,
                (high, low)
            );
            events += 1;
        }
    }
    assert!(events >= WRITERS * ROUNDS, "only {events} balance events");
    for user in &users {
        let now = store.ledger().available(*user).await.unwrap();
        assert_eq!(
            last[user], now,
            "the last event for {user} is the balance now"
        );
    }
}
