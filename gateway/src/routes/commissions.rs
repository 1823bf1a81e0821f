//! Commissions: a distributor lists theirs; the super_admin sets the rules, settles what
//! is due now (the timer does it too) and marks fraud.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use medrt_actors::store::CommissionRecord;
use medrt_domain::commission::{CommissionRules, CommissionStatus};
use medrt_domain::ids::{CommissionId, DistributorId, OrderNo, PayoutId};
use medrt_domain::money::Money;
use medrt_domain::rbac::Permission;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::distributors::mine;
use super::paging::{PageQuery, Paged};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RulesBody {
    /// Rate per level, nearest upline first, as decimal strings ("0.10").
    #[schema(value_type = Vec<String>)]
    levels: Vec<Decimal>,
    settlement_days: u32,
}

#[derive(Deserialize, IntoParams)]
pub struct StatusQuery {
    /// `pending`, `settled`, `paid_out`, `reversed` or `voided`.
    status: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CommissionView {
    #[schema(value_type = String, format = Uuid)]
    commission_id: CommissionId,
    #[schema(value_type = String)]
    order_no: OrderNo,
    level: usize,
    #[schema(value_type = String)]
    rate: Decimal,
    /// What the distributor keeps from this order now.
    #[schema(value_type = String)]
    amount: Money,
    #[schema(value_type = String)]
    status: CommissionStatus,
    #[schema(value_type = String)]
    pending: Money,
    #[schema(value_type = String)]
    settled: Money,
    #[schema(value_type = String)]
    paid_out: Money,
    #[schema(value_type = String)]
    reversed: Money,
    #[schema(value_type = String)]
    clawed_back: Money,
    #[schema(value_type = String)]
    voided: Money,
    due_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
}

impl From<CommissionRecord> for CommissionView {
    fn from(r: CommissionRecord) -> Self {
        let c = r.commission;
        CommissionView {
            commission_id: r.id,
            order_no: r.order_no,
            level: c.level,
            rate: c.rate,
            amount: c.effective(),
            status: c.status(),
            pending: c.pending,
            settled: c.settled,
            paid_out: c.paid_out,
            reversed: c.reversed,
            clawed_back: c.clawed_back,
            voided: c.voided,
            due_at: c.due_at,
            created_at: r.created_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SettleReport {
    settled: u64,
    #[schema(value_type = String)]
    amount: Money,
}

#[derive(Serialize, ToSchema)]
pub struct FraudReport {
    voided: u64,
}

/// The caller's commissions, newest first.
#[utoipa::path(get, path = "/distributors/me/commissions", tag = "distribution",
    params(PageQuery, StatusQuery),
    responses((status = 200, body = Paged<CommissionView>), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(page): Query<PageQuery>,
    Query(filter): Query<StatusQuery>,
) -> Result<Json<Paged<CommissionView>>, ApiError> {
    let status = match filter.status.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            raw.parse::<CommissionStatus>()
                .map_err(|e| ApiError::bad_request("VALIDATION_FAILED", e.to_string()))?,
        ),
    };
    let record = mine(&state, &user).await?;
    let page = state
        .platform
        .store()
        .commissions()
        .of(record.id, status, page.parse()?)
        .await?;
    Ok(Json(Paged::from_page(page, CommissionView::from)))
}

/// The commission rules new payments earn by.
#[utoipa::path(get, path = "/admin/commission-rules", tag = "distribution",
    responses((status = 200, body = RulesBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_rules(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> Result<Json<RulesBody>, ApiError> {
    me.require(Permission::ManageMall)?;
    let rules = state.platform.store().commissions().rules().await?;
    Ok(Json(RulesBody {
        levels: rules.levels().to_vec(),
        settlement_days: rules.settlement_days(),
    }))
}

/// Replaces the rules for payments from now on; commissions already earned keep theirs.
#[utoipa::path(put, path = "/admin/commission-rules", tag = "distribution", request_body = RulesBody,
    responses((status = 200, body = RulesBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_rules(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Json(body): Json<RulesBody>,
) -> Result<Json<RulesBody>, ApiError> {
    me.require(Permission::ManageMall)?;
    let rules = CommissionRules::new(body.levels, body.settlement_days)
        .map_err(|e| ApiError::bad_request("VALIDATION_FAILED", e.to_string()))?;
    state
        .platform
        .store()
        .commissions()
        .set_rules(&rules)
        .await?;
    Ok(Json(RulesBody {
        levels: rules.levels().to_vec(),
        settlement_days: rules.settlement_days(),
    }))
}

/// Settles every commission whose window has passed, now.
#[utoipa::path(post, path = "/admin/commissions/settle", tag = "distribution",
    responses((status = 200, body = SettleReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn settle(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> Result<Json<SettleReport>, ApiError> {
    me.require(Permission::ManageMall)?;
    let done = state
        .platform
        .settle_commissions()
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    Ok(Json(SettleReport {
        settled: done.commissions,
        amount: done.amount,
    }))
}

/// Marks a distributor as fraud: their open commissions are voided and they earn no
/// new ones.
#[utoipa::path(post, path = "/admin/distributors/{distributor_id}/fraud", tag = "distribution",
    params(("distributor_id" = String, Path)),
    responses((status = 200, body = FraudReport), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn mark_fraud(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(raw): Path<String>,
) -> Result<Json<FraudReport>, ApiError> {
    me.require(Permission::ManageMall)?;
    let id: DistributorId = raw.parse().map_err(|_| ApiError::NotFound)?;
    let voided = state
        .platform
        .store()
        .commissions()
        .block(id, Utc::now())
        .await?;
    Ok(Json(FraudReport { voided }))
}

#[derive(Serialize, ToSchema)]
pub struct PayoutView {
    #[schema(value_type = String, format = Uuid)]
    payout_id: PayoutId,
    #[schema(value_type = String, format = Uuid)]
    distributor_id: DistributorId,
    /// Settled commissions paid out.
    #[schema(value_type = String)]
    gross: Money,
    /// Outstanding clawbacks deducted.
    #[schema(value_type = String)]
    clawback: Money,
    /// What the distributor receives.
    #[schema(value_type = String)]
    net: Money,
    created_at: DateTime<Utc>,
}

/// Pays a distributor everything settled, less the clawbacks they still owe (409 when
/// nothing is settled).
#[utoipa::path(post, path = "/admin/distributors/{distributor_id}/payouts", tag = "distribution",
    params(("distributor_id" = String, Path)),
    responses((status = 201, body = PayoutView), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn pay_out(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Path(raw): Path<String>,
) -> Result<(StatusCode, Json<PayoutView>), ApiError> {
    me.require(Permission::ManageMall)?;
    let id: DistributorId = raw.parse().map_err(|_| ApiError::NotFound)?;
    let record = state
        .platform
        .store()
        .commissions()
        .pay_out(id, Utc::now())
        .await?
        .ok_or_else(|| ApiError::Conflict {
            code: "NOTHING_TO_PAY_OUT",
            message: "this distributor has no settled commissions".into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(PayoutView {
            payout_id: record.id,
            distributor_id: record.distributor,
            gross: record.payout.gross,
            clawback: record.payout.clawback,
            net: record.payout.net,
            created_at: record.created_at,
        }),
    ))
}
