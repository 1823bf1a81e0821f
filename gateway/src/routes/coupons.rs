//! Coupons for the mall (super_admin): fixed amount, percentage, or 满X减Y threshold.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use medrt_domain::mall::{Coupon, CouponKind};
use medrt_domain::money::Money;
use medrt_domain::rbac::Permission;
use rust_decimal::Decimal;
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
    /// `fixed`, `percent` or `threshold`.
    kind: String,
    /// Yuan off (fixed, threshold) or percent off (percent), as a decimal string.
    value: String,
    /// For `threshold`: the subtotal from which it applies.
    threshold: Option<String>,
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
    #[schema(value_type = Object)]
    kind: CouponKind,
    valid_from: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    per_user_limit: Option<u32>,
    total_limit: Option<u32>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("VALIDATION_FAILED", message)
}

impl CouponRequest {
    fn parse(self) -> Result<Coupon, ApiError> {
        let kind = match self.kind.as_str() {
            "fixed" => CouponKind::Fixed {
                value: Money::parse(&self.value)?,
            },
            "percent" => CouponKind::Percent {
                value: self
                    .value
                    .trim()
                    .parse::<Decimal>()
                    .map_err(|_| invalid("value is not a number"))?,
            },
            "threshold" => CouponKind::Threshold {
                threshold: Money::parse(
                    self.threshold
                        .as_deref()
                        .ok_or_else(|| invalid("a threshold coupon needs threshold"))?,
                )?,
                value: Money::parse(&self.value)?,
            },
            other => {
                return Err(invalid(format!(
                    "unknown coupon kind {other:?}: fixed, percent or threshold"
                )));
            }
        };
        let valid_from = self.valid_from.unwrap_or_else(Utc::now);
        let coupon = Coupon {
            code: self.code.trim().to_owned(),
            kind,
            valid_from,
            valid_until: self.valid_until.unwrap_or(valid_from + Duration::days(365)),
            per_user_limit: self.per_user_limit,
            total_limit: self.total_limit,
        };
        coupon.check().map_err(|e| invalid(e.to_string()))?;
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
