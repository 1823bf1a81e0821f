use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use medrt_domain::ids::DistributorId;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, SupervisionEvent};

use super::distributor::{DistributorActor, DistributorMsg};
use crate::bus::Delivery;
use crate::hub::HubMsg;
use crate::store::Store;

/// How long a distributor's actor lives without commission activity.
const IDLE: Duration = Duration::from_secs(600);

pub struct DistributorsActor;

pub struct DistributorsArgs {
    pub store: Store,
    pub hub: ActorRef<HubMsg>,
}

pub struct DistributorsState {
    args: DistributorsArgs,
    live: HashMap<DistributorId, Live>,
}

struct Live {
    actor: ActorRef<DistributorMsg>,
    last_used: Instant,
}

pub enum DistributorsMsg {
    /// A committed commission event for the distributor it names.
    Committed(Arc<Delivery>),
    /// Stop the actors of distributors that have been quiet for a while.
    Sweep,
}

impl Actor for DistributorsActor {
    type Msg = DistributorsMsg;
    type State = DistributorsState;
    type Arguments = DistributorsArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<DistributorsMsg>,
        args: DistributorsArgs,
    ) -> Result<DistributorsState, ActorProcessingErr> {
        myself.send_interval(IDLE / 4, || DistributorsMsg::Sweep);
        Ok(DistributorsState {
            args,
            live: HashMap::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<DistributorsMsg>,
        msg: DistributorsMsg,
        state: &mut DistributorsState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DistributorsMsg::Committed(delivery) => {
                let Some(id) = delivery.event.distributor() else {
                    return Ok(());
                };
                let live = match state.live.get_mut(&id) {
                    Some(live) => live,
                    None => {
                        let args = (id, state.args.store.clone(), state.args.hub.clone());
                        let (actor, _) =
                            Actor::spawn_linked(None, DistributorActor, args, myself.get_cell())
                                .await?;
                        state.live.entry(id).or_insert(Live {
                            actor,
                            last_used: Instant::now(),
                        })
                    }
                };
                live.last_used = Instant::now();
                live.actor.cast(DistributorMsg::Committed(delivery))?;
            }
            DistributorsMsg::Sweep => {
                state.live.retain(|_, live| {
                    let keep = live.last_used.elapsed() < IDLE;
                    if !keep {
                        live.actor.stop(None);
                    }
                    keep
                });
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<DistributorsMsg>,
        event: SupervisionEvent,
        state: &mut DistributorsState,
    ) -> Result<(), ActorProcessingErr> {
        // A distributor's actor that failed (e.g. the database was unreachable) is
        // forgotten; the next event starts a fresh one.
        if let SupervisionEvent::ActorFailed(cell, error) = event {
            tracing::warn!(%error, "distributor actor failed");
            state.forget(cell.get_id());
        } else if let SupervisionEvent::ActorTerminated(cell, ..) = event {
            state.forget(cell.get_id());
        }
        Ok(())
    }
}

impl DistributorsState {
    fn forget(&mut self, actor: ActorId) {
        self.live.retain(|_, live| live.actor.get_id() != actor);
    }
}
