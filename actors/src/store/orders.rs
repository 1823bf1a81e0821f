//! Mall orders: created with their price and beneficiaries fixed, paid once per
//! `payment_ref`, refunded in parts. Paying and refunding change the order's
//! commissions and write their `commission.update` events in the same transaction.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use medrt_domain::commission::{CommissionRules, OrderCommission};
use medrt_domain::distribution::{HierarchyError, ReferralCode, beneficiaries};
use medrt_domain::ids::{DistributorId, OrderNo, ProductId, UserId};
use medrt_domain::mall::{
    CouponUses, OrderError, OrderMoney, OrderStatus, PricingError, Product, quote,
};
use medrt_domain::money::Money;
use sea_orm::sea_query::LockType;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QuerySelect,
};

use super::commissions::{self, commission_events, money_of};
use super::coupons::to_coupon;
use super::distributors::find_by;
use super::entities::{
    coupons, distributors, order_items, order_refunds, orders, products, referral_bindings,
};
use super::{Store, StoreError};

/// Why an order request was refused: the client's mistake or an illegal transition.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OrderRejected {
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    Referral(#[from] HierarchyError),
    #[error("no product {0}")]
    UnknownProduct(ProductId),
    #[error("no coupon {0}")]
    UnknownCoupon(String),
    #[error("no distributor has that referral code")]
    UnknownReferral,
    #[error("this order was paid with another payment reference")]
    PaidWithAnotherRef,
    #[error("refund reference {0} belongs to another order")]
    RefundRefReused(String),
}

pub struct NewOrder {
    pub buyer: UserId,
    pub items: Vec<(ProductId, u32)>,
    pub coupon_code: Option<String>,
    pub referral_code: Option<ReferralCode>,
}

#[derive(Clone, Debug)]
pub struct OrderRecord {
    pub order_no: OrderNo,
    pub buyer: UserId,
    pub subtotal: Money,
    pub discount: Money,
    pub money: OrderMoney,
    pub coupon_code: Option<String>,
    /// Who earns on this order, nearest first.
    pub beneficiaries: Vec<DistributorId>,
    pub payment_ref: Option<String>,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
}

pub struct Orders<'a> {
    store: &'a Store,
}

