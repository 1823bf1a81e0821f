//! Multi-level commissions on what an order actually paid (after coupons and refunds).
//!
//! Each upline level earns `floor_to_cent(base × rate)`: rounding down means the sum of
//! all levels never exceeds the configured share of the base. An order's commission at
//! one level is an `OrderCommission`: it follows the order's net amount exactly —
//! a refund before settlement reverses part or all of what is pending, a refund after
//! settlement books a clawback (a negative commission taken from the next payout), and
//! a fraud mark voids what is still open.

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::Money;

pub const MAX_LEVELS: usize = 10;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommissionRules {
    levels: Vec<Decimal>,
    settlement_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("between 1 and {MAX_LEVELS} levels")]
    Levels,
    #[error("each rate is between 0 and 1")]
    Rate,
    #[error("the rates add up to {0}, more than the whole sale")]
    Share(Decimal),
    #[error("settlement_days is at most 365")]
    Settlement,
}

impl CommissionRules {
    pub fn new(levels: Vec<Decimal>, settlement_days: u32) -> Result<Self, RulesError> {
        if levels.is_empty() || levels.len() > MAX_LEVELS {
            return Err(RulesError::Levels);
        }
        if levels
            .iter()
            .any(|r| *r < Decimal::ZERO || *r > Decimal::ONE)
        {
            return Err(RulesError::Rate);
        }
        let share: Decimal = levels.iter().sum();
        if share > Decimal::ONE {
            return Err(RulesError::Share(share));
        }
        if settlement_days > 365 {
            return Err(RulesError::Settlement);
        }
        Ok(Self {
            levels,
            settlement_days,
        })
    }

    pub fn levels(&self) -> &[Decimal] {
        &self.levels
    }

    pub fn settlement_days(&self) -> u32 {
        self.settlement_days
    }

    /// The commission of each level (1 first) on `base`.
    pub fn split(&self, base: Money) -> Vec<Money> {
        (0..self.levels.len())
            .map(|level| self.amount(level, base))
            .collect()
    }

