use std::sync::Arc;

use medrt_domain::ids::DistributorId;
use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::bus::Delivery;
use crate::hub::HubMsg;
use crate::store::Store;

/// One distributor with commission activity on this node.
pub struct DistributorActor;

pub struct DistributorState {
    id: DistributorId,
    store: Store,
    hub: ActorRef<HubMsg>,
}

pub enum DistributorMsg {
    /// A change to this distributor's commissions was committed.
    Committed(Arc<Delivery>),
}

impl Actor for DistributorActor {
    type Msg = DistributorMsg;
    type State = DistributorState;
    type Arguments = (DistributorId, Store, ActorRef<HubMsg>);

    async fn pre_start(
        &self,
        _myself: ActorRef<DistributorMsg>,
        (id, store, hub): Self::Arguments,
    ) -> Result<DistributorState, ActorProcessingErr> {
        Ok(DistributorState { id, store, hub })
    }

    async fn handle(
        &self,
        _myself: ActorRef<DistributorMsg>,
        msg: DistributorMsg,
        state: &mut DistributorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            DistributorMsg::Committed(delivery) => {
                // The totals as of now, not as the committing transaction saw them: a
                // later commit may already be visible, and its event may come second.
                let totals = state.store.commissions().totals(state.id).await?;
                let event = delivery.event.clone().with_totals(totals);
                let fresh = Delivery::new(delivery.id, event, delivery.at);
                let _ = state.hub.cast(HubMsg::Push(Arc::new(fresh)));
            }
        }
        Ok(())
    }
}
