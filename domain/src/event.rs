//! Domain events: every committed state change produces one, written to the outbox in
//! the same transaction and delivered to subscribers of its topic.

use serde::{Deserialize, Serialize};

use crate::commission::{CommissionStatus, CommissionTotals};
use crate::ids::{AnnouncementId, DistributorId, OrderNo, UserId};
use crate::money::Money;
use crate::role::Role;
use crate::topic::Topic;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// A user changed their contact details.
    #[serde(rename = "user.updated")]
    UserUpdated {
        user_id: UserId,
        email: Option<String>,
        phone: Option<String>,
    },
    /// An admin created a sub-account; the admin's sessions hear of it.
    #[serde(rename = "account.sub_account_created")]
    SubAccountCreated {
        parent_user_id: UserId,
        user_id: UserId,
        username: String,
        role: Role,
    },
    /// A user's available points changed.
    #[serde(rename = "points.balance")]
    PointsBalance {
        user_id: UserId,
        high: i64,
        low: i64,
    },
    /// A super_admin published a notice to everyone.
    #[serde(rename = "announcement")]
    Announced {
        announcement_id: AnnouncementId,
        title: String,
        body: String,
    },
    /// One level's commission on an order moved: the order upstream was paid or
    /// refunded. `amount` is what the distributor now keeps from that order.
    #[serde(rename = "commission.update")]
    CommissionUpdate {
        user_id: UserId,
        distributor_id: DistributorId,
        order_no: OrderNo,
        level: u32,
        amount: Money,
        status: CommissionStatus,
        totals: CommissionTotals,
    },
    /// The settlement job moved `count` of a distributor's commissions, worth `amount`,
    /// from pending to settled. Totals are added when it is pushed live.
    #[serde(rename = "commission.settled")]
    CommissionsSettled {
        user_id: UserId,
        distributor_id: DistributorId,
        count: u64,
        amount: Money,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        totals: Option<CommissionTotals>,
    },
}

impl Event {
    /// The topic whose subscribers receive this event.
    pub fn topic(&self) -> Topic {
        match self {
            Event::UserUpdated { user_id, .. } | Event::PointsBalance { user_id, .. } => {
                Topic::User(*user_id)
            }
            Event::SubAccountCreated { parent_user_id, .. } => Topic::User(*parent_user_id),
            Event::CommissionUpdate { user_id, .. } | Event::CommissionsSettled { user_id, .. } => {
                Topic::User(*user_id)
            }
            Event::Announced { .. } => Topic::Announcements,
        }
    }

    /// The aggregate the event belongs to, as `(kind, id)`; used for bus subjects.
    pub fn aggregate(&self) -> (&'static str, String) {
        match self {
            Event::UserUpdated { user_id, .. } => ("user", user_id.to_string()),
            Event::PointsBalance { user_id, .. } => ("points", user_id.to_string()),
            Event::SubAccountCreated { user_id, .. } => ("user", user_id.to_string()),
            Event::Announced {
                announcement_id, ..
            } => ("announcement", announcement_id.to_string()),
            Event::CommissionUpdate { distributor_id, .. }
            | Event::CommissionsSettled { distributor_id, .. } => {
                ("distributor", distributor_id.to_string())
            }
        }
    }

    /// The distributor whose commissions this event is about.
    pub fn distributor(&self) -> Option<DistributorId> {
        match self {
            Event::CommissionUpdate { distributor_id, .. }
            | Event::CommissionsSettled { distributor_id, .. } => Some(*distributor_id),
            _ => None,
        }
    }

    /// The same event carrying `fresh` commission totals (no change for other events).
    pub fn with_totals(mut self, fresh: CommissionTotals) -> Self {
        match &mut self {
            Event::CommissionUpdate { totals, .. } => *totals = fresh,
            Event::CommissionsSettled { totals, .. } => *totals = Some(fresh),
            _ => {}
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_their_wire_type() {
        let id = UserId::generate();
        let e = Event::UserUpdated {
            user_id: id,
            email: None,
            phone: Some("+8613800138000".into()),
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "user.updated");
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), e);
    }

    #[test]
    fn sub_account_events_go_to_the_parent() {
        let parent = UserId::generate();
        let e = Event::SubAccountCreated {
            parent_user_id: parent,
            user_id: UserId::generate(),
            username: "nurse".into(),
            role: Role::Doctor,
        };
        assert_eq!(e.topic(), Topic::User(parent));
    }
}
