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

    /// 10 %, 5 % and 2 % for three levels, settled after 7 days.
    pub fn standard() -> Self {
        Self::new(
            vec![Decimal::new(10, 2), Decimal::new(5, 2), Decimal::new(2, 2)],
            7,
        )
        .expect("valid rules")
    }

    pub fn levels(&self) -> &[Decimal] {
        &self.levels
    }

    pub fn settlement_days(&self) -> u32 {
        self.settlement_days
    }

    /// The rate of `level` (1 is the nearest upline), if the rules go that deep.
    pub fn rate(&self, level: usize) -> Option<Decimal> {
        level
            .checked_sub(1)
            .and_then(|i| self.levels.get(i))
            .copied()
    }
}

/// `rate` of `base`, floored to the cent.
pub fn share(rate: Decimal, base: Money) -> Money {
    Money::floor(base.amount() * rate).expect("a share (rate ≤ 1) of a valid amount is valid")
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

impl CommissionStatus {
    pub const ALL: [CommissionStatus; 5] = [
        CommissionStatus::Pending,
        CommissionStatus::Settled,
        CommissionStatus::PaidOut,
        CommissionStatus::Reversed,
        CommissionStatus::Voided,
    ];

    /// The status's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            CommissionStatus::Pending => "pending",
            CommissionStatus::Settled => "settled",
            CommissionStatus::PaidOut => "paid_out",
            CommissionStatus::Reversed => "reversed",
            CommissionStatus::Voided => "voided",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown commission status {0:?}: pending, settled, paid_out, reversed or voided")]
pub struct UnknownStatus(pub String);

impl std::str::FromStr for CommissionStatus {
    type Err = UnknownStatus;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownStatus(s.to_owned()))
    }
}

/// One level's commission on one order, with its history folded into amounts. The rate
/// and the settlement date are fixed when the order is paid: later rule changes do not
/// move money already earned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCommission {
    /// 1 for the nearest upline.
    pub level: usize,
    pub rate: Decimal,
    /// What the order still has paid: the base the commission follows.
    pub base: Money,
    pub due_at: DateTime<Utc>,
    /// Earned and not yet settled.
    pub pending: Money,
    /// Settled, not yet paid out.
    pub settled: Money,
    pub paid_out: Money,
    /// Pending amounts cancelled by refunds before settlement.
    pub reversed: Money,
    /// Refunds after settlement, owed back by the distributor (deducted from a payout).
    pub clawed_back: Money,
    pub voided: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommissionError {
    #[error("this commission was voided")]
    Voided,
}

impl OrderCommission {
    /// The commission of `level` (1-based) on an order that paid `base` at `now`, or
    /// `None` when the rules stop above that level.
    pub fn earn(
        rules: &CommissionRules,
        level: usize,
        base: Money,
        now: DateTime<Utc>,
    ) -> Option<Self> {
        let rate = rules.rate(level)?;
        Some(Self {
            level,
            rate,
            base,
            due_at: now + Duration::days(rules.settlement_days() as i64),
            pending: share(rate, base),
            settled: Money::ZERO,
            paid_out: Money::ZERO,
            reversed: Money::ZERO,
            clawed_back: Money::ZERO,
            voided: Money::ZERO,
        })
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
    pub fn on_refund(&mut self, net: Money) -> Result<(), CommissionError> {
        if !self.voided.is_zero() {
            return Err(CommissionError::Voided);
        }
        self.base = net;
        let Some(mut excess) = self.effective().checked_sub(share(self.rate, net)) else {
            return Ok(());
        };
        let from_pending = excess.min(self.pending);
        self.pending = self.pending.checked_sub(from_pending).expect("min");
        self.reversed = self.reversed + from_pending;
        excess = excess.checked_sub(from_pending).expect("min");
        self.clawed_back = self.clawed_back + excess;
        Ok(())
    }

    /// Moves what is pending to settled once the settlement date has come.
    pub fn settle(&mut self, now: DateTime<Utc>) -> bool {
        if self.pending.is_zero() || now < self.due_at || !self.voided.is_zero() {
            return false;
        }
        self.settled = self.settled + self.pending;
        self.pending = Money::ZERO;
        true
    }

    /// Pays out what is settled; returns the amount.
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

/// A distributor's commissions summed by where the money is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommissionTotals {
    pub pending: Money,
    pub settled: Money,
    pub reversed: Money,
    pub paid_out: Money,
    pub clawed_back: Money,
    pub voided: Money,
}

impl CommissionTotals {
    pub fn add(&mut self, c: &OrderCommission) {
        self.pending = self.pending + c.pending;
        self.settled = self.settled + c.settled;
        self.reversed = self.reversed + c.reversed;
        self.paid_out = self.paid_out + c.paid_out;
        self.clawed_back = self.clawed_back + c.clawed_back;
        self.voided = self.voided + c.voided;
    }
}

/// One payout of a distributor's settled commissions. Clawbacks not yet recovered are
/// deducted first; what they exceed waits for the next payout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Payout {
    /// Settled commissions paid out.
    pub gross: Money,
    /// Outstanding clawbacks recovered from them.
    pub clawback: Money,
    /// What the distributor receives.
    pub net: Money,
}

