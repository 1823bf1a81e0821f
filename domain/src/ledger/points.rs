//! Point kinds and amounts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Points come in two kinds that never mix: each kind's books balance on their own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PointKind {
    High,
    Low,
}

impl PointKind {
    pub const ALL: [PointKind; 2] = [PointKind::High, PointKind::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            PointKind::High => "high",
            PointKind::Low => "low",
        }
    }
}

impl fmt::Display for PointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown point kind `{0}`: expected high or low")]
pub struct UnknownKind(pub String);

impl FromStr for PointKind {
    type Err = UnknownKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "high" => Ok(PointKind::High),
            "low" => Ok(PointKind::Low),
            other => Err(UnknownKind(other.to_owned())),
        }
    }
}

/// A positive number of points moved by one transfer. Zero and negative amounts do not
/// exist; the cap keeps every sum of amounts far inside `i64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Amount(u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount must be a whole number of points from 1 to {max}", max = Amount::MAX)]
pub struct BadAmount;

impl Amount {
    /// One trillion points: more than any real balance, small enough never to overflow.
    pub const MAX: u64 = 1_000_000_000_000;

    pub fn new(raw: i64) -> Result<Self, BadAmount> {
        match u64::try_from(raw) {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(BadAmount),
        }
    }

    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = i64::deserialize(d)?;
        Amount::new(raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_positive_and_bounded() {
        assert_eq!(Amount::new(1).unwrap().get(), 1);
        assert!(Amount::new(0).is_err());
        assert!(Amount::new(-5).is_err());
        assert!(Amount::new(Amount::MAX as i64 + 1).is_err());
        assert!(serde_json::from_str::<Amount>("-1").is_err());
        assert_eq!(serde_json::from_str::<Amount>("10").unwrap().get(), 10);
    }

    #[test]
    fn kinds_round_trip() {
        for k in PointKind::ALL {
            assert_eq!(k.as_str().parse::<PointKind>(), Ok(k));
        }
        assert!("medium".parse::<PointKind>().is_err());
    }
}
