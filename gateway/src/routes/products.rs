//! The mall's catalogue: the super_admin adds products; signed-in users browse what is
//! on sale.

use axum::extract::State;
use axum::http::StatusCode;
use medrt_actors::store::ProductRecord;
use medrt_domain::ids::ProductId;
use medrt_domain::mall::{Product, ProductCategory};
use medrt_domain::money::Money;
use medrt_domain::rbac::Permission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::paging::{PageQuery, Paged};
use crate::auth::AuthUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Query};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
pub struct ProductRequest {
    name: String,
    /// Yuan as a decimal string, e.g. "19.90".
    price: String,
    /// `medicine`, `medical_device`, `genetic_test` or `other`.
    #[schema(value_type = String)]
    category: ProductCategory,
    #[serde(default = "on_sale")]
    active: bool,
}

fn on_sale() -> bool {
    true
}

#[derive(Serialize, ToSchema)]
pub struct ProductView {
    #[schema(value_type = String, format = Uuid)]
    product_id: ProductId,
    name: String,
    #[schema(value_type = String)]
    price: Money,
    #[schema(value_type = String)]
    category: ProductCategory,
    active: bool,
}

impl From<ProductRecord> for ProductView {
    fn from(r: ProductRecord) -> Self {
        ProductView {
            product_id: r.id,
            name: r.product.name,
            price: r.product.price,
            category: r.product.category,
            active: r.product.active,
        }
    }
}

/// Adds a product (super_admin).
#[utoipa::path(post, path = "/admin/products", tag = "mall", request_body = ProductRequest,
    responses(
        (status = 201, body = ProductView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub async fn add(
    State(state): State<AppState>,
    AuthUser(me): AuthUser,
    Json(req): Json<ProductRequest>,
) -> Result<(StatusCode, Json<ProductView>), ApiError> {
    me.require(Permission::ManageMall)?;
    let product = Product::new(
        &req.name,
        Money::parse(&req.price)?,
        req.category,
        req.active,
    )?;
    let record = state.platform.store().products().add(product).await?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

/// Products on sale, oldest first.
#[utoipa::path(get, path = "/products", tag = "mall", params(PageQuery),
    responses((status = 200, body = Paged<ProductView>), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(_): AuthUser,
    Query(page): Query<PageQuery>,
) -> Result<Json<Paged<ProductView>>, ApiError> {
    let page = state
        .platform
        .store()
        .products()
        .on_sale(page.parse()?)
        .await?;
    Ok(Json(Paged::from_page(page, ProductView::from)))
}