impl Payout {
    /// Pays out `settled` against `outstanding` clawbacks; `None` when nothing is settled.
    pub fn of(settled: Money, outstanding: Money) -> Option<Self> {
        if settled.is_zero() {
            return None;
        }
        let clawback = settled.min(outstanding);
        Some(Self {
            gross: settled,
            clawback,
            net: settled.checked_sub(clawback).expect("min"),
        })
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
        let split = |base: &str| -> Vec<Money> {
            (1..=3)
                .map(|level| share(rules().rate(level).unwrap(), m(base)))
                .collect()
        };
        assert_eq!(split("123.45"), [m("12.34"), m("6.17"), m("2.46")]);
        assert_eq!(split("0.09"), [Money::ZERO, Money::ZERO, Money::ZERO]);
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

    fn earn(level: usize, base: &str, now: DateTime<Utc>) -> OrderCommission {
        OrderCommission::earn(&rules(), level, m(base), now).unwrap()
    }

    #[test]
    fn levels_beyond_the_rules_earn_nothing() {
        assert!(OrderCommission::earn(&rules(), 4, m("100"), Utc::now()).is_none());
        assert!(OrderCommission::earn(&rules(), 0, m("100"), Utc::now()).is_none());
        assert_eq!(earn(3, "100", Utc::now()).pending, m("2"));
    }

    #[test]
    fn statuses_parse_back_from_their_names() {
        for s in CommissionStatus::ALL {
            assert_eq!(s.as_str().parse::<CommissionStatus>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("paid".parse::<CommissionStatus>().is_err());
    }

    #[test]
    fn a_refund_before_settlement_reverses_and_after_it_claws_back() {
        let now = Utc::now();
        let mut c = earn(1, "100", now);
        c.on_refund(m("40")).unwrap(); // keeps 10 % of 40
        assert_eq!((c.pending, c.reversed, c.base), (m("4"), m("6"), m("40")));
        assert!(!c.settle(now + Duration::days(6)));
        assert!(c.settle(now + Duration::days(7)));
        assert_eq!(c.status(), CommissionStatus::Settled);
        c.on_refund(Money::ZERO).unwrap();
        assert_eq!(
            (c.settled, c.clawed_back, c.effective()),
            (m("4"), m("4"), Money::ZERO)
        );
    }

    #[test]
    fn the_rate_is_fixed_when_the_order_is_paid() {
        let mut c = earn(1, "100", Utc::now());
        // The rules changing later does not matter: the commission carries its rate.
        c.on_refund(m("50")).unwrap();
        assert_eq!(c.effective(), m("5"));
    }

    #[test]
    fn fraud_voids_what_is_open_and_blocks_changes() {
        let mut c = earn(2, "100", Utc::now());
        c.void();
        assert_eq!((c.status(), c.voided), (CommissionStatus::Voided, m("5")));
        assert_eq!(c.on_refund(Money::ZERO), Err(CommissionError::Voided));
    }

    #[test]
    fn totals_sum_each_bucket() {
        let now = Utc::now();
        let mut a = earn(1, "100", now);
        a.on_refund(m("50")).unwrap();
        let mut b = earn(1, "30", now - Duration::days(8));
        b.settle(now);
        let mut t = CommissionTotals::default();
        t.add(&a);
        t.add(&b);
        assert_eq!((t.pending, t.reversed, t.settled), (m("5"), m("5"), m("3")));
    }

    #[test]
    fn a_payout_recovers_clawbacks_first_and_carries_the_rest_over() {
        assert_eq!(Payout::of(Money::ZERO, m("5")), None);
        let p = Payout::of(m("15"), m("20")).unwrap();
        assert_eq!(
            (p.gross, p.clawback, p.net),
            (m("15"), m("15"), Money::ZERO)
        );
        let p = Payout::of(m("30"), m("5")).unwrap();
        assert_eq!((p.gross, p.clawback, p.net), (m("30"), m("5"), m("25")));
    }

    proptest! {
        #[test]
        fn payouts_add_up(settled in 0u64..1_000_000, outstanding in 0u64..1_000_000) {
            let (settled, outstanding) = (Money::from_cents(settled), Money::from_cents(outstanding));
            if let Some(p) = Payout::of(settled, outstanding) {
                prop_assert_eq!(p.net + p.clawback, settled);
                prop_assert!(p.clawback <= outstanding);
                prop_assert!(p.net.is_zero() || p.clawback == outstanding);
            } else {
                prop_assert!(settled.is_zero());
            }
        }
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
            let mut levels: Vec<OrderCommission> = (1..=3)
                .map(|l| OrderCommission::earn(&rules, l, net, start).unwrap())
                .collect();
            let earned: Vec<Money> = levels.iter().map(|c| c.pending).collect();
            for op in ops {
                match op {
                    Op::Refund(cents) => {
                        let Some(left) = net.checked_sub(Money::from_cents(cents)) else { continue };
                        net = left;
                        for c in &mut levels { c.on_refund(net).unwrap(); }
                    }
                    Op::Settle(days) => for c in &mut levels { c.settle(start + Duration::days(days)); },
                    Op::PayOut => for c in &mut levels { c.pay_out(); },
                }
                for (c, earned) in levels.iter().zip(&earned) {
                    prop_assert_eq!(c.effective(), share(c.rate, net));
                    prop_assert_eq!(c.effective() + c.reversed + c.clawed_back, *earned);
                }
            }
            let total: Money = levels.iter().map(OrderCommission::effective).sum();
            prop_assert!(total.amount() <= net.amount() * rules.levels().iter().sum::<Decimal>());
            let mut totals = CommissionTotals::default();
            for c in &levels { totals.add(c); }
            let earned: Money = earned.into_iter().sum();
            prop_assert_eq!(
                totals.pending + totals.settled + totals.paid_out + totals.reversed,
                earned,
            );
        }
    }
}
