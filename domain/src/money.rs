//! Money in yuan with cents, as exact decimals (`rust_decimal`), never negative.
//!
//! One rounding rule for prices: half away from zero to the cent (a 0.005 becomes 0.01).
//! Commissions round down instead (see `commission`), so that their sum can never exceed
//! the share of the sale they come from.

use std::fmt;
use std::ops::Add;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "Decimal", into = "Decimal")]
pub struct Money(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("not an amount of money: {0:?}")]
    Invalid(String),
    #[error("amounts of money cannot be negative")]
    Negative,
    #[error("amounts of money have at most two decimal places")]
    TooPrecise,
    #[error("amount too large")]
    Overflow,
}

/// The largest amount accepted (a hundred billion yuan): keeps every sum exact.
const MAX: Decimal = Decimal::from_parts(1_410_065_408, 2, 0, false, 0); // 1e10

impl Money {
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, 2));

    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let value: Decimal = text
            .trim()
            .parse()
            .map_err(|_| MoneyError::Invalid(text.to_owned()))?;
        Self::try_from(value)
    }

    pub fn from_cents(cents: u64) -> Self {
        Money(Decimal::new(cents as i64, 2))
    }

    pub fn cents(&self) -> u64 {
        (self.0 * Decimal::ONE_HUNDRED)
            .trunc()
            .try_into()
            .unwrap_or(u64::MAX)
    }

    pub fn amount(&self) -> Decimal {
        self.0
    }

    /// `value` rounded half away from zero to the cent (prices, discounts).
    pub fn round(value: Decimal) -> Result<Self, MoneyError> {
        Self::try_from(value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
    }

    /// `value` rounded down to the cent (commissions).
    pub fn floor(value: Decimal) -> Result<Self, MoneyError> {
        Self::try_from(value.round_dp_with_strategy(2, RoundingStrategy::ToZero))
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        (self.0 >= other.0).then(|| Money(self.0 - other.0))
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl TryFrom<Decimal> for Money {
    type Error = MoneyError;
    fn try_from(value: Decimal) -> Result<Self, Self::Error> {
        if value.is_sign_negative() && !value.is_zero() {
            return Err(MoneyError::Negative);
        }
        if value.normalize().scale() > 2 {
            return Err(MoneyError::TooPrecise);
        }
        if value > MAX {
            return Err(MoneyError::Overflow);
        }
        // Always two places, so every amount shows as "12.30".
        let mut cents = value.abs();
        cents.rescale(2);
        Ok(Money(cents))
    }
}

impl From<Money> for Decimal {
    fn from(m: Money) -> Decimal {
        m.0
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, other: Money) -> Money {
        Money(self.0 + other.0)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_always_show_two_places() {
        for (text, shown) in [
            ("30", "30.00"),
            ("0", "0.00"),
            ("1.5", "1.50"),
            ("2.25", "2.25"),
        ] {
            assert_eq!(
                serde_json::to_value(Money::parse(text).unwrap()).unwrap(),
                shown
            );
        }
        assert_eq!(serde_json::to_value(Money::ZERO).unwrap(), "0.00");
    }

    #[test]
    fn parses_cents_and_refuses_what_is_not_money() {
        assert_eq!(Money::parse("12.5").unwrap().to_string(), "12.50");
        assert_eq!(Money::parse(" 0 ").unwrap(), Money::ZERO);
        assert_eq!(Money::parse("-1"), Err(MoneyError::Negative));
        assert_eq!(Money::parse("1.001"), Err(MoneyError::TooPrecise));
        assert!(matches!(Money::parse("abc"), Err(MoneyError::Invalid(_))));
        assert_eq!(Money::parse("10000000000.01"), Err(MoneyError::Overflow));
        assert!(Money::parse("10000000000").is_ok());
    }

    #[test]
    fn rounding_rules_are_half_up_for_prices_and_down_for_commissions() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(Money::round(d("0.005")).unwrap(), Money::from_cents(1));
        assert_eq!(Money::round(d("0.0049")).unwrap(), Money::ZERO);
        assert_eq!(Money::floor(d("0.019")).unwrap(), Money::from_cents(1));
    }

    #[test]
    fn subtraction_never_goes_below_zero() {
        assert_eq!(Money::from_cents(5).checked_sub(Money::from_cents(6)), None);
        assert_eq!(
            Money::from_cents(6).checked_sub(Money::from_cents(5)),
            Some(Money::from_cents(1))
        );
    }

    #[test]
    fn serialises_as_a_decimal_string() {
        let m = Money::parse("3.10").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"3.10\"");
        assert_eq!(serde_json::from_str::<Money>("\"3.1\"").unwrap(), m);
        assert!(serde_json::from_str::<Money>("\"-3\"").is_err());
    }
}
