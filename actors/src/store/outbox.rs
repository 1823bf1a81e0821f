//! The event outbox: events are appended in the transaction of the change that caused
//! them, claimed and published by the relay, replayed to reconnecting clients, and
//! pruned once old.

use chrono::{DateTime, Utc};
use medrt_domain::event::Event;
use medrt_domain::ids::EventId;
use medrt_domain::topic::Topic;
use sea_orm::sea_query::{LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait, Value,
};

use super::bulk_rows::{self, Field};
use super::entities::{outbox, outbox_meta};
use super::script::Script;
use super::{Store, StoreError};
use crate::bus::Delivery;

const PRUNED_THROUGH: &str = "pruned_through";

/// The topic of a row holding several users' events (`push_together`). No client
/// topic has this name, so replay never returns such rows.
const MANY: &str = "user:*";

pub struct Outbox<'a> {
    store: &'a Store,
}

/// Events replayed to a reconnecting client.
#[derive(Debug)]
pub struct Replay {
    pub deliveries: Vec<Delivery>,
    /// False when events after the client's position were pruned, exceed the replay
    /// limit or were written together with others (which are not replayed): the client
    /// must reload its state instead of trusting the stream.
    pub complete: bool,
}

/// Unpublished events held by one relay until it has published them.
/// On PostgreSQL the rows stay locked (`FOR UPDATE SKIP LOCKED`) so two nodes never
/// publish the same rows at once; SQLite has a single writer and needs no lock.
pub struct Claim {
    txn: Option<DatabaseTransaction>,
    /// Outbox rows claimed (a row written by `push_together` holds several events).
    pub rows: u64,
    pub deliveries: Vec<Delivery>,
}

