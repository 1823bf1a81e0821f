//! Mall orders: a signed-in user orders products (with at most one coupon and an
//! optional referral code), pays once per `payment_ref`, and the super_admin refunds.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use medrt_actors::store::{NewOrder, OrderRecord};
use medrt_domain::ids::{DistributorId, OrderNo, ProductId};
use medrt_domain::mall::OrderStatus;
use medrt_domain::money::Money;
use medrt_domain::rbac::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::distributors::referral_code;
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

/// Most distinct lines in one order.
const LINES_MAX: usize = 100;
/// Longest payment or refund reference.
const REF_MAX: usize = 128;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    items: Vec<OrderItem>,
    /// One coupon per order.
    coupon_code: Option<String>,
    /// The distributor who referred this order; otherwise the buyer's own referrer.
    referral_code: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderItem {
    #[schema(value_type = String, format = Uuid)]
    product_id: ProductId,
    qty: u32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// The payment provider's confirmation; paying again with it changes nothing.
    payment_ref: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Yuan; default: everything still paid.
    amount: Option<String>,
    /// Makes a retried refund move money once.
    refund_ref: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OrderView {
    #[schema(value_type = String)]
    order_no: OrderNo,
    #[schema(value_type = String)]
    status: OrderStatus,
    #[schema(value_type = String)]
    subtotal: Money,
    #[schema(value_type = String)]
    discount: Money,
    #[schema(value_type = String)]
    total: Money,
    #[schema(value_type = String)]
    refunded: Money,
    coupon_code: Option<String>,
    /// Who earns on this order, nearest first.
    #[schema(value_type = Vec<String>)]
    beneficiaries: Vec<DistributorId>,
    payment_ref: Option<String>,
    created_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
}

impl From<OrderRecord> for OrderView {
    fn from(o: OrderRecord) -> Self {
        OrderView {
            order_no: o.order_no,
            status: o.money.status,
            subtotal: o.subtotal,
            discount: o.discount,
            total: o.money.total,
            refunded: o.money.refunded,
            coupon_code: o.coupon_code,
            beneficiaries: o.beneficiaries,
            payment_ref: o.payment_ref,
            created_at: o.created_at,
            paid_at: o.paid_at,
        }
    }
}

fn order_no(raw: &str) -> Result<OrderNo, ApiError> {
    // A malformed number cannot name an order: the same answer as someone else's.
    raw.parse().map_err(|_| ApiError::NotFound)
}

fn reference(raw: &str, field: &'static str) -> Result<String, ApiError> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > REF_MAX || raw.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "VALIDATION_FAILED",
            format!("{field} is 1 to {REF_MAX} printable characters"),
        ));
    }
    Ok(raw.to_owned())
}

/// Prices and records an order; it is paid separately.
#[utoipa::path(post, path = "/orders", tag = "mall", request_body = OrderRequest,
    responses(
        (status = 201, body = OrderView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Json(req): Json<OrderRequest>,
) -> Result<(StatusCode, Json<OrderView>), ApiError> {
    if req.items.len() > LINES_MAX {
        return Err(ApiError::bad_request(
            "VALIDATION_FAILED",
            format!("an order has at most {LINES_MAX} lines"),
        ));
    }
    let coupon_code = match req.coupon_code.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(code) => Some(code.to_ascii_uppercase()),
    };
    let new = NewOrder {
        buyer: me.user_id,
        items: req.items.iter().map(|i| (i.product_id, i.qty)).collect(),
        coupon_code,
        referral_code: referral_code(req.referral_code.as_deref())?,
    };
    let order = state
        .platform
        .store()
        .orders()
        .create(new, Utc::now())
        .await?;
    Ok((StatusCode::CREATED, Json(order.into())))
}

/// The caller's order.
#[utoipa::path(get, path = "/orders/{order_no}", tag = "mall",
    params(("order_no" = String, Path)),
    responses((status = 200, body = OrderView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(raw): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = state
        .platform
        .store()
        .orders()
        .get(order_no(&raw)?, me.user_id)
        .await?;
    Ok(Json(order.into()))
}

/// Pays the caller's order. Repeating it with the same `payment_ref` returns the paid
/// order; the commissions of the order's distributors are earned once.
#[utoipa::path(post, path = "/orders/{order_no}/pay", tag = "mall", request_body = PayRequest,
    params(("order_no" = String, Path)),
    responses(
        (status = 200, body = OrderView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn pay(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(raw): Path<String>,
    Json(req): Json<PayRequest>,
) -> Result<Json<OrderView>, ApiError> {
    let payment_ref = reference(&req.payment_ref, "payment_ref")?;
    let order = state
        .platform
        .store()
        .orders()
        .pay(order_no(&raw)?, me.user_id, &payment_ref, Utc::now())
        .await?;
    Ok(Json(order.into()))
}

/// Refunds an order in full or in part (super_admin); its commissions follow: reversed
/// while pending, clawed back once settled.
#[utoipa::path(post, path = "/orders/{order_no}/refund", tag = "mall", request_body = RefundRequest,
    params(("order_no" = String, Path)),
    responses(
        (status = 200, body = OrderView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn refund(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(raw): Path<String>,
    body: Bytes,
) -> Result<Json<OrderView>, ApiError> {
    me.require(Permission::ManageMall)?;
    // No body at all is a full refund.
    let req: RefundRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RefundRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("INVALID_JSON", e.to_string()))?
    };
    let amount = req.amount.as_deref().map(Money::parse).transpose()?;
    let refund_ref = req
        .refund_ref
        .as_deref()
        .map(|r| reference(r, "refund_ref"))
        .transpose()?;
    let order = state
        .platform
        .store()
        .orders()
        .refund(order_no(&raw)?, amount, refund_ref.as_deref(), Utc::now())
        .await?;
    Ok(Json(order.into()))
}
