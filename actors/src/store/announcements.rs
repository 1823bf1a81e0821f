//! System-wide announcements, stored and broadcast through the outbox.

use chrono::{DateTime, Utc};
use medrt_domain::announcement::Announcement;
use medrt_domain::event::Event;
use medrt_domain::ids::{AnnouncementId, UserId};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, Order};

use super::entities::announcements;
use super::page::{self, Page, PageRequest};
use super::{Store, StoreError};

#[derive(Clone, Debug)]
pub struct AnnouncementRecord {
    pub id: AnnouncementId,
    pub author_id: UserId,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

pub struct Announcements<'a> {
    store: &'a Store,
}

impl<'a> Announcements<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self { store }
    }

    pub async fn publish(
        &self,
        author: UserId,
        announcement: Announcement,
    ) -> Result<AnnouncementRecord, StoreError> {
        let now = Utc::now();
        let id = AnnouncementId::generate();
        let txn = self.store.begin_write().await?;
        let row = announcements::ActiveModel {
            id: Set(id.as_uuid()),
            author_id: Set(author.as_uuid()),
            title: Set(announcement.title().to_owned()),
            body: Set(announcement.body().to_owned()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let event = Event::Announced {
            announcement_id: id,
            title: row.title.clone(),
            body: row.body.clone(),
        };
        self.store.commit_with_events(txn, &[event], now).await?;
        Ok(to_record(row))
    }

    /// Newest first.
    pub async fn list(&self, page: PageRequest) -> Result<Page<AnnouncementRecord>, StoreError> {
        page::fetch(
            &self.store.db,
            announcements::Entity::find(),
            announcements::Column::Id,
            Order::Desc,
            page,
            |m| Ok(to_record(m)),
            |r| r.id.as_uuid(),
        )
        .await
    }
}

fn to_record(m: announcements::Model) -> AnnouncementRecord {
    AnnouncementRecord {
        id: AnnouncementId::from_uuid(m.id),
        author_id: UserId::from_uuid(m.author_id),
        title: m.title,
        body: m.body,
        created_at: m.created_at,
    }
}