    /// `rate` of `base` for one level (0-based), floored to the cent.
    pub fn amount(&self, level: usize, base: Money) -> Money {
        Money::floor(base.amount() * self.levels[level])
            .expect("a share of a valid amount is valid")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommissionStatus {
    Pending,
    Settled,
    PaidOut,
    Reversed,
    Voided,
}

/// One level's commission on one order, with its history folded into amounts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCommission {
    pub level: usize,
    pub created_at: DateTime<Utc>,
    /// Earned and not yet settled.
    pub pending: Money,
    /// Settled, not yet paid out.
    pub settled: Money,
    pub paid_out: Money,
    /// Pending amounts cancelled by refunds before settlement.
    pub reversed: Money,
    /// Refunds after settlement, owed back by the distributor.
    pub clawed_back: Money,
    pub voided: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommissionError {
    #[error("this commission was voided")]
    Voided,
}

impl OrderCommission {
    /// The commission of `level` on an order that paid `base` at `now`.
    pub fn earn(rules: &CommissionRules, level: usize, base: Money, now: DateTime<Utc>) -> Self {
        Self {
            level,
            created_at: now,
            pending: rules.amount(level, base),
            settled: Money::ZERO,
            paid_out: Money::ZERO,
            reversed: Money::ZERO,
            clawed_back: Money::ZERO,
            voided: Money::ZERO,
        }
    }

    /// What the distributor keeps from this order: earned minus clawbacks.
    pub fn effective(&self) -> Money {
        (self.pending + self.settled + self.paid_out)
            .checked_sub(self.clawed_back)
            .unwrap_or(Money::ZERO)
    }

    pub fn status(&self) -> CommissionStatus {
        if !self.voided.is_zero() {
            CommissionStatus::Voided
        } else if !self.pending.is_zero() {
            CommissionStatus::Pending
        } else if !self.settled.is_zero() {
            CommissionStatus::Settled
        } else if !self.paid_out.is_zero() {
            CommissionStatus::PaidOut
        } else {
            CommissionStatus::Reversed
        }
    }

    /// The order's net paid amount is now `net`: bring the commission down to what
    /// `net` earns, first from what is pending (reversed), then from what was settled or
    /// paid (clawed back).
    pub fn on_refund(
        &mut self,
        rules: &CommissionRules,
        net: Money,
    ) -> Result<(), CommissionError> {
        if !self.voided.is_zero() {
            return Err(CommissionError::Voided);
        }
        let target = rules.amount(self.level, net);
        let Some(mut excess) = self.effective().checked_sub(target) else {
            return Ok(());
        };
        let from_pending = excess.min(self.pending);
        self.pending = self.pending.checked_sub(from_pending).expect("min");
        self.reversed = self.reversed + from_pending;
        excess = excess.checked_sub(from_pending).expect("min");
        self.clawed_back = self.clawed_back + excess;
        Ok(())
    }

    /// Moves what is pending to settled once the settlement window has passed.
    pub fn settle(&mut self, rules: &CommissionRules, now: DateTime<Utc>) -> bool {
        let due = self.created_at + Duration::days(rules.settlement_days() as i64);
        if self.pending.is_zero() || now < due || !self.voided.is_zero() {
            return false;
        }
        self.settled = self.settled + self.pending;
        self.pending = Money::ZERO;
        true
    }

    /// Pays out what is settled, net of clawbacks not yet recovered; returns the amount.
    pub fn pay_out(&mut self) -> Money {
        let amount = self.settled;
        self.paid_out = self.paid_out + amount;
        self.settled = Money::ZERO;
        amount
    }

    /// Fraud: whatever is still open (pending or settled) is voided.
    pub fn void(&mut self) {
        self.voided = self.voided + self.pending + self.settled;
        self.pending = Money::ZERO;
        self.settled = Money::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    fn rules() -> CommissionRules {
        let d = |s: &str| s.parse().unwrap();
        CommissionRules::new(vec![d("0.10"), d("0.05"), d("0.02")], 7).unwrap()
    }

    #[test]
    fn three_levels_earn_ten_five_and_two_percent_to_the_cent_rounded_down() {
        assert_eq!(
            rules().split(m("123.45")),
            [m("12.34"), m("6.17"), m("2.46")]
        );
        assert_eq!(
            rules().split(m("0.09")),
            [Money::ZERO, Money::ZERO, Money::ZERO]
        );
    }

    #[test]
    fn rules_that_give_away_more_than_the_sale_are_refused() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert!(matches!(
            CommissionRules::new(vec![d("0.6"), d("0.5")], 7),
            Err(RulesError::Share(_))
        ));
        assert_eq!(
            CommissionRules::new(vec![d("-0.1")], 7),
            Err(RulesError::Rate)
        );
        assert_eq!(CommissionRules::new(vec![], 7), Err(RulesError::Levels));
    }

    #[test]
    fn a_refund_before_settlement_reverses_and_after_it_claws_back() {
        let now = Utc::now();
        let mut c = OrderCommission::earn(&rules(), 0, m("100"), now);
        c.on_refund(&rules(), m("40")).unwrap(); // keeps 10 % of 40
        assert_eq!((c.pending, c.reversed), (m("4"), m("6")));
        assert!(!c.settle(&rules(), now + Duration::days(6)));
        assert!(c.settle(&rules(), now + Duration::days(7)));
        assert_eq!(c.status(), CommissionStatus::Settled);
        c.on_refund(&rules(), Money::ZERO).unwrap();
        assert_eq!(
            (c.settled, c.clawed_back, c.effective()),
            (m("4"), m("4"), Money::ZERO)
        );
    }

    #[test]
    fn fraud_voids_what_is_open_and_blocks_changes() {
        let mut c = OrderCommission::earn(&rules(), 1, m("100"), Utc::now());
        c.void();
        assert_eq!((c.status(), c.voided), (CommissionStatus::Voided, m("5")));
        assert_eq!(
            c.on_refund(&rules(), Money::ZERO),
            Err(CommissionError::Voided)
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Refund(u64),
        Settle(i64),
        PayOut,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1u64..5_000).prop_map(Op::Refund),
            (0i64..10).prop_map(Op::Settle),
            Just(Op::PayOut)
        ]
    }

    proptest! {
        /// Whatever happens, every level reconciles with the order: what it keeps equals
        /// the rate of what the order still has, and what it earned at payment equals
        /// kept + reversed + clawed back.
        #[test]
        fn commissions_reconcile_with_orders_paid_and_refunded(
            paid in 1u64..1_000_000, ops in proptest::collection::vec(op(), 0..20),
        ) {
            let rules = rules();
            let start = Utc::now();
            let mut net = Money::from_cents(paid);
            let mut levels: Vec<OrderCommission> =
                (0..3).map(|l| OrderCommission::earn(&rules, l, net, start)).collect();
            let earned: Vec<Money> = levels.iter().map(|c| c.pending).collect();
            for op in ops {
                match op {
                    Op::Refund(cents) => {
                        let Some(left) = net.checked_sub(Money::from_cents(cents)) else { continue };
                        net = left;
                        for c in &mut levels { c.on_refund(&rules, net).unwrap(); }
                    }
                    Op::Settle(days) => for c in &mut levels { c.settle(&rules, start + Duration::days(days)); },
                    Op::PayOut => for c in &mut levels { c.pay_out(); },
                }
                for (c, earned) in levels.iter().zip(&earned) {
                    prop_assert_eq!(c.effective(), rules.amount(c.level, net));
                    prop_assert_eq!(c.effective() + c.reversed + c.clawed_back, *earned);
                }
            }
            let total: Money = levels.iter().map(OrderCommission::effective).sum();
            prop_assert!(total.amount() <= net.amount() * rules.levels().iter().sum::<Decimal>());
        }
    }
}
