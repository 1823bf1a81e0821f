//! The referral programme: any signed-in user can become a distributor, optionally under
//! an upline's code, and see their code, link, QR code and downline.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use medrt_actors::store::{DistributorRecord, StoreError};
use medrt_domain::commission::CommissionTotals;
use medrt_domain::distribution::{CODE_LEN, ReferralCode};
use medrt_domain::ids::DistributorId;
use medrt_domain::money::Money;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::paging::{PageQuery, Paged};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query};
use crate::qr;
use crate::state::AppState;

#[derive(Deserialize, ToSchema, Default)]
pub struct JoinRequest {
    /// The upline's referral code.
    referral_code: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Joined {
    #[schema(value_type = String, format = Uuid)]
    distributor_id: DistributorId,
    referral_code: String,
    referral_link: String,
}

#[derive(Serialize, ToSchema)]
pub struct DistributorView {
    #[schema(value_type = String, format = Uuid)]
    distributor_id: DistributorId,
    referral_code: String,
    referral_link: String,
    #[schema(value_type = Option<String>, format = Uuid)]
    upline_id: Option<DistributorId>,
    /// How many uplines this distributor has.
    depth: usize,
    downline_size: u64,
    /// Users who registered with this distributor's code.
    referred_users: u64,
    /// What the orders that pay this distributor commissions still have paid.
    #[schema(value_type = String)]
    downline_sales: Money,
    #[schema(value_type = Object)]
    totals: CommissionTotals,
    /// Clawed back after settlement and not yet deducted from a payout.
    #[schema(value_type = String)]
    clawback_outstanding: Money,
    /// Marked as fraud: earns no commissions.
    blocked: bool,
}

#[derive(Serialize, ToSchema)]
pub struct DownlineMember {
    #[schema(value_type = String, format = Uuid)]
    distributor_id: DistributorId,
    #[schema(value_type = Option<String>, format = Uuid)]
    upline_id: Option<DistributorId>,
    /// 1 for direct referrals, 2 for theirs, …
    level: usize,
    joined_at: DateTime<Utc>,
}

fn link(state: &AppState, code: &ReferralCode) -> String {
    format!("{}{}", state.settings.distribution.link_base, code)
}

/// A referral code given by a client: absent or blank is none; malformed is 400.
pub(super) fn referral_code(raw: Option<&str>) -> Result<Option<ReferralCode>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(code) => ReferralCode::parse(code)
            .map(Some)
            .map_err(|e| ApiError::bad_request("INVALID_REFERRAL_CODE", e.to_string())),
    }
}

/// A lookup by referral code that found nobody is the client's mistake (400).
pub(super) fn unknown_referral(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::bad_request(
            "UNKNOWN_REFERRAL_CODE",
            "no distributor has that referral code",
        ),
        other => other.into(),
    }
}

fn fresh_code() -> ReferralCode {
    let bytes: [u8; CODE_LEN] = uuid::Uuid::new_v4().as_bytes()[..CODE_LEN]
        .try_into()
        .expect("a UUID has 16 bytes");
    ReferralCode::from_entropy(bytes)
}

/// Becomes a distributor (once), under the upline whose code is given.
#[utoipa::path(post, path = "/distributors", tag = "distribution", request_body = JoinRequest,
    responses(
        (status = 201, body = Joined), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn join(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Json(req): Json<JoinRequest>,
) -> Result<(StatusCode, Json<Joined>), ApiError> {
    let upline = referral_code(req.referral_code.as_deref())?;
    let record = state
        .platform
        .store()
        .distributors()
        .join(me.user_id, upline.as_ref(), fresh_code)
        .await
        .map_err(unknown_referral)?;
    let joined = Joined {
        distributor_id: record.id,
        referral_link: link(&state, &record.referral_code),
        referral_code: record.referral_code.to_string(),
    };
    Ok((StatusCode::CREATED, Json(joined)))
}

pub(super) async fn mine(state: &AppState, me: &AuthUser) -> Result<DistributorRecord, ApiError> {
    Ok(state
        .platform
        .store()
        .distributors()
        .by_user(me.0.user_id)
        .await?)
}

/// The caller's distributor record (404 if they have not joined).
#[utoipa::path(get, path = "/distributors/me", tag = "distribution",
    responses((status = 200, body = DistributorView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn me(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Json<DistributorView>, ApiError> {
    let record = mine(&state, &user).await?;
    let distributors = state.platform.store().distributors();
    let downline_size = distributors.downline_size(&record).await?;
    let referred_users = distributors.referred_users(&record).await?;
    let standing = state
        .platform
        .store()
        .commissions()
        .standing(record.id)
        .await?;
    Ok(Json(DistributorView {
        distributor_id: record.id,
        referral_link: link(&state, &record.referral_code),
        referral_code: record.referral_code.to_string(),
        upline_id: record.upline_id,
        depth: record.lineage.depth(),
        downline_size,
        referred_users,
        downline_sales: standing.sales,
        totals: standing.totals,
        clawback_outstanding: standing.clawback_outstanding,
        blocked: record.blocked,
    }))
}

/// The referral link as a QR code (PNG).
#[utoipa::path(get, path = "/distributors/me/qr.png", tag = "distribution",
    responses((status = 200, content_type = "image/png"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn qr_png(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<impl IntoResponse, ApiError> {
    let record = mine(&state, &user).await?;
    let png = qr::png(&link(&state, &record.referral_code)).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png))
}

/// Everyone below the caller, at any depth, oldest first.
#[utoipa::path(get, path = "/distributors/me/downline", tag = "distribution", params(PageQuery),
    responses((status = 200, body = Paged<DownlineMember>), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn downline(
    State(state): State<AppState>,
    user: AuthUser,
    Query(page): Query<PageQuery>,
) -> Result<Json<Paged<DownlineMember>>, ApiError> {
    let record = mine(&state, &user).await?;
    let page = state
        .platform
        .store()
        .distributors()
        .downline(&record, page.parse()?)
        .await?;
    let own_depth = record.lineage.depth();
    Ok(Json(Paged::from_page(page, |d| DownlineMember {
        distributor_id: d.id,
        upline_id: d.upline_id,
        level: d.lineage.depth() - own_depth,
        joined_at: d.created_at,
    })))
}
