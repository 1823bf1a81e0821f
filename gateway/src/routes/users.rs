//! Reading one account, subject to the visibility rule.

use axum::extract::State;
use chrono::{DateTime, Utc};
use medrt_actors::store::User;
use medrt_domain::account::UserStatus;
use medrt_domain::ids::UserId;
use medrt_domain::role::Role;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

/// An account as clients see it.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    #[schema(value_type = String, format = Uuid)]
    user_id: UserId,
    username: String,
    #[schema(value_type = String)]
    role: Role,
    email: Option<String>,
    phone: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    parent_user_id: Option<UserId>,
    #[schema(value_type = String)]
    status: UserStatus,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            user_id: u.id,
            username: u.username,
            role: u.role,
            email: u.email,
            phone: u.phone,
            parent_user_id: u.parent_user_id,
            status: u.status,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// One account: your own, one of your sub-accounts, or (super_admin) anyone's.
#[utoipa::path(get, path = "/users/{user_id}", tag = "accounts",
    params(("user_id" = String, Path, format = Uuid)),
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_user(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(user_id): Path<UserId>,
) -> Result<Json<UserView>, ApiError> {
    let user = state.platform.store().users().get(user_id).await?;
    me.may_view_user(user.id, user.parent_user_id)?;
    Ok(Json(user.into()))
}
