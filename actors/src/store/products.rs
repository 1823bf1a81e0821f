//! The mall's catalogue.

use chrono::{DateTime, Utc};
use medrt_domain::ids::ProductId;
use medrt_domain::mall::{Product, ProductCategory};
use medrt_domain::money::Money;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, Order, QueryFilter};

use super::entities::products;
use super::page::{self, Page, PageRequest};
use super::{Store, StoreError};

#[derive(Clone, Debug)]
pub struct ProductRecord {
    pub id: ProductId,
    pub product: Product,
    pub created_at: DateTime<Utc>,
}

pub struct Products<'a> {
    store: &'a Store,
}

impl<'a> Products<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self { store }
    }

    pub async fn add(&self, product: Product) -> Result<ProductRecord, StoreError> {
        let row = products::ActiveModel {
            id: Set(ProductId::generate().as_uuid()),
            name: Set(product.name.clone()),
            price_cents: Set(product.price.cents() as i64),
            category: Set(product.category.as_str().to_owned()),
            active: Set(product.active),
            created_at: Set(Utc::now()),
        }
        .insert(&self.store.db)
        .await?;
        to_record(row)
    }

    /// Products on sale, oldest first.
    pub async fn on_sale(&self, page: PageRequest) -> Result<Page<ProductRecord>, StoreError> {
        page::fetch(
            &self.store.db,
            products::Entity::find().filter(products::Column::Active.eq(true)),
            products::Column::Id,
            Order::Asc,
            page,
            to_record,
            |r| r.id.as_uuid(),
        )
        .await
    }
}

pub(super) fn to_record(m: products::Model) -> Result<ProductRecord, StoreError> {
    let category: ProductCategory = m.category.parse().map_err(StoreError::corrupt)?;
    let cents = u64::try_from(m.price_cents)
        .map_err(|_| StoreError::corrupt(format!("product {}: negative price", m.id)))?;
    Ok(ProductRecord {
        id: ProductId::from_uuid(m.id),
        product: Product {
            name: m.name,
            price: Money::from_cents(cents),
            category,
            active: m.active,
        },
        created_at: m.created_at,
    })
}
