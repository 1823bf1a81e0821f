//! `OutboxRelayActor`: publishes committed events from the outbox to the bus, in id
//! order, marking each as published only after the bus has it. Woken by every commit,
//! and by a timer that also picks up what a crashed node left behind and prunes.
//!
//! On SQLite marking is a transaction on the one writer, which the ledger's batches
//! queued behind once per pass, so it is deferred: the rows of the passes within
//! `MARK_EVERY` are marked together (and always on a tick, a flush and a stop). The
//! relay remembers the newest row it published and claims after it meanwhile. A crash
//! before the mark publishes those rows again on restart, as a crash between
//! publishing and marking always could; NATS drops the repeats by message id.

use std::sync::Arc;
use std::time::{Duration, Instant};

use medrt_domain::ids::EventId;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Deserialize;
use tokio::task::JoinHandle;

use crate::bus::Bus;
use crate::store::{Store, StoreError};

pub struct OutboxRelayActor;

#[derive(Clone, Debug, Deserialize)]
pub struct RelaySettings {
    /// Off only in tests that need committed-but-unpublished events.
    pub enabled: bool,
    pub batch_max: u64,
    pub poll_interval_ms: u64,
    /// Published events are kept this long for reconnecting clients.
    pub retention_secs: u64,
    pub prune_interval_secs: u64,
}

pub struct RelayArgs {
    pub store: Store,
    pub bus: Arc<dyn Bus>,
    pub settings: RelaySettings,
}

pub struct RelayState {
    args: RelayArgs,
    last_prune: Instant,
    waker: JoinHandle<()>,
    /// Rows published and not yet marked (SQLite), oldest first, and since when. The
    /// next claim starts after the newest of them.
    unmarked: Vec<EventId>,
    unmarked_since: Instant,
}

/// Longest a published row stays unmarked while passes keep coming (SQLite).
const MARK_EVERY: Duration = Duration::from_millis(100);

pub enum RelayMsg {
    /// Something was committed: publish now.
    Kick,
    /// Periodic pass: publish leftovers and prune.
    Tick,
    /// Publish everything pending; replies with how many events remain unpublished.
    Flush(RpcReplyPort<Result<u64, String>>),
}

impl Actor for OutboxRelayActor {
    type Msg = RelayMsg;
    type State = RelayState;
    type Arguments = RelayArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<RelayMsg>,
        args: RelayArgs,
    ) -> Result<RelayState, ActorProcessingErr> {
        let signal = args.store.outbox_signal();
        let me = myself.clone();
        let waker = tokio::spawn(async move {
            loop {
                signal.notified().await;
                if me.cast(RelayMsg::Kick).is_err() {
                    return;
                }
            }
        });
        myself.send_interval(
            Duration::from_millis(args.settings.poll_interval_ms.max(10)),
            || RelayMsg::Tick,
        );
        // Whatever a previous run committed but never published goes out first.
        let _ = myself.cast(RelayMsg::Kick);
        Ok(RelayState {
            args,
            last_prune: Instant::now(),
            waker,
            unmarked: Vec::new(),
            unmarked_since: Instant::now(),
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<RelayMsg>,
        state: &mut RelayState,
    ) -> Result<(), ActorProcessingErr> {
        state.waker.abort();
        state.mark_logged().await;
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<RelayMsg>,
        msg: RelayMsg,
        state: &mut RelayState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RelayMsg::Kick => state.relay_logged().await,
            RelayMsg::Tick => {
                state.relay_logged().await;
                state.mark_logged().await;
                state.prune_if_due().await;
            }
            RelayMsg::Flush(reply) => {
                let result = async {
                    state.relay().await?;
                    state.mark().await?;
                    state.args.store.outbox().pending().await
                }
                .await
                .map_err(|e| e.to_string());
                let _ = reply.send(result);
            }
        }
        Ok(())
    }
}

impl RelayState {
    async fn relay_logged(&mut self) {
        if let Err(e) = self.relay().await {
            metrics::counter!("medrt_outbox_relay_errors_total").increment(1);
            tracing::warn!(error = %e, "outbox relay pass failed; retrying on the next tick");
        }
    }

    /// Publishes pending events batch by batch until none are left or the bus fails.
    async fn relay(&mut self) -> Result<(), StoreError> {
        if !self.args.settings.enabled {
            return Ok(());
        }
        let batch_max = self.args.settings.batch_max.max(1);
        loop {
            let outbox = self.args.store.outbox();
            let mut claim = outbox
                .claim(batch_max, self.unmarked.last().copied())
                .await?;
            let claim_rows = claim.rows;
            let deliveries = std::mem::take(&mut claim.deliveries);
            // Rows whose events are all out, each once (a row's events come together).
            let mut published: Vec<EventId> = Vec::with_capacity(claim_rows as usize);
            let mut sent = 0u64;
            let mut bus_failed = false;
            for delivery in deliveries {
                let delivery = Arc::new(delivery);
                match self.args.bus.publish(delivery.clone()).await {
                    Ok(()) => {
                        sent += 1;
                        if published.last() != Some(&delivery.id) {
                            published.push(delivery.id);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, event_id = %delivery.id, "bus publish failed");
                        // A row holding several events stays unpublished until all of
                        // them are out; the bus drops the repeats (`message_id`).
                        if published.last() == Some(&delivery.id) {
                            published.pop();
                        }
                        bus_failed = true;
                        break;
                    }
                }
            }
            if claim.locked() {
                claim.finish(&published).await?;
            } else if !published.is_empty() {
                if self.unmarked.is_empty() {
                    self.unmarked_since = Instant::now();
                }
                self.unmarked.extend(published);
                if self.unmarked_since.elapsed() >= MARK_EVERY {
                    self.mark().await?;
                }
            }
            metrics::counter!("medrt_outbox_published_total").increment(sent);
            if bus_failed || claim_rows < batch_max {
                return Ok(());
            }
        }
    }

    /// Marks every row published so far (SQLite's deferred marks).
    async fn mark(&mut self) -> Result<(), StoreError> {
        self.args
            .store
            .outbox()
            .mark_published(&self.unmarked)
            .await?;
        self.unmarked.clear();
        Ok(())
    }

    async fn mark_logged(&mut self) {
        if let Err(e) = self.mark().await {
            metrics::counter!("medrt_outbox_relay_errors_total").increment(1);
            tracing::warn!(error = %e, "marking published outbox rows failed; retrying");
        }
    }

    async fn prune_if_due(&mut self) {
        let settings = &self.args.settings;
        if self.last_prune.elapsed() < Duration::from_secs(settings.prune_interval_secs) {
            return;
        }
        self.last_prune = Instant::now();
        let cutoff = chrono::Utc::now() - chrono::Duration::seconds(settings.retention_secs as i64);
        match self.args.store.outbox().prune(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(pruned = n, "outbox pruned"),
            Err(e) => tracing::warn!(error = %e, "outbox pruning failed"),
        }
    }
}
