//! Concurrent writers lock account rows in one order, whichever path a request takes
//! (a whole batch at once, or group by group for linked transfers), so on PostgreSQL,
//! where two batches are written at once, none is ever rolled back as a deadlock.

use medrt_actors::store::{DatabaseSettings, GroupOutcome, Store};
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

#[tokio::test]
async fn crossing_transfers_from_both_paths_never_deadlock() {
    let backend = TestBackend::new().await;
    let store = Store::connect(&DatabaseSettings::with_url(&backend.database_url))
        .await
        .unwrap();
    store.migrate().await.unwrap();
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

    let writers = (0..WRITERS).map(|w| {
        let (store, users) = (store.clone(), users.clone());
        tokio::spawn(async move {
            let mut seed = w as u64 + 1;
            let mut pick = move || {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (seed >> 33) as usize % USERS
            };
            for round in 0..ROUNDS {
                let key = |n: usize| format!("w{w}-r{round}-{n}");
                let groups: Vec<Vec<TransferSpec>> = if round % 3 == 0 {
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
                };
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
    let audit = store.ledger().audit().await.unwrap();
    assert!(audit.balanced(), "{audit:?}");
}