impl<'a> Outbox<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Appends several events, in order, in one statement: a row each.
    pub(super) async fn append_all<C: ConnectionTrait>(
        conn: &C,
        events: &[Event],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut script = Script::new(conn.get_database_backend());
        push_rows(&mut script, &rows_apart(events)?, now);
        Ok(script.execute(conn).await?)
    }

    /// Appends one row holding all of `events`, its payload computed by the database:
    /// `payload` is a SQL expression, given the number of its first parameter (`values`
    /// follow from there), yielding one event's JSON object or, for several, an array
    /// of them. Several users' events share one row, published like any others but
    /// never replayed: a ledger batch moves hundreds of users' balances at once, and a
    /// row, two index entries and a later update for each would cost a third of the
    /// batch. `events` only say where the row goes; their values
    /// are not written. The payload column is `NOT NULL`, so a `NULL` payload fails the
    /// statement: a caller may make it its guard.
    pub(super) fn push_computed(
        script: &mut Script,
        events: &[Event],
        values: Vec<Value>,
        payload: impl FnOnce(usize) -> String,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (topic, aggregate, aggregate_id) = shared_head(events)
            .ok_or_else(|| StoreError::corrupt("these events cannot share an outbox row"))?;
        let backend = script.backend();
        let head = [
            Value::from(topic),
            Value::from(aggregate),
            Value::from(aggregate_id),
            Value::from(now),
        ];
        let own = head.len();
        script.push(head.into_iter().chain(values).collect(), |first| {
            let p = |i: usize| bulk_rows::param(backend, first + i);
            format!(
                "INSERT INTO outbox (topic, aggregate, aggregate_id, payload, created_at) \
                 VALUES ({}, {}, {}, {}, {})",
                p(0),
                p(1),
                p(2),
                payload(first + own),
                p(3)
            )
        });
        Ok(())
    }

    /// Takes up to `limit` unpublished events, oldest first, after `after` (the newest
    /// event this relay published but has not marked yet; see `Claim::locked`).
    pub async fn claim(&self, limit: u64, after: Option<EventId>) -> Result<Claim, StoreError> {
        let mut query = outbox::Entity::find()
            .filter(outbox::Column::PublishedAt.is_null())
            .order_by_asc(outbox::Column::Id)
            .limit(limit);
        let db = &self.store.db;
        if db.get_database_backend() == DbBackend::Postgres {
            let txn = db.begin().await?;
            let rows = query
                .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                .all(&txn)
                .await?;
            Ok(Claim {
                txn: Some(txn),
                rows: rows.len() as u64,
                deliveries: decode_all(rows)?,
            })
        } else {
            if let Some(after) = after {
                query = query.filter(outbox::Column::Id.gt(after.get()));
            }
            // SQLite: one node, one relay; scanning beside the writer keeps it free.
            let rows = query.all(&self.store.reader).await?;
            Ok(Claim {
                txn: None,
                rows: rows.len() as u64,
                deliveries: decode_all(rows)?,
            })
        }
    }

    /// Marks rows published (by id) in one statement.
    pub async fn mark_published(&self, ids: &[EventId]) -> Result<(), StoreError> {
        mark_published(&self.store.db, ids).await
    }

    /// Events on `topic` after `after`, at most `limit` of them.
    pub async fn replay(
        &self,
        topic: Topic,
        after: EventId,
        limit: u64,
    ) -> Result<Replay, StoreError> {
        let db = &self.store.db;
        let pruned_through = outbox_meta::Entity::find_by_id(PRUNED_THROUGH.to_owned())
            .one(db)
            .await?
            .map_or(0, |m| m.value);
        let rows = outbox::Entity::find()
            .filter(outbox::Column::Topic.eq(topic.to_string()))
            .filter(outbox::Column::Id.gt(after.get()))
            .order_by_asc(outbox::Column::Id)
            .limit(limit + 1)
            .all(db)
            .await?;
        let complete = after.get() >= pruned_through && rows.len() as u64 <= limit;
        // Asked only while the answer can still change `complete`.
        let written_together = complete
            && matches!(topic, Topic::User(_))
            && outbox::Entity::find()
                .select_only()
                .column(outbox::Column::Id)
                .filter(outbox::Column::Topic.eq(MANY))
                .filter(outbox::Column::Id.gt(after.get()))
                .into_tuple::<i64>()
                .one(db)
                .await?
                .is_some();
        let complete = complete && !written_together;
        let mut deliveries = decode_all(rows)?;
        deliveries.truncate(limit as usize);
        Ok(Replay {
            deliveries,
            complete,
        })
    }

    /// Deletes published events older than `cutoff` and remembers how far it went.
    pub async fn prune(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let txn = self.store.begin_write().await?;
        let newest: Option<i64> = outbox::Entity::find()
            .select_only()
            .column_as(outbox::Column::Id.max(), "newest")
            .filter(outbox::Column::PublishedAt.lt(cutoff))
            .into_tuple::<Option<i64>>()
            .one(&txn)
            .await?
            .flatten();
        let Some(newest) = newest else {
            return Ok(0);
        };
        let deleted = outbox::Entity::delete_many()
            .filter(outbox::Column::PublishedAt.lt(cutoff))
            .filter(outbox::Column::Id.lte(newest))
            .exec(&txn)
            .await?
            .rows_affected;
        let before = outbox_meta::Entity::find_by_id(PRUNED_THROUGH.to_owned())
            .one(&txn)
            .await?;
        let mark = outbox_meta::ActiveModel {
            key: Set(PRUNED_THROUGH.to_owned()),
            value: Set(before.map_or(newest, |m| m.value.max(newest))),
        };
        outbox_meta::Entity::insert(mark)
            .on_conflict(
                OnConflict::column(outbox_meta::Column::Key)
                    .update_column(outbox_meta::Column::Value)
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(deleted)
    }

    /// Events committed but not yet published (for shutdown and metrics).
    pub async fn pending(&self) -> Result<u64, StoreError> {
        Ok(outbox::Entity::find()
            .filter(outbox::Column::PublishedAt.is_null())
            .count(&self.store.db)
            .await?)
    }
}

impl Claim {
    /// Whether the rows stay locked until `finish` marks them (PostgreSQL, where nodes
    /// share the outbox). Otherwise (SQLite: one node, one relay) `finish` leaves
    /// them unmarked: the relay marks several passes' rows at once
    /// (`Outbox::mark_published`), since each mark is a transaction on the one writer,
    /// and claims after the newest it published meanwhile.
    pub fn locked(&self) -> bool {
        self.txn.is_some()
    }

    /// Marks `published` as done and releases a locked claim; the rest stay for the
    /// next pass.
    pub async fn finish(self, published: &[EventId]) -> Result<(), StoreError> {
        if let Some(txn) = self.txn {
            mark_published(&txn, published).await?;
            txn.commit().await?;
        }
        Ok(())
    }
}

