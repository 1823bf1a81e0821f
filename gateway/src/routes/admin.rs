//! Administration of sub-accounts and presence.

use axum::extract::State;
use axum::http::StatusCode;
use medrt_domain::ids::UserId;
use medrt_domain::rbac::Permission;
use medrt_domain::role::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::new_account::AccountFields;
use super::paging::{PageQuery, Paged};
use super::users::UserView;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct SubAccountRequest {
    #[serde(flatten)]
    account: AccountFields,
    role: String,
}

/// Creates an account whose parent is the caller (admins and super_admin).
#[utoipa::path(post, path = "/admin/sub-accounts", tag = "admin", request_body = SubAccountRequest,
    responses(
        (status = 201, body = UserView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create_sub_account(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Json(req): Json<SubAccountRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    me.require(Permission::ManageSubAccounts)?;
    let role: Role = req.role.parse()?;
    if !me.role.may_create_sub_account(role) {
        return Err(ApiError::ForbiddenBecause(
            "your role cannot create accounts of that role",
        ));
    }
    let user = req
        .account
        .create(&state, role, Some(me.user_id), None)
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// The caller's sub-accounts, oldest first.
#[utoipa::path(get, path = "/admin/sub-accounts", tag = "admin", params(PageQuery),
    responses((status = 200, body = Paged<UserView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_sub_accounts(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Query(page): Query<PageQuery>,
) -> Result<Json<Paged<UserView>>, ApiError> {
    me.require(Permission::ManageSubAccounts)?;
    let page = state
        .platform
        .store()
        .users()
        .children(me.user_id, page.parse()?)
        .await?;
    Ok(Json(Paged::from_page(page, UserView::from)))
}

#[derive(Serialize, ToSchema)]
pub struct Presence {
    #[schema(value_type = String, format = Uuid)]
    user_id: UserId,
    online: bool,
    /// Nodes holding at least one of the user's WebSocket sessions.
    nodes: Vec<String>,
}

/// Whether a user is connected, and through which nodes.
#[utoipa::path(get, path = "/admin/users/{user_id}/presence", tag = "admin",
    params(("user_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Presence), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn presence(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(user_id): Path<UserId>,
) -> Result<Json<Presence>, ApiError> {
    me.require(Permission::ViewPresence)?;
    let user = state.platform.store().users().get(user_id).await?;
    me.may_view_user(user.id, user.parent_user_id)?;
    let nodes = state.platform.presence(user.id).await?;
    Ok(Json(Presence {
        user_id: user.id,
        online: !nodes.is_empty(),
        nodes,
    }))
}
