//! The charging API other capabilities call: charge by task type, refund by reference,
//! and two-phase holds, against a real database.

mod support;

use std::time::Duration;

use medrt_actors::ledger::LedgerFailure;
use medrt_actors::platform::Platform;
use medrt_actors::store::Store;
use medrt_domain::ids::UserId;
use medrt_domain::ledger::{AccountRef, Amount, IdempotencyKey, LedgerError, PointKind, Reference};

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::parse(k).unwrap()
}

fn points(n: i64) -> Amount {
    Amount::new(n).unwrap()
}

/// A node on a database of its own (removed when the last value goes).
async fn platform() -> (Platform, Store, support::SqliteFile) {
    let file = support::sqlite_file("charging");
    let store = support::open_store(&file.url).await;
    (
        support::start_node(&store, support::batches_of(64)).await,
        store,
        file,
    )
}

async fn available(store: &Store, user: UserId) -> i128 {
    store
        .ledger()
        .balance(AccountRef::user(user, PointKind::High))
        .await
        .unwrap()
        .available()
}

#[tokio::test]
async fn charge_then_refund_by_reference() {
    let (platform, store, _file) = platform().await;
    let ledger = platform.ledger().await.unwrap();
    let user = UserId::generate();
    ledger
        .grant(user, PointKind::High, points(25), key("g"))
        .await
        .unwrap();
    // The default price list charges 10 high points for ct_bone_skin.
    let task = Reference::new("task", "t-1");
    let charge = ledger
        .charge(user, "ct_bone_skin", task.clone(), key("charge-t-1"))
        .await
        .unwrap();
    assert_eq!(charge.transfers[0].spec.amount.get(), 10);
    assert_eq!(available(&store, user).await, 15);
    let again = ledger
        .charge(user, "ct_bone_skin", task.clone(), key("charge-t-1"))
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(
        available(&store, user).await,
        15,
        "a retried charge moves nothing"
    );

    let refund = ledger.refund(&task, key("refund-t-1")).await.unwrap();
    assert_eq!(refund.transfers[0].spec.amount.get(), 10);
    assert_eq!(available(&store, user).await, 25);
    assert!(matches!(
        ledger.refund(&task, key("refund-t-1-again")).await,
        Err(LedgerFailure::NothingToRefund)
    ));
    assert!(matches!(
        ledger
            .charge(
                user,
                "no_such_task",
                Reference::new("task", "t-2"),
                key("c2")
            )
            .await,
        Err(LedgerFailure::Unpriced(_))
    ));
    assert!(store.ledger().audit().await.unwrap().balanced());
    platform.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test]
async fn holds_post_part_and_release_the_rest_or_void_entirely() {
    let (platform, store, _file) = platform().await;
    let ledger = platform.ledger().await.unwrap();
    let user = UserId::generate();
    ledger
        .grant(user, PointKind::High, points(20), key("g"))
        .await
        .unwrap();

    let hold = ledger
        .hold(
            user,
            PointKind::High,
            points(12),
            Reference::new("task", "long"),
            key("h1"),
        )
        .await
        .unwrap();
    assert_eq!(available(&store, user).await, 8);
    let short = ledger
        .charge(
            user,
            "ct_bone_skin",
            Reference::new("task", "other"),
            key("c-other"),
        )
        .await;
    assert!(
        matches!(
            short,
            Err(LedgerFailure::Rule(LedgerError::Insufficient { .. }))
        ),
        "held points cannot be spent: {short:?}"
    );
    let hold = &hold.transfers[0];
    ledger.post(hold, points(7), key("p1")).await.unwrap();
    assert_eq!(available(&store, user).await, 13, "7 charged, 5 released");
    assert!(matches!(
        ledger.void(hold, key("v1")).await,
        Err(LedgerFailure::Rule(LedgerError::HoldSettled))
    ));

    let second = ledger
        .hold(
            user,
            PointKind::High,
            points(13),
            Reference::new("task", "second"),
            key("h2"),
        )
        .await
        .unwrap();
    assert_eq!(available(&store, user).await, 0);
    ledger.void(&second.transfers[0], key("v2")).await.unwrap();
    assert_eq!(available(&store, user).await, 13);
    assert!(store.ledger().audit().await.unwrap().balanced());
    platform.shutdown(Duration::from_secs(1)).await;
}
