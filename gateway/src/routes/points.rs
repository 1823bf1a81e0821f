//! Points: balances, history, grants and allocations.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use medrt_actors::ledger::Receipt;
use medrt_domain::ids::UserId;
use medrt_domain::ledger::{Amount, IdempotencyKey, Owner, PointKind, Transfer};
use medrt_domain::rbac::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::paging::{PageQuery, Paged};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Points {
    /// Available high points (posted balance minus holds).
    high: i64,
    low: i64,
}

/// The caller's available points.
#[utoipa::path(get, path = "/points", tag = "points",
    responses((status = 200, body = Points), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn balances(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> Result<Json<Points>, ApiError> {
    let (high, low) = state
        .platform
        .store()
        .ledger()
        .available(me.user_id)
        .await?;
    Ok(Json(Points { high, low }))
}

/// One transfer as seen from the caller's side.
#[derive(Serialize, ToSchema)]
pub struct TransferView {
    #[schema(value_type = String, format = Uuid)]
    transfer_id: medrt_domain::ledger::TransferId,
    /// `high` or `low`.
    kind: String,
    amount: u64,
    /// `in` when the caller received points, `out` when they spent or gave them.
    direction: &'static str,
    /// `grant`, `allocation`, `charge`, `refund`.
    reason: &'static str,
    reference: Option<String>,
    /// `posted`, `pending` (a hold), `post` or `void` (settling a hold).
    phase: &'static str,
    /// `system:<account>` or `user:<id>`.
    counterparty: String,
    created_at: DateTime<Utc>,
}

impl TransferView {
    fn of(t: &Transfer, viewer: UserId) -> Self {
        let incoming = t.spec.credit.user_id() == Some(viewer);
        let other = if incoming {
            t.spec.debit
        } else {
            t.spec.credit
        };
        TransferView {
            transfer_id: t.id,
            kind: t.spec.debit.kind.to_string(),
            amount: t.spec.amount.get(),
            direction: if incoming { "in" } else { "out" },
            reason: t.spec.reason.as_str(),
            reference: t.spec.reference.as_ref().map(|r| r.as_str().to_owned()),
            phase: t.spec.phase.name(),
            counterparty: match other.owner {
                Owner::User(id) => format!("user:{id}"),
                Owner::System(s) => format!("system:{}", s.as_str()),
            },
            created_at: t.at,
        }
    }
}

/// The caller's transfers, newest first.
#[utoipa::path(get, path = "/points/transactions", tag = "points", params(PageQuery),
    responses((status = 200, body = Paged<TransferView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn transactions(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Query(page): Query<PageQuery>,
) -> Result<Json<Paged<TransferView>>, ApiError> {
    let page = state
        .platform
        .store()
        .ledger()
        .history(me.user_id, page.parse()?)
        .await?;
    Ok(Json(Paged::from_page(page, |t| {
        TransferView::of(&t, me.user_id)
    })))
}

#[derive(Deserialize, ToSchema)]
pub struct GrantRequest {
    #[schema(value_type = String, format = Uuid)]
    user_id: UserId,
    #[schema(value_type = String)]
    kind: PointKind,
    #[schema(value_type = u64, minimum = 1)]
    amount: Amount,
    idempotency_key: String,
}

/// New points for a user (super_admin). A retry with the same key returns the first result.
#[utoipa::path(post, path = "/admin/points/grant", tag = "points", request_body = GrantRequest,
    responses(
        (status = 201, body = TransferView), (status = 200, description = "replayed", body = TransferView),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn grant(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Json(req): Json<GrantRequest>,
) -> Result<(StatusCode, Json<TransferView>), ApiError> {
    me.require(Permission::GrantPoints)?;
    let key = parse_key(&req.idempotency_key)?;
    state.platform.store().users().get(req.user_id).await?;
    let ledger = state.platform.ledger().await?;
    let receipt = ledger.grant(req.user_id, req.kind, req.amount, key).await?;
    Ok(respond(&receipt, me.user_id))
}

#[derive(Deserialize, ToSchema)]
pub struct AllocateRequest {
    #[schema(value_type = String, format = Uuid)]
    to_user_id: UserId,
    #[schema(value_type = String)]
    kind: PointKind,
    #[schema(value_type = u64, minimum = 1)]
    amount: Amount,
    idempotency_key: String,
}

/// Hands points to one of the caller's own sub-accounts (admin).
#[utoipa::path(post, path = "/points/allocate", tag = "points", request_body = AllocateRequest,
    responses(
        (status = 201, body = TransferView), (status = 200, description = "replayed", body = TransferView),
        (status = 400, body = ErrorBody), (status = 402, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn allocate(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Json(req): Json<AllocateRequest>,
) -> Result<(StatusCode, Json<TransferView>), ApiError> {
    me.require(Permission::AllocatePoints)?;
    let key = parse_key(&req.idempotency_key)?;
    let target = state.platform.store().users().get(req.to_user_id).await?;
    if target.parent_user_id != Some(me.user_id) {
        // Someone else's account, or no sub-account: it does not exist for the caller.
        return Err(ApiError::NotFound);
    }
    let ledger = state.platform.ledger().await?;
    let receipt = ledger
        .allocate(me.user_id, target.id, req.kind, req.amount, key)
        .await?;
    Ok(respond(&receipt, me.user_id))
}

fn parse_key(raw: &str) -> Result<IdempotencyKey, ApiError> {
    IdempotencyKey::parse(raw)
        .map_err(|e| ApiError::bad_request("VALIDATION_FAILED", e.to_string()))
}

/// 201 for a new transfer, 200 when the key replayed an earlier one.
fn respond(receipt: &Receipt, viewer: UserId) -> (StatusCode, Json<TransferView>) {
    let status = if receipt.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let transfer = receipt
        .transfers
        .first()
        .expect("a receipt records at least one transfer");
    (status, Json(TransferView::of(transfer, viewer)))
}
