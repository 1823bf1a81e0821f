//! Domain events: every committed state change produces one, written to the outbox in
//! the same transaction and delivered to subscribers of its topic.

use serde::{Deserialize, Serialize};

use crate::ids::{AnnouncementId, UserId};
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
}

impl Event {
    /// The topic whose subscribers receive this event.
    pub fn topic(&self) -> Topic {
        match self {
            Event::UserUpdated { user_id, .. } | Event::PointsBalance { user_id, .. } => {
                Topic::User(*user_id)
            }
            Event::SubAccountCreated { parent_user_id, .. } => Topic::User(*parent_user_id),
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
        }
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
