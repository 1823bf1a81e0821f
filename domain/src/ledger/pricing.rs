//! How AI tasks are paid for: the payment mode and a price per task type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::points::{Amount, PointKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentMode {
    /// Charged when the task is created, refunded if it fails or is cancelled.
    Prepaid,
    /// Charged when the task completes, paid afterwards.
    Postpaid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Price {
    pub kind: PointKind,
    pub amount: Amount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerConfig {
    pub payment_mode: PaymentMode,
    pub prices: BTreeMap<String, Price>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task type `{0}` must be 1 to 64 lower-case letters, digits or '_'")]
pub struct BadTaskType(pub String);

impl LedgerConfig {
    pub const TASK_TYPES_MAX: usize = 256;

    /// Checks the task-type names; amounts and kinds are already parsed.
    pub fn validate(&self) -> Result<(), BadTaskType> {
        for name in self.prices.keys() {
            let ok = (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(BadTaskType(name.clone()));
            }
        }
        Ok(())
    }

    pub fn price(&self, task_type: &str) -> Option<Price> {
        self.prices.get(task_type).copied()
    }
}

impl Default for LedgerConfig {
    /// Prepaid, with the default imaging task at 10 high points.
    fn default() -> Self {
        let price = Price {
            kind: PointKind::High,
            amount: Amount::new(10).expect("positive"),
        };
        Self {
            payment_mode: PaymentMode::Prepaid,
            prices: BTreeMap::from([("ct_bone_skin".to_owned(), price)]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_parses_from_the_contract_shape() {
        let json =
            r#"{"payment_mode":"postpaid","prices":{"ct_bone_skin":{"kind":"high","amount":10}}}"#;
        let config: LedgerConfig = serde_json::from_str(json).unwrap();
        assert_eq!(config.payment_mode, PaymentMode::Postpaid);
        assert_eq!(config.price("ct_bone_skin").unwrap().amount.get(), 10);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn bad_configs_are_rejected() {
        assert!(
            serde_json::from_str::<LedgerConfig>(r#"{"payment_mode":"free","prices":{}}"#).is_err()
        );
        assert!(
            serde_json::from_str::<LedgerConfig>(
                r#"{"payment_mode":"prepaid","prices":{"x":{"kind":"high","amount":0}}}"#
            )
            .is_err()
        );
        let config: LedgerConfig = serde_json::from_str(
            r#"{"payment_mode":"prepaid","prices":{"Bad Name":{"kind":"low","amount":1}}}"#,
        )
        .unwrap();
        assert!(config.validate().is_err());
    }
}
