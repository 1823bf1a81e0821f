//! The pharmacy mall's rules: products, coupons and what an order costs. Pricing is a
//! pure function: the discount never exceeds the subtotal and no total is negative.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum ProductCategory {
    Medicine,
    MedicalDevice,
    GeneticTest,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown product category {0:?}: medicine, medical_device, genetic_test or other")]
pub struct UnknownCategory(pub String);

impl ProductCategory {
    pub const ALL: [ProductCategory; 4] = [
        ProductCategory::Medicine,
        ProductCategory::MedicalDevice,
        ProductCategory::GeneticTest,
        ProductCategory::Other,
    ];

    /// The category's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ProductCategory::Medicine => "medicine",
            ProductCategory::MedicalDevice => "medical_device",
            ProductCategory::GeneticTest => "genetic_test",
            ProductCategory::Other => "other",
        }
    }
}

impl std::str::FromStr for ProductCategory {
    type Err = UnknownCategory;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownCategory(s.to_owned()))
    }
}

impl TryFrom<String> for ProductCategory {
    type Error = UnknownCategory;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ProductCategory> for &'static str {
    fn from(c: ProductCategory) -> Self {
        c.as_str()
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub name: String,
    pub price: Money,
    pub category: ProductCategory,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error("a product name is 1 to {PRODUCT_NAME_MAX} characters")]
    Name,
}

pub const PRODUCT_NAME_MAX: usize = 200;

impl Product {
    /// A product as an admin describes it; the name is trimmed.
    pub fn new(
        name: &str,
        price: Money,
        category: ProductCategory,
        active: bool,
    ) -> Result<Self, ProductError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > PRODUCT_NAME_MAX {
            return Err(ProductError::Name);
        }
        Ok(Self {
            name: name.to_owned(),
            price,
            category,
            active,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CouponKind {
    /// Take this much off.
    Fixed { value: Money },
    /// Take this percentage off (0 < p ≤ 100), rounded to the cent.
    Percent { value: Decimal },
    /// 满X减Y: spend at least `threshold`, take `value` off.
    Threshold { threshold: Money, value: Money },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Coupon {
    pub code: String,
    pub kind: CouponKind,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    /// Uses allowed per user, and in total (None: unlimited).
    pub per_user_limit: Option<u32>,
    pub total_limit: Option<u32>,
}

/// How often a coupon has been used so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CouponUses {
    pub by_this_user: u32,
    pub in_total: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("an order needs at least one item")]
    Empty,
    #[error("quantities must be between 1 and {max}")]
    Quantity { max: u32 },
    #[error("product {0:?} is not on sale")]
    Inactive(String),
    #[error("coupon {0} is not valid yet")]
    NotYetValid(String),
    #[error("coupon {0} has expired")]
    Expired(String),
    #[error("coupon {0} has been used up")]
    Exhausted(String),
    #[error("coupon {code} needs a subtotal of at least {threshold}")]
    BelowThreshold { code: String, threshold: Money },
    #[error("invalid coupon: {0}")]
    InvalidCoupon(String),
    #[error("{0}")]
    Money(#[from] MoneyError),
}

pub const MAX_QUANTITY: u32 = 999;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub subtotal: Money,
    pub discount: Money,
    pub total: Money,
}

impl CouponKind {
    /// The kind's name, as in the API's `kind` field (serde's tag).
    pub fn name(&self) -> &'static str {
        match self {
            CouponKind::Fixed { .. } => "fixed",
            CouponKind::Percent { .. } => "percent",
            CouponKind::Threshold { .. } => "threshold",
        }
    }
}

impl Coupon {
    /// Checks the coupon's own settings (created by an admin).
    pub fn check(&self) -> Result<(), PricingError> {
        let bad = |why: &str| Err(PricingError::InvalidCoupon(format!("{}: {why}", self.code)));
        let code_ok = (3..=32).contains(&self.code.len())
            && self
                .code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if !code_ok {
            return bad("a code is 3 to 32 capital letters, digits or dashes");
        }
        if self.valid_until <= self.valid_from {
            return bad("valid_until must be after valid_from");
        }
        match &self.kind {
            CouponKind::Percent { value }
                if *value <= Decimal::ZERO
                    || *value > Decimal::ONE_HUNDRED
                    || value.normalize().scale() > 2 =>
            {
                bad("a percentage is above 0, at most 100, with at most two decimals")
            }
            CouponKind::Fixed { value } | CouponKind::Threshold { value, .. }
                if value.is_zero() =>
            {
                bad("the amount off must be above 0")
            }
            _ => Ok(()),
        }
    }

