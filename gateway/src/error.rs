//! `ApiError`: the one place crate errors become the contract's status codes and
//! `{"error":{"code","message"}}` bodies. Unexpected errors are logged with their cause
//! and answered with an opaque 500.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use medrt_actors::cache::CacheError;
use medrt_actors::ledger::LedgerFailure;
use medrt_actors::store::{OrderRejected, StoreError};
use medrt_domain::account::AccountInputError;
use medrt_domain::announcement::AnnouncementError;
use medrt_domain::distribution::HierarchyError;
use medrt_domain::ledger::LedgerError;
use medrt_domain::mall::{OrderError, PricingError, ProductError};
use medrt_domain::money::MoneyError;
use medrt_domain::rbac::Denied;
use medrt_domain::role::UnknownRole;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("your role is not allowed to do this")]
    Forbidden,
    #[error("{0}")]
    ForbiddenBecause(&'static str),
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    #[error("{0}")]
    InsufficientPoints(String),
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("too many attempts; try again in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The contract's error body.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// SNAKE_CASE machine-readable code.
    code: String,
    message: String,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(e))
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            ApiError::Forbidden | ApiError::ForbiddenBecause(_) => {
                (StatusCode::FORBIDDEN, "FORBIDDEN")
            }
            ApiError::NotFound => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::InsufficientPoints(_) => {
                (StatusCode::PAYMENT_REQUIRED, "INSUFFICIENT_POINTS")
            }
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            ApiError::Internal(e) => {
                tracing::error!(error = %e, cause = ?e.source(), "request failed");
                "internal error".to_owned()
            }
            ApiError::Unavailable(why) => {
                tracing::warn!(%why, "dependency unavailable");
                "a service dependency is unavailable; try again shortly".to_owned()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict("payment_ref") => ApiError::Conflict {
                code: "PAYMENT_REF_USED",
                message: "this payment_ref already paid another order".into(),
            },
            StoreError::Conflict(what) => ApiError::Conflict {
                code: "CONFLICT",
                message: format!("{what} already exists"),
            },
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Order(rejected) => rejected.into(),
            e @ (StoreError::Corrupt(_) | StoreError::Location(_) | StoreError::Db(_)) => {
                ApiError::internal(e)
            }
        }
    }
}

impl From<OrderRejected> for ApiError {
    fn from(e: OrderRejected) -> Self {
        let message = e.to_string();
        let conflict = |code| ApiError::Conflict {
            code,
            message: message.clone(),
        };
        match &e {
            OrderRejected::Pricing(p) => match p {
                PricingError::Inactive(_) => ApiError::bad_request("PRODUCT_UNAVAILABLE", message),
                PricingError::NotYetValid(_) => {
                    ApiError::bad_request("COUPON_NOT_YET_VALID", message)
                }
                PricingError::Expired(_) => ApiError::bad_request("COUPON_EXPIRED", message),
                PricingError::Exhausted(_) => conflict("COUPON_EXHAUSTED"),
                PricingError::BelowThreshold { .. } => {
                    ApiError::bad_request("COUPON_BELOW_THRESHOLD", message)
                }
                PricingError::Empty
                | PricingError::Quantity { .. }
                | PricingError::InvalidCoupon(_)
                | PricingError::Money(_) => ApiError::bad_request("VALIDATION_FAILED", message),
            },
            OrderRejected::Order(o) => match o {
                OrderError::NotPaid => conflict("ORDER_NOT_PAID"),
                OrderError::AlreadyPaid => conflict("ORDER_ALREADY_PAID"),
                OrderError::RefundTooLarge { .. } => conflict("REFUND_TOO_LARGE"),
                OrderError::ZeroRefund => ApiError::bad_request("VALIDATION_FAILED", message),
            },
            OrderRejected::Referral(HierarchyError::SelfReferral) => {
                ApiError::bad_request("SELF_REFERRAL", message)
            }
            OrderRejected::Referral(HierarchyError::BadCode) => {
                ApiError::bad_request("INVALID_REFERRAL_CODE", message)
            }
            OrderRejected::Referral(HierarchyError::Cycle) => conflict("REFERRAL_CYCLE"),
            OrderRejected::UnknownProduct(_) => ApiError::bad_request("UNKNOWN_PRODUCT", message),
            OrderRejected::UnknownCoupon(_) => ApiError::bad_request("UNKNOWN_COUPON", message),
            OrderRejected::UnknownReferral => {
                ApiError::bad_request("UNKNOWN_REFERRAL_CODE", message)
            }
            OrderRejected::PaidWithAnotherRef => conflict("ORDER_ALREADY_PAID"),
            OrderRejected::RefundRefReused(_) => conflict("IDEMPOTENCY_KEY_REUSED"),
        }
    }
}

impl From<LedgerFailure> for ApiError {
    fn from(e: LedgerFailure) -> Self {
        match e {
            LedgerFailure::Rule(rule @ LedgerError::Insufficient { .. }) => {
                ApiError::InsufficientPoints(rule.to_string())
            }
            LedgerFailure::Rule(LedgerError::KeyReused) => ApiError::Conflict {
                code: "IDEMPOTENCY_KEY_REUSED",
                message: "this idempotency_key was used for a different request".into(),
            },
            LedgerFailure::Rule(rule) => ApiError::Conflict {
                code: "LEDGER_RULE",
                message: rule.to_string(),
            },
            LedgerFailure::Unpriced(_) => ApiError::bad_request("UNKNOWN_TASK_TYPE", e.to_string()),
            LedgerFailure::NothingToRefund => ApiError::Conflict {
                code: "NOTHING_TO_REFUND",
                message: e.to_string(),
            },
            LedgerFailure::Unavailable(why) => ApiError::Unavailable(why),
        }
    }
}

impl From<CacheError> for ApiError {
    fn from(e: CacheError) -> Self {
        ApiError::Unavailable(e.to_string())
    }
}

impl From<AccountInputError> for ApiError {
    fn from(e: AccountInputError) -> Self {
        ApiError::bad_request("VALIDATION_FAILED", e.to_string())
    }
}

impl From<AnnouncementError> for ApiError {
    fn from(e: AnnouncementError) -> Self {
        ApiError::bad_request("VALIDATION_FAILED", e.to_string())
    }
}

impl From<ProductError> for ApiError {
    fn from(e: ProductError) -> Self {
        ApiError::bad_request("VALIDATION_FAILED", e.to_string())
    }
}

impl From<MoneyError> for ApiError {
    fn from(e: MoneyError) -> Self {
        ApiError::bad_request("VALIDATION_FAILED", e.to_string())
    }
}

impl From<UnknownRole> for ApiError {
    fn from(e: UnknownRole) -> Self {
        ApiError::bad_request("VALIDATION_FAILED", e.to_string())
    }
}

impl From<Denied> for ApiError {
    fn from(e: Denied) -> Self {
        match e {
            Denied::Forbidden => ApiError::Forbidden,
            Denied::NotVisible => ApiError::NotFound,
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::PayloadTooLarge;
        }
        let code = match e {
            JsonRejection::MissingJsonContentType(_) => "UNSUPPORTED_CONTENT_TYPE",
            _ => "INVALID_JSON",
        };
        ApiError::bad_request(code, e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::bad_request("INVALID_QUERY", e.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        // A malformed id names nothing that exists.
        ApiError::NotFound
    }
}
