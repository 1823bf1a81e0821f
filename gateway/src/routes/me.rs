//! The caller's own account.

use axum::extract::State;
use medrt_actors::store::ContactChange;
use medrt_domain::account::{Email, Phone};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use super::users::UserView;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// The signed-in user.
#[utoipa::path(get, path = "/me", tag = "accounts",
    responses((status = 200, body = UserView), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_me(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> Result<Json<UserView>, ApiError> {
    let user = state.platform.store().users().get(me.user_id).await?;
    Ok(Json(user.into()))
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateMe {
    /// Absent: unchanged; `null`: removed.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    phone: Option<Option<String>>,
}

/// Tells a field sent as `null` (Some(None)) from a field not sent (None).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Changes contact details; the user's sessions receive `user.updated`.
#[utoipa::path(patch, path = "/me", tag = "accounts", request_body = UpdateMe,
    responses((status = 200, body = UserView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn update_me(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Json(req): Json<UpdateMe>,
) -> Result<Json<UserView>, ApiError> {
    let change = ContactChange {
        email: req
            .email
            .map(|e| e.as_deref().map(Email::parse).transpose())
            .transpose()?,
        phone: req
            .phone
            .map(|p| p.as_deref().map(Phone::parse).transpose())
            .transpose()?,
    };
    if change.email.is_none() && change.phone.is_none() {
        return Err(ApiError::bad_request(
            "VALIDATION_FAILED",
            "nothing to change: send email and/or phone",
        ));
    }
    let user = state
        .platform
        .store()
        .users()
        .change_contact(me.user_id, change)
        .await?;
    Ok(Json(user.into()))
}
