//! `AuthUser`: the caller proven by `Authorization: Bearer <jwt>`.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use medrt_domain::rbac::Principal;

use super::TokenError;
use crate::error::ApiError;
use crate::state::AppState;

pub struct AuthUser(pub Principal);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or(ApiError::Unauthorized("missing Authorization header"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or(ApiError::Unauthorized(
                "expected `Authorization: Bearer <token>`",
            ))?;
        Self::from_token(state, token)
    }
}

impl AuthUser {
    pub fn from_token(state: &AppState, token: &str) -> Result<Self, ApiError> {
        state
            .tokens
            .verify(token.trim())
            .map(AuthUser)
            .map_err(token_error)
    }
}

fn token_error(e: TokenError) -> ApiError {
    match e {
        TokenError::Expired => ApiError::Unauthorized("the token has expired"),
        TokenError::Invalid => ApiError::Unauthorized("the token is invalid"),
    }
}