impl<'a> Orders<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Prices the order and fixes who earns on it: the order's referral code, else the
    /// buyer's registration binding, else (for a distributor) their own upline.
    pub async fn create(
        &self,
        new: NewOrder,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, StoreError> {
        let now = stored_time(now);
        let txn = self.store.begin_write().await?;
        let ids: Vec<_> = new.items.iter().map(|(id, _)| id.as_uuid()).collect();
        let found: HashMap<_, _> = products::Entity::find()
            .filter(products::Column::Id.is_in(ids))
            .all(&txn)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        let mut lines: Vec<(Product, u32)> = Vec::with_capacity(new.items.len());
        for (id, qty) in &new.items {
            let row = found
                .get(&id.as_uuid())
                .ok_or(OrderRejected::UnknownProduct(*id))?;
            lines.push((super::products::to_record(row.clone())?.product, *qty));
        }
        let coupon = match &new.coupon_code {
            None => None,
            Some(code) => Some(coupon_with_uses(&txn, code, new.buyer).await?),
        };
        let priced: Vec<(&Product, u32)> = lines.iter().map(|(p, q)| (p, *q)).collect();
        let price = quote(&priced, coupon.as_ref().map(|(c, u)| (c, *u)), now)
            .map_err(OrderRejected::from)?;
        let chain = self
            .chain(&txn, new.buyer, new.referral_code.as_ref())
            .await?;
        let order_no = OrderNo::generate();
        let row = orders::ActiveModel {
            order_no: Set(order_no.to_string()),
            user_id: Set(new.buyer.as_uuid()),
            status: Set(OrderStatus::Created.as_str().to_owned()),
            subtotal_cents: Set(cents(price.subtotal)),
            discount_cents: Set(cents(price.discount)),
            total_cents: Set(cents(price.total)),
            refunded_cents: Set(0),
            coupon_code: Set(new.coupon_code.clone()),
            beneficiaries: Set(serde_json::to_string(&chain).map_err(StoreError::corrupt)?),
            payment_ref: Set(None),
            created_at: Set(now),
            paid_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let items = new
            .items
            .iter()
            .zip(&lines)
            .enumerate()
            .map(|(line, ((id, qty), (p, _)))| order_items::ActiveModel {
                order_no: Set(order_no.to_string()),
                line: Set(line as i32),
                product_id: Set(id.as_uuid()),
                qty: Set(*qty as i32),
                unit_price_cents: Set(cents(p.price)),
            });
        order_items::Entity::insert_many(items).exec(&txn).await?;
        txn.commit().await?;
        to_record(row)
    }

    async fn chain(
        &self,
        txn: &DatabaseTransaction,
        buyer: UserId,
        code: Option<&ReferralCode>,
    ) -> Result<Vec<DistributorId>, StoreError> {
        let own = find_by(txn, distributors::Column::UserId.eq(buyer.as_uuid())).await?;
        let referrer = match code {
            Some(code) => Some(
                find_by(txn, distributors::Column::ReferralCode.eq(code.as_str()))
                    .await?
                    .ok_or(OrderRejected::UnknownReferral)?,
            ),
            None => match referral_bindings::Entity::find_by_id(buyer.as_uuid())
                .one(txn)
                .await?
            {
                Some(binding) => {
                    find_by(txn, distributors::Column::Id.eq(binding.distributor_id)).await?
                }
                None => match own.as_ref().and_then(|d| d.upline_id) {
                    Some(upline) => {
                        find_by(txn, distributors::Column::Id.eq(upline.as_uuid())).await?
                    }
                    None => None,
                },
            },
        };
        match referrer {
            None => Ok(Vec::new()),
            Some(r) => {
                Ok(beneficiaries(r.id, &r.lineage, own.map(|d| d.id))
                    .map_err(OrderRejected::from)?)
            }
        }
    }

    /// The buyer's own order (anyone else's is `NotFound`).
    pub async fn get(&self, order_no: OrderNo, buyer: UserId) -> Result<OrderRecord, StoreError> {
        let row = orders::Entity::find_by_id(order_no.to_string())
            .filter(orders::Column::UserId.eq(buyer.as_uuid()))
            .one(&self.store.db)
            .await?
            .ok_or(StoreError::NotFound)?;
        to_record(row)
    }

    /// Pays the order once: a repeat with the same `payment_ref` returns the paid order
    /// and moves nothing; another reference is refused. Commissions are earned at the
    /// current rules by the order's beneficiaries that are not blocked.
    pub async fn pay(
        &self,
        order_no: OrderNo,
        buyer: UserId,
        payment_ref: &str,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, StoreError> {
        let now = stored_time(now);
        let txn = self.store.begin_write().await?;
        let row = locked(&txn, order_no, Some(buyer)).await?;
        match row.payment_ref.as_deref() {
            Some(paid) if paid == payment_ref => return to_record(row),
            Some(_) => return Err(OrderRejected::PaidWithAnotherRef.into()),
            None => {}
        }
        let mut order = to_record(row.clone())?;
        order.money.pay().map_err(OrderRejected::from)?;
        order.payment_ref = Some(payment_ref.to_owned());
        order.paid_at = Some(now);
        let mut active: orders::ActiveModel = row.into();
        active.status = Set(order.money.status.as_str().to_owned());
        active.payment_ref = Set(Some(payment_ref.to_owned()));
        active.paid_at = Set(Some(now));
        active
            .update(&txn)
            .await
            .map_err(|e| StoreError::unique(e, "payment_ref"))?;
        let rules = commissions::rules_on(&txn).await?;
        let earned = earn(&txn, &order, &rules, now).await?;
        commissions::insert(&txn, order_no, &earned, now).await?;
        let events = commission_events(&txn, order_no, &earned).await?;
        self.store.commit_with_events(txn, &events, now).await?;
        Ok(order)
    }

    /// Refunds `amount` (all that is left when `None`); a repeated `refund_ref` returns
    /// the order as it is and moves nothing. The order's commissions follow its net.
    pub async fn refund(
        &self,
        order_no: OrderNo,
        amount: Option<Money>,
        refund_ref: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, StoreError> {
        let now = stored_time(now);
        let txn = self.store.begin_write().await?;
        let row = locked(&txn, order_no, None).await?;
        if let Some(reference) = refund_ref
            && let Some(done) = order_refunds::Entity::find_by_id(reference.to_owned())
                .one(&txn)
                .await?
        {
            return if done.order_no == row.order_no {
                to_record(row)
            } else {
                Err(OrderRejected::RefundRefReused(reference.to_owned()).into())
            };
        }
        let mut order = to_record(row.clone())?;
        let amount = amount.unwrap_or_else(|| order.money.net());
        order.money.refund(amount).map_err(OrderRejected::from)?;
        let mut active: orders::ActiveModel = row.into();
        active.status = Set(order.money.status.as_str().to_owned());
        active.refunded_cents = Set(cents(order.money.refunded));
        active.update(&txn).await?;
        order_refunds::ActiveModel {
            refund_ref: Set(
                refund_ref.map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned)
            ),
            order_no: Set(order_no.to_string()),
            amount_cents: Set(cents(amount)),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let changed = commissions::follow_refund(&txn, order_no, order.money.net()).await?;
        let events = commission_events(&txn, order_no, &changed).await?;
        self.store.commit_with_events(txn, &events, now).await?;
        Ok(order)
    }
}

/// The commissions `order` earns now, one per level the rules pay, skipping blocked
/// distributors and amounts that round to nothing.
async fn earn(
    txn: &DatabaseTransaction,
    order: &OrderRecord,
    rules: &CommissionRules,
    now: DateTime<Utc>,
) -> Result<Vec<(DistributorId, OrderCommission)>, StoreError> {
    let chain: Vec<_> = order
        .beneficiaries
        .iter()
        .take(rules.levels().len())
        .copied()
        .collect();
    let blocked: Vec<_> = distributors::Entity::find()
        .filter(distributors::Column::Id.is_in(chain.iter().map(DistributorId::as_uuid)))
        .filter(distributors::Column::BlockedAt.is_not_null())
        .all(txn)
        .await?
        .into_iter()
        .map(|d| DistributorId::from_uuid(d.id))
        .collect();
    Ok(chain
        .into_iter()
        .enumerate()
        .filter(|(_, d)| !blocked.contains(d))
        .filter_map(|(i, d)| {
            Some((
                d,
                OrderCommission::earn(rules, i + 1, order.money.total, now)?,
            ))
        })
        .filter(|(_, c)| !c.pending.is_zero())
        .collect())
}

/// The order row, locked for the rest of the transaction on PostgreSQL (SQLite's write
/// transaction already excludes every other writer). `owner` restricts it to a buyer.
async fn locked(
    txn: &DatabaseTransaction,
    order_no: OrderNo,
    owner: Option<UserId>,
) -> Result<orders::Model, StoreError> {
    let mut query = orders::Entity::find_by_id(order_no.to_string()).lock(LockType::Update);
    if let Some(owner) = owner {
        query = query.filter(orders::Column::UserId.eq(owner.as_uuid()));
    }
    query.one(txn).await?.ok_or(StoreError::NotFound)
}

/// The coupon by code, locked so concurrent orders count its uses one at a time.
async fn coupon_with_uses(
    txn: &DatabaseTransaction,
    code: &str,
    buyer: UserId,
) -> Result<(medrt_domain::mall::Coupon, CouponUses), StoreError> {
    let row = coupons::Entity::find_by_id(code.to_owned())
        .lock(LockType::Update)
        .one(txn)
        .await?
        .ok_or_else(|| OrderRejected::UnknownCoupon(code.to_owned()))?;
    let with_code = || orders::Entity::find().filter(orders::Column::CouponCode.eq(code));
    let in_total = with_code().count(txn).await?;
    let by_this_user = with_code()
        .filter(orders::Column::UserId.eq(buyer.as_uuid()))
        .count(txn)
        .await?;
    let uses = CouponUses {
        by_this_user: by_this_user.try_into().unwrap_or(u32::MAX),
        in_total: in_total.try_into().unwrap_or(u32::MAX),
    };
    Ok((to_coupon(row)?, uses))
}

/// Times as the databases keep them (microseconds), so a replayed answer is identical.
fn stored_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

fn cents(m: Money) -> i64 {
    m.cents() as i64
}

fn to_record(m: orders::Model) -> Result<OrderRecord, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(format!("order {}: {e}", m.order_no));
    let status: OrderStatus = m
        .status
        .parse()
        .map_err(|e: medrt_domain::mall::UnknownOrderStatus| corrupt(e.to_string()))?;
    Ok(OrderRecord {
        order_no: m
            .order_no
            .parse()
            .map_err(|e: medrt_domain::ids::BadOrderNo| corrupt(e.to_string()))?,
        buyer: UserId::from_uuid(m.user_id),
        subtotal: money_of(m.subtotal_cents)?,
        discount: money_of(m.discount_cents)?,
        money: OrderMoney {
            total: money_of(m.total_cents)?,
            status,
            refunded: money_of(m.refunded_cents)?,
        },
        coupon_code: m.coupon_code.clone(),
        beneficiaries: serde_json::from_str(&m.beneficiaries)
            .map_err(|e| corrupt(e.to_string()))?,
        payment_ref: m.payment_ref.clone(),
        created_at: m.created_at,
        paid_at: m.paid_at,
    })
}