async fn mark_published<C: ConnectionTrait>(conn: &C, ids: &[EventId]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let backend = conn.get_database_backend();
    let ids: Vec<(i64,)> = ids.iter().map(|id| (id.get(),)).collect();
    let (ids_in, mut values) = bulk_rows::is_in(backend, "id", Field::BigInt, &ids);
    let sql = format!(
        "UPDATE outbox SET published_at = {} WHERE {ids_in}",
        bulk_rows::param(backend, values.len() + 1)
    );
    values.push(Value::from(Utc::now()));
    conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// An outbox row: topic, aggregate, aggregate id, payload.
type Row = (String, String, String, String);

/// Topic, aggregate and aggregate id of one row holding all of `events`: the event's
/// own for one, `MANY` for several users' events; `None` when they cannot share a row.
fn shared_head(events: &[Event]) -> Option<(String, String, String)> {
    match events {
        [] => None,
        [event] => {
            let (aggregate, aggregate_id) = event.aggregate();
            Some((
                event.topic().to_string(),
                aggregate.to_owned(),
                aggregate_id,
            ))
        }
        _ if events.iter().all(|e| matches!(e.topic(), Topic::User(_))) => {
            Some((MANY.to_owned(), MANY.to_owned(), events.len().to_string()))
        }
        _ => None,
    }
}

/// A row for each of `events`.
fn rows_apart(events: &[Event]) -> Result<Vec<Row>, StoreError> {
    events
        .iter()
        .map(|event| {
            let (aggregate, aggregate_id) = event.aggregate();
            let payload = serde_json::to_string(event).map_err(StoreError::corrupt)?;
            Ok((
                event.topic().to_string(),
                aggregate.to_owned(),
                aggregate_id,
                payload,
            ))
        })
        .collect()
}

fn push_rows(script: &mut Script, rows: &[Row], now: DateTime<Utc>) {
    if rows.is_empty() {
        return;
    }
    bulk_rows::push_insert_stamped(
        script,
        "outbox",
        &[
            ("topic", Field::Text),
            ("aggregate", Field::Text),
            ("aggregate_id", Field::Text),
            ("payload", Field::Text),
        ],
        rows,
        now,
    );
}

/// The rows' events in order; a row written together yields all of its events, each
/// with the row's id.
fn decode_all(rows: Vec<outbox::Model>) -> Result<Vec<Delivery>, StoreError> {
    let mut deliveries = Vec::with_capacity(rows.len());
    for row in rows {
        let id = EventId::new(row.id);
        let corrupt = |e: serde_json::Error| StoreError::corrupt(format!("outbox row {id}: {e}"));
        let events: Vec<Event> = if row.topic == MANY {
            serde_json::from_str(&row.payload).map_err(corrupt)?
        } else {
            vec![serde_json::from_str(&row.payload).map_err(corrupt)?]
        };
        deliveries.extend(
            events
                .into_iter()
                .map(|event| Delivery::new(id, event, row.created_at)),
        );
    }
    Ok(deliveries)
}

#[cfg(test)]
mod tests {
    use medrt_domain::ids::{AnnouncementId, UserId};

    use super::*;
    use crate::store::test_store::migrated_store;

    /// `Outbox::push_computed` as a script of its own, the database given the payload
    /// `push_computed` asks it to compute.
    async fn append_together(txn: &DatabaseTransaction, events: &[Event], now: DateTime<Utc>) {
        let backend = txn.get_database_backend();
        let payload = match events {
            [event] => serde_json::to_string(event),
            _ => serde_json::to_string(events),
        };
        let mut script = Script::new(backend);
        Outbox::push_computed(
            &mut script,
            events,
            vec![Value::from(payload.unwrap())],
            |first| bulk_rows::param(backend, first),
            now,
        )
        .unwrap();
        script.execute(txn).await.unwrap();
    }

    fn balance(user: UserId, high: i64) -> Event {
        Event::PointsBalance {
            user_id: user,
            high,
            low: 0,
        }
    }

    #[tokio::test]
    async fn events_written_together_are_published_one_by_one_but_never_replayed() {
        let (store, _dir) = migrated_store().await;
        let (a, b) = (UserId::generate(), UserId::generate());
        let txn = store.begin_write().await.unwrap();
        Outbox::append_all(&txn, &[balance(a, 1)], Utc::now())
            .await
            .unwrap();
        append_together(&txn, &[balance(a, 2), balance(b, 3)], Utc::now()).await;
        txn.commit().await.unwrap();

        let claim = store.outbox().claim(10, None).await.unwrap();
        assert_eq!(claim.rows, 2);
        let seen: Vec<(Topic, &Event)> = claim
            .deliveries
            .iter()
            .map(|d| (d.topic, &d.event))
            .collect();
        assert_eq!(
            seen,
            [
                (Topic::User(a), &balance(a, 1)),
                (Topic::User(a), &balance(a, 2)),
                (Topic::User(b), &balance(b, 3)),
            ]
        );
        let (single, together) = (claim.deliveries[0].id, claim.deliveries[1].id);
        assert_eq!(claim.deliveries[2].id, together);
        assert!(single < together);
        let published: Vec<EventId> = claim.deliveries.iter().map(|d| d.id).collect();
        // SQLite: the relay marks later, and meanwhile claims only after what it sent.
        assert!(!claim.locked());
        claim.finish(&published).await.unwrap();
        assert_eq!(store.outbox().pending().await.unwrap(), 2);
        let after_single = store.outbox().claim(10, Some(single)).await.unwrap();
        assert_eq!(after_single.rows, 1);
        assert_eq!(
            store.outbox().claim(10, Some(together)).await.unwrap().rows,
            0
        );
        store
            .outbox()
            .mark_published(&[single, together])
            .await
            .unwrap();
        assert_eq!(store.outbox().pending().await.unwrap(), 0);

        // Resuming before the shared row: what has a row of its own comes back, and the
        // client is told to reload, since the shared row's events are not replayed.
        let replay = store
            .outbox()
            .replay(Topic::User(a), EventId::new(0), 10)
            .await
            .unwrap();
        let replayed: Vec<&Event> = replay.deliveries.iter().map(|d| &d.event).collect();
        assert_eq!(replayed, [&balance(a, 1)]);
        assert!(!replay.complete);
        // Resuming after it: nothing missed.
        let replay = store
            .outbox()
            .replay(Topic::User(a), together, 10)
            .await
            .unwrap();
        assert!(replay.complete && replay.deliveries.is_empty());
    }

    #[tokio::test]
    async fn only_users_events_share_a_row_and_only_user_topics_are_told_to_reload() {
        let (store, _dir) = migrated_store().await;
        let a = UserId::generate();
        let notice = Event::Announced {
            announcement_id: AnnouncementId::generate(),
            title: "t".into(),
            body: "b".into(),
        };
        let mixed = [balance(a, 1), notice.clone()];
        let refused = Outbox::push_computed(
            &mut Script::new(DbBackend::Sqlite),
            &mixed,
            Vec::new(),
            |_| unreachable!("no statement for events that cannot share a row"),
            Utc::now(),
        );
        assert!(refused.is_err());
        let txn = store.begin_write().await.unwrap();
        Outbox::append_all(&txn, &mixed, Utc::now()).await.unwrap();
        append_together(
            &txn,
            &[balance(a, 2), balance(UserId::generate(), 3)],
            Utc::now(),
        )
        .await;
        txn.commit().await.unwrap();
        assert_eq!(store.outbox().claim(10, None).await.unwrap().rows, 3);

        let notices = store
            .outbox()
            .replay(Topic::Announcements, EventId::new(0), 10)
            .await
            .unwrap();
        let replayed: Vec<&Event> = notices.deliveries.iter().map(|d| &d.event).collect();
        assert_eq!(replayed, [&notice]);
        assert!(notices.complete);
    }

    #[tokio::test]
    async fn a_single_event_written_together_keeps_a_row_of_its_own() {
        let (store, _dir) = migrated_store().await;
        let a = UserId::generate();
        let txn = store.begin_write().await.unwrap();
        append_together(&txn, &[balance(a, 5)], Utc::now()).await;
        txn.commit().await.unwrap();
        let replay = store
            .outbox()
            .replay(Topic::User(a), EventId::new(0), 10)
            .await
            .unwrap();
        assert_eq!(replay.deliveries.len(), 1);
        assert!(replay.complete);
    }
}
