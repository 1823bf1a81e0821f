//! Ledger administration (super_admin): `GET|PUT /admin/config` for payment mode and
//! prices, `GET /admin/ledger/audit` to check the books.

use axum::extract::State;
use medrt_domain::ledger::LedgerConfig;
use medrt_domain::rbac::Permission;
use serde_json::Value;

use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// The ledger's payment mode and prices.
#[utoipa::path(get, path = "/admin/config", tag = "points",
    responses((status = 200, description = "`{payment_mode, prices}`"), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_config(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> Result<Json<LedgerConfig>, ApiError> {
    me.require(Permission::ManageLedgerConfig)?;
    Ok(Json(state.platform.store().ledger().config().await?))
}

/// Replaces the payment mode and prices.
#[utoipa::path(put, path = "/admin/config", tag = "points",
    request_body(description = r#"`{"payment_mode":"prepaid"|"postpaid","prices":{"<task_type>":{"kind":"high","amount":10}}}`"#),
    responses((status = 200, description = "the stored configuration"), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn put_config(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Json(body): Json<Value>,
) -> Result<Json<LedgerConfig>, ApiError> {
    me.require(Permission::ManageLedgerConfig)?;
    let config: LedgerConfig = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("VALIDATION_FAILED", e.to_string()))?;
    config
        .validate()
        .map_err(|e| ApiError::bad_request("VALIDATION_FAILED", e.to_string()))?;
    if config.prices.len() > LedgerConfig::TASK_TYPES_MAX {
        return Err(ApiError::bad_request(
            "VALIDATION_FAILED",
            "too many task types",
        ));
    }
    state.platform.store().ledger().set_config(&config).await?;
    Ok(Json(config))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AuditView {
    /// True when every kind nets to zero and no user is overdrawn.
    balanced: bool,
    accounts: u64,
    transfers: u64,
    /// Per kind: `{kind, posted_sum, pending_sum}`; both sums are zero in balanced books.
    #[schema(value_type = Vec<Object>)]
    kinds: Vec<Value>,
    overdrawn: Vec<String>,
}

/// Checks the ledger's invariants against the database.
#[utoipa::path(get, path = "/admin/ledger/audit", tag = "points",
    responses((status = 200, body = AuditView), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn audit(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
) -> Result<Json<AuditView>, ApiError> {
    me.require(Permission::ManageLedgerConfig)?;
    let audit = state.platform.store().ledger().audit().await?;
    let kinds = audit
        .imbalances
        .iter()
        .map(|(kind, posted, pending)| {
            serde_json::json!({"kind": kind, "posted_sum": posted.to_string(), "pending_sum": pending.to_string()})
        })
        .collect();
    Ok(Json(AuditView {
        balanced: audit.balanced(),
        accounts: audit.accounts,
        transfers: audit.transfers,
        kinds,
        overdrawn: audit.overdrawn,
    }))
}
