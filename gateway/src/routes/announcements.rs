//! System-wide announcements: published by the super_admin, pushed to every
//! subscriber of the `announcements` topic.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use medrt_actors::store::AnnouncementRecord;
use medrt_domain::announcement::Announcement;
use medrt_domain::ids::AnnouncementId;
use medrt_domain::rbac::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::paging::{PageQuery, Paged};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct AnnouncementRequest {
    title: String,
    body: String,
}

#[derive(Serialize, ToSchema)]
pub struct AnnouncementView {
    #[schema(value_type = String, format = Uuid)]
    announcement_id: AnnouncementId,
    title: String,
    body: String,
    created_at: DateTime<Utc>,
}

impl From<AnnouncementRecord> for AnnouncementView {
    fn from(r: AnnouncementRecord) -> Self {
        AnnouncementView {
            announcement_id: r.id,
            title: r.title,
            body: r.body,
            created_at: r.created_at,
        }
    }
}

/// Publishes an announcement (super_admin).
#[utoipa::path(post, path = "/admin/announcements", tag = "admin", request_body = AnnouncementRequest,
    responses(
        (status = 201, body = AnnouncementView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn publish(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Json(req): Json<AnnouncementRequest>,
) -> Result<(StatusCode, Json<AnnouncementView>), ApiError> {
    me.require(Permission::PublishAnnouncements)?;
    let announcement = Announcement::parse(&req.title, &req.body)?;
    let record = state
        .platform
        .store()
        .announcements()
        .publish(me.user_id, announcement)
        .await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

/// Announcements, newest first.
#[utoipa::path(get, path = "/announcements", tag = "accounts", params(PageQuery),
    responses((status = 200, body = Paged<AnnouncementView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(_): AuthUser,
    Query(page): Query<PageQuery>,
) -> Result<Json<Paged<AnnouncementView>>, ApiError> {
    let page = state
        .platform
        .store()
        .announcements()
        .list(page.parse()?)
        .await?;
    Ok(Json(Paged::from_page(page, AnnouncementView::from)))
}
