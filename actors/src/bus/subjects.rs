//! Every NATS subject and stream name medrt uses, built here and nowhere else.

use medrt_domain::topic::Topic;

#[derive(Clone, Debug)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    pub fn new(prefix: &str) -> Self {
        let prefix = prefix.trim_matches('.');
        Self {
            prefix: if prefix.is_empty() {
                "medrt".to_owned()
            } else {
                prefix.to_owned()
            },
        }
    }

    /// `<prefix>.events.<aggregate>.<id>`: a domain event from the outbox.
    pub fn event(&self, aggregate: &str, id: &str) -> String {
        format!("{}.events.{}.{}", self.prefix, token(aggregate), token(id))
    }

    /// Every domain event.
    pub fn all_events(&self) -> String {
        format!("{}.events.>", self.prefix)
    }

    /// The JetStream stream holding domain events (names may not contain `.`).
    pub fn events_stream(&self) -> String {
        let name: String = self
            .prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("{name}_EVENTS")
    }

    /// De-duplication id for JetStream (`Nats-Msg-Id`). Events written together share
    /// their outbox id, one per topic, so the topic is part of it.
    pub fn message_id(&self, event_id: i64, topic: &Topic) -> String {
        format!("{}:{event_id}:{topic}", self.prefix)
    }
}

/// A subject token must not contain separators or wildcards.
fn token(raw: &str) -> String {
    raw.chars()
        .map(|c| {
            if matches!(c, '.' | '*' | '>' | ' ') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_follow_the_contract() {
        let s = Subjects::new("medrt");
        assert_eq!(s.event("user", "abc"), "medrt.events.user.abc");
        assert_eq!(s.all_events(), "medrt.events.>");
        assert_eq!(s.events_stream(), "MEDRT_EVENTS");
    }

    #[test]
    fn events_sharing_an_outbox_row_keep_distinct_message_ids() {
        let s = Subjects::new("medrt");
        let (a, b) = (
            Topic::User(medrt_domain::ids::UserId::generate()),
            Topic::User(medrt_domain::ids::UserId::generate()),
        );
        assert_ne!(s.message_id(7, &a), s.message_id(7, &b));
        assert_eq!(s.message_id(7, &a), s.message_id(7, &a));
        assert_ne!(s.message_id(7, &a), s.message_id(8, &a));
    }

    #[test]
    fn tokens_cannot_break_out_of_their_place() {
        let s = Subjects::new("t1.");
        assert_eq!(s.event("user", "a.b>*"), "t1.events.user.a_b__");
        assert_eq!(Subjects::new("").event("x", "y"), "medrt.events.x.y");
        assert_eq!(Subjects::new("test.abc").events_stream(), "TEST_ABC_EVENTS");
    }
}
