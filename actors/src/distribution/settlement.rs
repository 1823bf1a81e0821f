use std::time::Duration;

use chrono::Utc;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde::Deserialize;

use crate::store::{Settled, Store, StoreError};

/// How the settlement job runs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementSettings {
    /// Seconds between runs (the first run is at start).
    pub interval_secs: u64,
    /// Commissions settled per transaction.
    pub batch: u64,
    /// Transactions settling at once. On PostgreSQL each takes rows the others skip, so
    /// the work spreads over the server's cores; SQLite runs them one after another.
    pub workers: usize,
}

pub struct SettlementActor;

pub struct SettlementArgs {
    pub store: Store,
    pub settings: SettlementSettings,
}

pub enum SettlementMsg {
    /// The timer: settle whatever is due.
    Tick,
    /// Settle whatever is due now and say how much moved.
    RunNow(RpcReplyPort<Result<Settled, String>>),
}

impl Actor for SettlementActor {
    type Msg = SettlementMsg;
    type State = SettlementArgs;
    type Arguments = SettlementArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<SettlementMsg>,
        args: SettlementArgs,
    ) -> Result<SettlementArgs, ActorProcessingErr> {
        // Whatever fell due while no node was running is settled at once.
        myself.cast(SettlementMsg::Tick)?;
        myself.send_interval(
            Duration::from_secs(args.settings.interval_secs.max(1)),
            || SettlementMsg::Tick,
        );
        Ok(args)
    }

    async fn handle(
        &self,
        _myself: ActorRef<SettlementMsg>,
        msg: SettlementMsg,
        state: &mut SettlementArgs,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SettlementMsg::Tick => match settle_all(&state.store, &state.settings).await {
                Ok(done) if done.commissions > 0 => tracing::info!(
                    commissions = done.commissions,
                    amount = %done.amount,
                    "settled commissions"
                ),
                Ok(_) => {}
                // The next tick tries again: nothing is half-settled.
                Err(e) => tracing::warn!(error = %e, "commission settlement failed"),
            },
            SettlementMsg::RunNow(reply) => {
                let result = settle_all(&state.store, &state.settings).await;
                let _ = reply.send(result.map_err(|e| e.to_string()));
            }
        }
        Ok(())
    }
}

/// Settles batch after batch, on `workers` transactions at once, until nothing due is
/// left.
pub async fn settle_all(
    store: &Store,
    settings: &SettlementSettings,
) -> Result<Settled, StoreError> {
    let worker = || async {
        let mut done = Settled::default();
        loop {
            let batch = store
                .commissions()
                .settle_due(Utc::now(), settings.batch)
                .await?;
            done.commissions += batch.commissions;
            done.amount = done.amount + batch.amount;
            metrics::counter!("medrt_commissions_settled_total").increment(batch.commissions);
            if batch.commissions < settings.batch {
                return Ok::<_, StoreError>(done);
            }
        }
    };
    let results = futures::future::join_all((0..settings.workers.max(1)).map(|_| worker())).await;
    let mut total = Settled::default();
    for done in results {
        let done = done?;
        total.commissions += done.commissions;
        total.amount = total.amount + done.amount;
    }
    Ok(total)
}
