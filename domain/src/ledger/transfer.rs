//! Transfers: what callers ask for (`TransferSpec`) and what the ledger recorded
//! (`Transfer`, immutable).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::account::{AccountRef, SystemAccount};
use super::book::LedgerError;
use super::points::{Amount, PointKind};
pub use crate::ids::TransferId;
use crate::ids::UserId;

/// The caller's name for one intended movement: retrying with it never moves twice.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("idempotency_key must be 1 to 128 visible ASCII characters")]
pub struct BadKey;

impl IdempotencyKey {
    pub const LEN_MAX: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, BadKey> {
        let ok = !raw.is_empty()
            && raw.len() <= Self::LEN_MAX
            && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(BadKey)
        }
    }

    /// A key derived from another, for transfers the ledger makes on a caller's behalf.
    pub fn derived(&self, suffix: &str) -> Self {
        Self(format!("{}#{suffix}", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    Grant,
    Allocation,
    Charge,
    Refund,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Grant => "grant",
            Reason::Allocation => "allocation",
            Reason::Charge => "charge",
            Reason::Refund => "refund",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Reason::Grant,
            Reason::Allocation,
            Reason::Charge,
            Reason::Refund,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// What a transfer is for, e.g. `task:<id>` or `order:<no>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reference(String);

impl Reference {
    pub const LEN_MAX: usize = 128;

    pub fn new(kind: &str, id: &str) -> Self {
        let mut text = format!("{kind}:{id}");
        text.truncate(Self::LEN_MAX);
        Self(text)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        (!raw.is_empty() && raw.len() <= Self::LEN_MAX).then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Single-phase or one step of a two-phase transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "phase", content = "hold", rename_all = "snake_case")]
pub enum Phase {
    /// Moves the amount now.
    Posted,
    /// Reserves the amount: the debit account cannot spend it, nothing moves yet.
    Pending,
    /// Settles a hold, moving at most its amount and releasing the rest.
    Post(TransferId),
    /// Releases a hold without moving anything.
    Void(TransferId),
}

impl Phase {
    pub const POSTED: &'static str = "posted";
    pub const PENDING: &'static str = "pending";
    pub const POST: &'static str = "post";
    pub const VOID: &'static str = "void";

    /// The phase's name, as stored and shown (without the hold it settles).
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Posted => Self::POSTED,
            Phase::Pending => Self::PENDING,
            Phase::Post(_) => Self::POST,
            Phase::Void(_) => Self::VOID,
        }
    }
}

/// A movement a caller asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferSpec {
    pub key: IdempotencyKey,
    pub debit: AccountRef,
    pub credit: AccountRef,
    pub amount: Amount,
    pub reason: Reason,
    pub reference: Option<Reference>,
    pub phase: Phase,
    /// For a refund, the charge it reverses.
    pub reverses: Option<TransferId>,
}

impl TransferSpec {
    /// A transfer posted at once (no hold), reversing nothing.
    pub fn posted(
        key: IdempotencyKey,
        debit: AccountRef,
        credit: AccountRef,
        amount: Amount,
        reason: Reason,
        reference: Option<Reference>,
    ) -> Self {
        Self {
            key,
            debit,
            credit,
            amount,
            reason,
            reference,
            phase: Phase::Posted,
            reverses: None,
        }
    }

    /// New points of `kind` for `to`, from the issuance account.
    pub fn grant(key: IdempotencyKey, to: UserId, kind: PointKind, amount: Amount) -> Self {
        Self::posted(
            key,
            AccountRef::system(SystemAccount::Issuance, kind),
            AccountRef::user(to, kind),
            amount,
            Reason::Grant,
            None,
        )
    }

    /// Two different accounts of the same kind.
    pub fn check_shape(&self) -> Result<(), LedgerError> {
        if self.debit == self.credit {
            return Err(LedgerError::SameAccount);
        }
        if self.debit.kind != self.credit.kind {
            return Err(LedgerError::KindMismatch);
        }
        Ok(())
    }

    /// A charge that moved points (posted at once, or a hold's settlement): the only
    /// kind of transfer a refund may reverse.
    pub fn is_charge(&self) -> bool {
        self.reason == Reason::Charge && matches!(self.phase, Phase::Posted | Phase::Post(_))
    }
}

/// A recorded movement. Never changes once written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub id: TransferId,
    pub spec: TransferSpec,
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_moves_points_of_its_kind_from_issuance_to_the_user() {
        let (user, kind) = (UserId::generate(), PointKind::Low);
        let key = IdempotencyKey::parse("g-1").unwrap();
        let spec = TransferSpec::grant(key, user, kind, Amount::new(5).unwrap());
        assert_eq!(
            spec.debit,
            AccountRef::system(SystemAccount::Issuance, kind)
        );
        assert_eq!(spec.credit, AccountRef::user(user, kind));
        assert_eq!(spec.reason, Reason::Grant);
        assert_eq!(spec.phase, Phase::Posted);
        assert_eq!(spec.check_shape(), Ok(()));
    }

    #[test]
    fn keys_are_bounded_visible_ascii() {
        assert!(IdempotencyKey::parse("grant-2026-11-22-001").is_ok());
        for bad in ["", "has space", "键", &"k".repeat(129)] {
            assert!(IdempotencyKey::parse(bad).is_err(), "{bad}");
        }
    }
}
