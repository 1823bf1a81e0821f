//! The outbox relay marks a row published only once the bus has every event in it.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::stream::BoxStream;
use medrt_actors::bus::{Bus, BusError, Delivery};
use medrt_actors::relay::{OutboxRelayActor, RelayArgs, RelayMsg, RelaySettings};
use medrt_actors::store::GroupOutcome;
use medrt_domain::event::Event;
use medrt_domain::ids::UserId;
use medrt_domain::ledger::{Amount, IdempotencyKey, PointKind, TransferSpec};
use ractor::Actor;

/// A bus whose second publish fails; it records the users whose balance it carried.
#[derive(Default)]
struct FlakyBus {
    attempts: Mutex<usize>,
    carried: Mutex<Vec<UserId>>,
}

#[async_trait::async_trait]
impl Bus for FlakyBus {
    async fn publish(&self, delivery: Arc<Delivery>) -> Result<(), BusError> {
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            *attempts += 1;
            *attempts
        };
        if attempt == 2 {
            return Err(BusError::Publish("the network dropped it".into()));
        }
        if let Event::PointsBalance { user_id, .. } = delivery.event {
            self.carried.lock().unwrap().push(user_id);
        }
        Ok(())
    }

    async fn subscribe(&self) -> Result<BoxStream<'static, Arc<Delivery>>, BusError> {
        Ok(Box::pin(futures::stream::empty()))
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "flaky"
    }
}

fn grant(user: UserId) -> Vec<TransferSpec> {
    let key = IdempotencyKey::parse(&format!("grant-{user}")).unwrap();
    vec![TransferSpec::grant(
        key,
        user,
        PointKind::High,
        Amount::new(10).unwrap(),
    )]
}

#[tokio::test]
async fn a_batch_of_balances_is_published_whole_even_when_the_bus_fails_halfway() {
    let file = support::sqlite_file("relay");
    let store = support::open_store(&file.url).await;
    let (a, b) = (UserId::generate(), UserId::generate());
    // One batch moving two users: their balance events share one outbox row.
    let outcomes = store.ledger().commit(&[grant(a), grant(b)]).await.unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, GroupOutcome::Committed(_)))
    );
    assert_eq!(store.outbox().pending().await.unwrap(), 1);

    let bus = Arc::new(FlakyBus::default());
    let settings = RelaySettings {
        enabled: true,
        batch_max: 100,
        poll_interval_ms: 3_600_000,
        retention_secs: 3600,
        prune_interval_secs: 3600,
    };
    let (relay, handle) = Actor::spawn(
        None,
        OutboxRelayActor,
        RelayArgs {
            store: store.clone(),
            bus: bus.clone(),
            settings,
        },
    )
    .await
    .unwrap();
    let mut pending = u64::MAX;
    for _ in 0..3 {
        pending = relay
            .call(RelayMsg::Flush, Some(Duration::from_secs(10)))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if pending == 0 {
            break;
        }
    }
    relay.stop(None);
    handle.await.unwrap();

    assert_eq!(pending, 0);
    assert!(
        *bus.attempts.lock().unwrap() >= 4,
        "the failure was retried"
    );
    let carried = bus.carried.lock().unwrap().clone();
    assert!(carried.contains(&a), "{carried:?}");
    assert!(
        carried.contains(&b),
        "the event after the failure was lost: {carried:?}"
    );
}
