//! Coupons for the mall (super_admin): fixed amount, percentage, or 满X减Y threshold.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use medrt_domain::mall::{Coupon, CouponKind};
use medrt_domain::rbac::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct CouponRequest {
    /// 3 to 32 capital letters, digits or dashes.
    code: String,
    /// `{"kind": "fixed", "value": "5"}`, `{"kind": "percent", "value": "12.5"}` or
    /// `{"kind": "threshold", "threshold": "100", "value": "20"}`; amounts in yuan.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    kind: CouponKind,
    /// Default: now.
    valid_from: Option<DateTime<Utc>>,
    /// Default: a year after `valid_from`.
    valid_until: Option<DateTime<Utc>>,
    per_user_limit: Option<u32>,
    total_limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct CouponView {
    code: String,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    kind: CouponKind,
    valid_from: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    per_user_limit: Option<u32>,
    total_limit: Option<u32>,
}

impl CouponRequest {
    fn parse(self) -> Result<Coupon, ApiError> {
        let valid_from = self.valid_from.unwrap_or_else(Utc::now);
        let coupon = Coupon {
            code: self.code.trim().to_owned(),
            kind: self.kind,
            valid_from,
            valid_until: self.valid_until.unwrap_or(valid_from + Duration::days(365)),
            per_user_limit: self.per_user_limit,
            total_limit: self.total_limit,
        };
        coupon
            .check()
            .map_err(|e| ApiError::bad_request("VALIDATION_FAILED", e.to_string()))?;
        Ok(coupon)
    }
}

/// Creates a coupon (super_admin); codes are unique.
#[utoipa::path(post, path = "/admin/coupons", tag = "mall", request_body = CouponRequest,
    responses(
        (status = 201, body = CouponView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Json(req): Json<CouponRequest>,
) -> Result<(StatusCode, Json<CouponView>), ApiError> {
    me.require(Permission::ManageMall)?;
    let coupon = req.parse()?;
    state.platform.store().coupons().add(&coupon).await?;
    Ok((
        StatusCode::CREATED,
        Json(CouponView {
            code: coupon.code,
            kind: coupon.kind,
            valid_from: coupon.valid_from,
            valid_until: coupon.valid_until,
            per_user_limit: coupon.per_user_limit,
            total_limit: coupon.total_limit,
        }),
    ))
}
