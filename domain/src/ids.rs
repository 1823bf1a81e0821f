//! Identifiers. Users, announcements, distributors, products, commissions and orders are UUIDv7 (time-ordered, not guessable);
//! events are the outbox's monotonic sequence so clients can resume after an id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_id!(
    /// A user of any role.
    UserId
);
uuid_id!(
    /// A system-wide announcement.
    AnnouncementId
);
uuid_id!(
    /// A ledger transfer.
    TransferId
);
uuid_id!(
    /// A distributor (one per user who joined the referral programme).
    DistributorId
);
uuid_id!(
    /// A product of the mall.
    ProductId
);

uuid_id!(
    /// One level's commission on one order.
    CommissionId
);
uuid_id!(
    /// One payout to a distributor.
    PayoutId
);

/// A mall order's number, as buyers and payment providers see it: `MO` and the 32
/// hex digits of a UUIDv7 (time-ordered, not guessable).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderNo(Uuid);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an order number is MO followed by 32 hex digits")]
pub struct BadOrderNo;

impl OrderNo {
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }
}

impl fmt::Display for OrderNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MO{:X}", self.0.simple())
    }
}

impl FromStr for OrderNo {
    type Err = BadOrderNo;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.strip_prefix("MO").ok_or(BadOrderNo)?;
        if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BadOrderNo);
        }
        Uuid::try_parse(hex).map(Self).map_err(|_| BadOrderNo)
    }
}

impl TryFrom<String> for OrderNo {
    type Error = BadOrderNo;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<OrderNo> for String {
    fn from(n: OrderNo) -> String {
        n.to_string()
    }
}

/// Position of an event in the outbox: strictly increasing per database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(i64);

impl EventId {
    pub fn new(raw: i64) -> Self {
        Self(raw)
    }
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_round_trips_through_text() {
        let id = UserId::generate();
        assert_eq!(id.to_string().parse::<UserId>().unwrap(), id);
    }

    #[test]
    fn user_ids_are_time_ordered() {
        let a = UserId::generate();
        let b = UserId::generate();
        assert!(a < b);
    }

    #[test]
    fn order_numbers_round_trip_and_reject_anything_else() {
        let no = OrderNo::generate();
        let text = no.to_string();
        assert!(text.starts_with("MO") && text.len() == 34);
        assert_eq!(text.parse::<OrderNo>(), Ok(no));
        for bad in [
            "",
            "MO",
            "mo0123",
            &text[2..],
            &format!("{text}0"),
            &text.replace('M', "X"),
        ] {
            assert_eq!(bad.parse::<OrderNo>(), Err(BadOrderNo), "{bad}");
        }
    }

    #[test]
    fn garbage_is_not_a_user_id() {
        assert!("42".parse::<UserId>().is_err());
        assert!("../etc".parse::<UserId>().is_err());
    }
}