    fn usable(&self, uses: CouponUses, now: DateTime<Utc>) -> Result<(), PricingError> {
        if now < self.valid_from {
            return Err(PricingError::NotYetValid(self.code.clone()));
        }
        if now >= self.valid_until {
            return Err(PricingError::Expired(self.code.clone()));
        }
        let over = |limit: Option<u32>, used: u32| limit.is_some_and(|l| used >= l);
        if over(self.per_user_limit, uses.by_this_user) || over(self.total_limit, uses.in_total) {
            return Err(PricingError::Exhausted(self.code.clone()));
        }
        Ok(())
    }

    fn discount(&self, subtotal: Money) -> Result<Money, PricingError> {
        let off = match &self.kind {
            CouponKind::Fixed { value } => *value,
            CouponKind::Percent { value } => {
                Money::round(subtotal.amount() * *value / Decimal::ONE_HUNDRED)?
            }
            CouponKind::Threshold { threshold, value } => {
                if subtotal < *threshold {
                    return Err(PricingError::BelowThreshold {
                        code: self.code.clone(),
                        threshold: *threshold,
                    });
                }
                *value
            }
        };
        Ok(off.min(subtotal))
    }
}

/// What `items` (product, quantity) cost with at most one coupon. One coupon per order:
/// stacking is not representable.
pub fn quote(
    items: &[(&Product, u32)],
    coupon: Option<(&Coupon, CouponUses)>,
    now: DateTime<Utc>,
) -> Result<Quote, PricingError> {
    if items.is_empty() {
        return Err(PricingError::Empty);
    }
    let mut subtotal = Money::ZERO;
    for (product, qty) in items {
        if !(1..=MAX_QUANTITY).contains(qty) {
            return Err(PricingError::Quantity { max: MAX_QUANTITY });
        }
        if !product.active {
            return Err(PricingError::Inactive(product.name.clone()));
        }
        subtotal =
            Money::try_from(subtotal.amount() + product.price.amount() * Decimal::from(*qty))?;
    }
    let discount = match coupon {
        None => Money::ZERO,
        Some((coupon, uses)) => {
            coupon.usable(uses, now)?;
            coupon.discount(subtotal)?
        }
    };
    let total = subtotal
        .checked_sub(discount)
        .expect("the discount is capped at the subtotal");
    Ok(Quote {
        subtotal,
        discount,
        total,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Created,
    Paid,
    PartiallyRefunded,
    Refunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 4] = [
        OrderStatus::Created,
        OrderStatus::Paid,
        OrderStatus::PartiallyRefunded,
        OrderStatus::Refunded,
    ];

    /// The status's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Created => "created",
            OrderStatus::Paid => "paid",
            OrderStatus::PartiallyRefunded => "partially_refunded",
            OrderStatus::Refunded => "refunded",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown order status {0:?}")]
pub struct UnknownOrderStatus(pub String);

impl std::str::FromStr for OrderStatus {
    type Err = UnknownOrderStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownOrderStatus(s.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("the order is not paid")]
    NotPaid,
    #[error("the order is already paid")]
    AlreadyPaid,
    #[error("a refund of {asked} exceeds the {left} left to refund")]
    RefundTooLarge { asked: Money, left: Money },
    #[error("a refund must be above zero")]
    ZeroRefund,
}

/// An order's money as it moves: paid once, refunded in parts up to what was paid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderMoney {
    pub total: Money,
    pub status: OrderStatus,
    pub refunded: Money,
}

impl OrderMoney {
    pub fn new(total: Money) -> Self {
        Self {
            total,
            status: OrderStatus::Created,
            refunded: Money::ZERO,
        }
    }

    pub fn pay(&mut self) -> Result<(), OrderError> {
        if self.status != OrderStatus::Created {
            return Err(OrderError::AlreadyPaid);
        }
        self.status = OrderStatus::Paid;
        Ok(())
    }

    /// What is still paid (the commission base after refunds).
    pub fn net(&self) -> Money {
        self.total.checked_sub(self.refunded).unwrap_or(Money::ZERO)
    }

    pub fn refund(&mut self, amount: Money) -> Result<(), OrderError> {
        if !matches!(
            self.status,
            OrderStatus::Paid | OrderStatus::PartiallyRefunded
        ) {
            return Err(OrderError::NotPaid);
        }
        if amount.is_zero() {
            return Err(OrderError::ZeroRefund);
        }
        let left = self.net();
        if amount > left {
            return Err(OrderError::RefundTooLarge {
                asked: amount,
                left,
            });
        }
        self.refunded = self.refunded + amount;
        self.status = if self.net().is_zero() {
            OrderStatus::Refunded
        } else {
            OrderStatus::PartiallyRefunded
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn product(price: &str) -> Product {
        Product {
            name: "aspirin".into(),
            price: m(price),
            category: ProductCategory::Medicine,
            active: true,
        }
    }

    fn coupon(kind: CouponKind) -> Coupon {
        let now = Utc::now();
        Coupon {
            code: "SAVE".into(),
            kind,
            valid_from: now - Duration::days(1),
            valid_until: now + Duration::days(1),
            per_user_limit: Some(1),
            total_limit: Some(100),
        }
    }

    #[test]
    fn order_statuses_parse_back_from_their_names() {
        for s in OrderStatus::ALL {
            assert_eq!(s.as_str().parse::<OrderStatus>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn every_coupon_kind_takes_the_right_amount_off() {
        let p = product("19.99");
        let items = [(&p, 3)];
        let now = Utc::now();
        let q = quote(&items, None, now).unwrap();
        assert_eq!(
            (q.subtotal, q.discount, q.total),
            (m("59.97"), Money::ZERO, m("59.97"))
        );
        let fixed = coupon(CouponKind::Fixed { value: m("5") });
        assert_eq!(
            quote(&items, Some((&fixed, CouponUses::default())), now)
                .unwrap()
                .total,
            m("54.97")
        );
        // 15 % of 59.97 = 8.9955 → 9.00 (half away from zero).
        let percent = coupon(CouponKind::Percent {
            value: "15".parse().unwrap(),
        });
        assert_eq!(
            quote(&items, Some((&percent, CouponUses::default())), now)
                .unwrap()
                .discount,
            m("9.00")
        );
        let threshold = coupon(CouponKind::Threshold {
            threshold: m("50"),
            value: m("10"),
        });
        assert_eq!(
            quote(&items, Some((&threshold, CouponUses::default())), now)
                .unwrap()
                .total,
            m("49.97")
        );
    }

    #[test]
    fn coupons_outside_their_window_limits_or_threshold_are_refused() {
        let p = product("10");
        let items = [(&p, 1)];
        let now = Utc::now();
        let threshold = coupon(CouponKind::Threshold {
            threshold: m("50"),
            value: m("10"),
        });
        assert!(matches!(
            quote(&items, Some((&threshold, CouponUses::default())), now),
            Err(PricingError::BelowThreshold { .. })
        ));
        let fixed = coupon(CouponKind::Fixed { value: m("1") });
        let later = now + Duration::days(2);
        assert!(matches!(
            quote(&items, Some((&fixed, CouponUses::default())), later),
            Err(PricingError::Expired(_))
        ));
        let early = now - Duration::days(2);
        assert!(matches!(
            quote(&items, Some((&fixed, CouponUses::default())), early),
            Err(PricingError::NotYetValid(_))
        ));
        let used = CouponUses {
            by_this_user: 1,
            in_total: 1,
        };
        assert!(matches!(
            quote(&items, Some((&fixed, used)), now),
            Err(PricingError::Exhausted(_))
        ));
        let all_gone = CouponUses {
            by_this_user: 0,
            in_total: 100,
        };
        assert!(matches!(
            quote(&items, Some((&fixed, all_gone)), now),
            Err(PricingError::Exhausted(_))
        ));
    }

    #[test]
    fn a_discount_larger_than_the_order_makes_it_free_not_negative() {
        let p = product("3");
        let big = coupon(CouponKind::Fixed { value: m("100") });
        let q = quote(&[(&p, 1)], Some((&big, CouponUses::default())), Utc::now()).unwrap();
        assert_eq!((q.discount, q.total), (m("3"), Money::ZERO));
    }

    #[test]
    fn bad_orders_and_coupons_are_refused() {
        let mut p = product("3");
        assert_eq!(quote(&[], None, Utc::now()), Err(PricingError::Empty));
        assert!(matches!(
            quote(&[(&p, 0)], None, Utc::now()),
            Err(PricingError::Quantity { .. })
        ));
        p.active = false;
        assert!(matches!(
            quote(&[(&p, 1)], None, Utc::now()),
            Err(PricingError::Inactive(_))
        ));
        assert!(
            coupon(CouponKind::Percent {
                value: "120".parse().unwrap()
            })
            .check()
            .is_err()
        );
        assert!(
            coupon(CouponKind::Fixed { value: Money::ZERO })
                .check()
                .is_err()
        );
        let percent = |v: &str| {
            coupon(CouponKind::Percent {
                value: v.parse().unwrap(),
            })
        };
        assert!(percent("12.345").check().is_err());
        assert!(percent("12.5").check().is_ok());
        let mut lower = coupon(CouponKind::Fixed { value: m("1") });
        lower.code = "save10".into();
        assert!(lower.check().is_err());
    }

    #[test]
    fn product_names_are_trimmed_and_bounded() {
        let make = |n: &str| Product::new(n, m("1"), ProductCategory::GeneticTest, true);
        assert_eq!(make("  BRCA panel ").unwrap().name, "BRCA panel");
        assert_eq!(make("   "), Err(ProductError::Name));
        assert_eq!(make(&"x".repeat(201)), Err(ProductError::Name));
    }

    #[test]
    fn refunds_never_exceed_what_was_paid() {
        let mut order = OrderMoney::new(m("100"));
        assert_eq!(order.refund(m("1")), Err(OrderError::NotPaid));
        order.pay().unwrap();
        assert_eq!(order.pay(), Err(OrderError::AlreadyPaid));
        order.refund(m("40")).unwrap();
        assert_eq!(order.status, OrderStatus::PartiallyRefunded);
        assert!(matches!(
            order.refund(m("60.01")),
            Err(OrderError::RefundTooLarge { .. })
        ));
        order.refund(m("60")).unwrap();
        assert_eq!(
            (order.status, order.net()),
            (OrderStatus::Refunded, Money::ZERO)
        );
    }

    proptest! {
        #[test]
        fn totals_are_never_negative_and_discounts_never_exceed_subtotals(
            price in 0u64..1_000_000, qty in 1u32..50, off in 1u64..2_000_000, pct in 1u32..=100, kind in 0u8..3,
        ) {
            let p = product(&Money::from_cents(price).to_string());
            let kind = match kind {
                0 => CouponKind::Fixed { value: Money::from_cents(off) },
                1 => CouponKind::Percent { value: Decimal::from(pct) },
                _ => CouponKind::Threshold { threshold: Money::from_cents(off / 2), value: Money::from_cents(off) },
            };
            let c = coupon(kind);
            if let Ok(q) = quote(&[(&p, qty)], Some((&c, CouponUses::default())), Utc::now()) {
                prop_assert!(q.discount <= q.subtotal);
                prop_assert_eq!(q.subtotal.checked_sub(q.discount), Some(q.total));
                prop_assert_eq!(q.subtotal, Money::from_cents(price * qty as u64));
            }
        }
    }
}
