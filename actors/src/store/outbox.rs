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
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait, Value,
};

use super::entities::{outbox, outbox_meta};
use super::json_rows::{self, Field};
use super::{Store, StoreError};
use crate::bus::Delivery;

const PRUNED_THROUGH: &str = "pruned_through";

pub struct Outbox<'a> {
    store: &'a Store,
}

/// Events replayed to a reconnecting client.
#[derive(Debug)]
pub struct Replay {
    pub deliveries: Vec<Delivery>,
    /// False when events after the client's position were pruned or exceed the replay
    /// limit: the client must reload its state instead of trusting the stream.
    pub complete: bool,
}

/// Unpublished events held by one relay until it has published them.
/// On PostgreSQL the rows stay locked (`FOR UPDATE SKIP LOCKED`) so two nodes never
/// publish the same rows at once; SQLite has a single writer and needs no lock.
pub struct Claim {
    txn: Option<DatabaseTransaction>,
    pub deliveries: Vec<Delivery>,
}

impl<'a> Outbox<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Appends several events, in order, in one statement.
    pub(super) async fn append_all<C: ConnectionTrait>(
        conn: &C,
        events: &[Event],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let rows = events
            .iter()
            .map(|event| {
                let (aggregate, aggregate_id) = event.aggregate();
                let payload = serde_json::to_string(event).map_err(StoreError::corrupt)?;
                Ok((event.topic().to_string(), aggregate, aggregate_id, payload))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        json_rows::insert_stamped(
            conn,
            "outbox",
            &[
                ("topic", Field::Text),
                ("aggregate", Field::Text),
                ("aggregate_id", Field::Text),
                ("payload", Field::Text),
            ],
            &rows,
            now,
        )
        .await?;
        Ok(())
    }

    /// Takes up to `limit` unpublished events, oldest first.
    pub async fn claim(&self, limit: u64) -> Result<Claim, StoreError> {
        let query = outbox::Entity::find()
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
                deliveries: decode_all(rows)?,
            })
        } else {
            // SQLite: one node, one relay; scanning beside the writer keeps it free.
            let rows = query.all(&self.store.reader).await?;
            Ok(Claim {
                txn: None,
                deliveries: decode_all(rows)?,
            })
        }
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
    /// Marks `published` as done and releases the claim; the rest stay for the next pass.
    pub async fn finish(self, published: &[EventId], store: &Store) -> Result<(), StoreError> {
        if !published.is_empty() {
            let backend = store.db.get_database_backend();
            let ids: Vec<(i64,)> = published.iter().map(|id| (id.get(),)).collect();
            let sql = format!(
                "UPDATE outbox SET published_at = {} WHERE {}",
                json_rows::param(backend, 2),
                json_rows::is_in(backend, "id", Field::BigInt)
            );
            let update = json_rows::statement(backend, sql, &ids, [Value::from(Utc::now())]);
            match &self.txn {
                Some(txn) => txn.execute_raw(update).await?,
                None => store.db.execute_raw(update).await?,
            };
        }
        if let Some(txn) = self.txn {
            txn.commit().await?;
        }
        Ok(())
    }
}

fn decode_all(rows: Vec<outbox::Model>) -> Result<Vec<Delivery>, StoreError> {
    rows.into_iter().map(decode).collect()
}

fn decode(row: outbox::Model) -> Result<Delivery, StoreError> {
    let event: Event = serde_json::from_str(&row.payload)
        .map_err(|e| StoreError::corrupt(format!("outbox row {}: {e}", row.id)))?;
    Ok(Delivery::new(EventId::new(row.id), event, row.created_at))
}
