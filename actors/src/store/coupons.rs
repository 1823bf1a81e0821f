//! The mall's coupons, stored exactly (cents, hundredths of a percent).

use chrono::Utc;
use medrt_domain::mall::{Coupon, CouponKind};
use medrt_domain::money::Money;
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};

use super::commissions::money_of;
use super::entities::coupons;
use super::{Store, StoreError};

pub struct Coupons<'a> {
    store: &'a Store,
}

fn cents(m: Money) -> i64 {
    m.cents() as i64
}

impl<'a> Coupons<'a> {
    pub(super) fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Stores a coupon whose settings were checked (`Coupon::check`); codes are unique.
    pub async fn add(&self, coupon: &Coupon) -> Result<(), StoreError> {
        let (value, percent, threshold) = match &coupon.kind {
            CouponKind::Fixed { value } => (cents(*value), 0, 0),
            CouponKind::Percent { value } => {
                let bp = (value * Decimal::ONE_HUNDRED).trunc();
                (0, i32::try_from(bp).map_err(StoreError::corrupt)?, 0)
            }
            CouponKind::Threshold { threshold, value } => (cents(*value), 0, cents(*threshold)),
        };
        coupons::ActiveModel {
            code: Set(coupon.code.clone()),
            kind: Set(coupon.kind.name().to_owned()),
            value_cents: Set(value),
            percent_basis_points: Set(percent),
            threshold_cents: Set(threshold),
            valid_from: Set(coupon.valid_from),
            valid_until: Set(coupon.valid_until),
            per_user_limit: Set(coupon.per_user_limit.map(|l| l as i32)),
            total_limit: Set(coupon.total_limit.map(|l| l as i32)),
            created_at: Set(Utc::now()),
        }
        .insert(&self.store.db)
        .await
        .map_err(|e| StoreError::unique(e, "coupon"))?;
        Ok(())
    }
}

/// A stored coupon back as the domain's.
pub(super) fn to_coupon(m: coupons::Model) -> Result<Coupon, StoreError> {
    let kind = match m.kind.as_str() {
        "fixed" => CouponKind::Fixed {
            value: money_of(m.value_cents)?,
        },
        "percent" => CouponKind::Percent {
            value: Decimal::new(m.percent_basis_points.into(), 2),
        },
        "threshold" => CouponKind::Threshold {
            threshold: money_of(m.threshold_cents)?,
            value: money_of(m.value_cents)?,
        },
        other => {
            return Err(StoreError::corrupt(format!(
                "coupon {}: kind {other}",
                m.code
            )));
        }
    };
    let limit = |l: Option<i32>| l.map(|l| l.max(0) as u32);
    Ok(Coupon {
        code: m.code,
        kind,
        valid_from: m.valid_from,
        valid_until: m.valid_until,
        per_user_limit: limit(m.per_user_limit),
        total_limit: limit(m.total_limit),
    })
}
