//! Registration and sign-in.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use medrt_domain::account::{UserStatus, Username};
use medrt_domain::ids::UserId;
use medrt_domain::rbac::Principal;
use medrt_domain::role::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::distributors::{referral_code, unknown_referral};
use super::new_account::AccountFields;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[serde(flatten)]
    account: AccountFields,
    /// `patient`, `doctor` or `distributor`.
    role: String,
    /// A distributor's referral code, binding the new user to that distributor.
    referral_code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Registered {
    #[schema(value_type = String, format = Uuid)]
    user_id: UserId,
}

/// Creates an account for a patient, doctor or distributor.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, body = Registered),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    Json(req): Json<RegisterRequest>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let role: Role = req.role.parse()?;
    if !role.is_self_registrable() {
        return Err(ApiError::ForbiddenBecause(
            "only patient, doctor and distributor accounts can register themselves",
        ));
    }
    let referred_by = match referral_code(req.referral_code.as_deref())? {
        None => None,
        Some(code) => {
            let distributors = state.platform.store().distributors();
            Some(
                distributors
                    .by_code(&code)
                    .await
                    .map_err(unknown_referral)?
                    .id,
            )
        }
    };
    let user = req.account.create(&state, role, None, referred_by).await?;
    Ok((StatusCode::CREATED, Json(Registered { user_id: user.id })))
}

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    username: String,
    password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    token: String,
    #[schema(value_type = String, format = Uuid)]
    user_id: UserId,
    username: String,
    #[schema(value_type = String)]
    role: Role,
    expires_at: DateTime<Utc>,
}

/// Longest password accepted at sign-in; longer input is not worth hashing.
const LOGIN_PASSWORD_LEN_MAX: usize = 1024;

/// Exchanges a username and password for a token.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    const REJECTED: ApiError = ApiError::Unauthorized("invalid username or password");
    let Ok(username) = Username::parse(&req.username) else {
        return Err(REJECTED);
    };
    let client = client_addr(peer, &headers, state.settings.server.trust_forwarded_for);
    let cache = state.platform.cache();
    let limiter = &state.login_limiter;
    if limiter.blocked(cache, &username, client).await? {
        return Err(ApiError::RateLimited {
            retry_after_secs: limiter.window().as_secs(),
        });
    }
    let credentials = if req.password.len() <= LOGIN_PASSWORD_LEN_MAX {
        state
            .platform
            .store()
            .users()
            .credentials(&username)
            .await?
    } else {
        None
    };
    let active = credentials
        .as_ref()
        .is_some_and(|c| c.user.status == UserStatus::Active);
    let hash = credentials.as_ref().map(|c| c.password_hash.clone());
    let verified = state.passwords.verify(req.password, hash).await;
    let (Some(credentials), true, true) = (credentials, verified, active) else {
        limiter.record_failure(cache, &username, client).await?;
        return Err(REJECTED);
    };
    let user = credentials.user;
    let (token, expires_at) = state.tokens.issue(Principal {
        user_id: user.id,
        role: user.role,
    });
    Ok(Json(LoginResponse {
        token,
        user_id: user.id,
        username: user.username,
        role: user.role,
        expires_at,
    }))
}

/// The client's address: the peer, or the first `X-Forwarded-For` hop behind a trusted
/// load balancer.
fn client_addr(peer: SocketAddr, headers: &HeaderMap, trust_forwarded_for: bool) -> IpAddr {
    trust_forwarded_for
        .then(|| {
            headers
                .get("x-forwarded-for")?
                .to_str()
                .ok()?
                .split(',')
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .flatten()
        .unwrap_or(peer.ip())
}
