//! WebSocket topics: what a client may subscribe to, parsed once, authorized here.

use std::fmt;
use std::str::FromStr;

use crate::ids::UserId;
use crate::rbac::{Denied, Principal};
use crate::role::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Everything about one user: account changes, sub-accounts, later balances.
    User(UserId),
    /// System-wide notices; every signed-in user may listen.
    Announcements,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown topic `{0}`: expected `user:<id>` or `announcements`")]
pub struct BadTopic(pub String);

impl Topic {
    /// Longest topic text accepted from a client.
    pub const LEN_MAX: usize = 128;

    pub fn authorize(&self, who: &Principal) -> Result<(), Denied> {
        match self {
            Topic::Announcements => Ok(()),
            Topic::User(id) if *id == who.user_id || who.role == Role::SuperAdmin => Ok(()),
            Topic::User(_) => Err(Denied::NotVisible),
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::User(id) => write!(f, "user:{id}"),
            Topic::Announcements => f.write_str("announcements"),
        }
    }
}

impl FromStr for Topic {
    type Err = BadTopic;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadTopic(s.chars().take(Self::LEN_MAX).collect());
        if s.len() > Self::LEN_MAX {
            return Err(bad());
        }
        match s.split_once(':') {
            None if s == "announcements" => Ok(Topic::Announcements),
            Some(("user", id)) => id.parse().map(Topic::User).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip() {
        let id = UserId::generate();
        for topic in [Topic::User(id), Topic::Announcements] {
            assert_eq!(topic.to_string().parse::<Topic>(), Ok(topic));
        }
    }

    #[test]
    fn malformed_topics_are_rejected() {
        for bad in [
            "",
            "user:",
            "user:42",
            "task:1",
            "announcements:x",
            "USER:x",
            &"u".repeat(500),
        ] {
            assert!(bad.parse::<Topic>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_user_topic_belongs_to_its_user() {
        let me = Principal {
            user_id: UserId::generate(),
            role: Role::Patient,
        };
        assert!(Topic::User(me.user_id).authorize(&me).is_ok());
        assert_eq!(
            Topic::User(UserId::generate()).authorize(&me),
            Err(Denied::NotVisible)
        );
        assert!(Topic::Announcements.authorize(&me).is_ok());
        let root = Principal {
            user_id: UserId::generate(),
            role: Role::SuperAdmin,
        };
        assert!(Topic::User(me.user_id).authorize(&root).is_ok());
    }
}
