//! Accounts and balances.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::points::{Amount, PointKind};
use crate::ids::UserId;

/// Accounts that balance the books; they may go negative.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SystemAccount {
    /// Source of granted points.
    Issuance,
    /// Where charges go.
    Revenue,
    /// Where refunds come from (a contra-revenue account).
    Refunds,
}

impl SystemAccount {
    pub const ALL: [SystemAccount; 3] = [
        SystemAccount::Issuance,
        SystemAccount::Revenue,
        SystemAccount::Refunds,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SystemAccount::Issuance => "issuance",
            SystemAccount::Revenue => "revenue",
            SystemAccount::Refunds => "refunds",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    User(UserId),
    System(SystemAccount),
}

/// One account: an owner's points of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountRef {
    pub owner: Owner,
    pub kind: PointKind,
}

impl AccountRef {
    pub fn user(user: UserId, kind: PointKind) -> Self {
        Self {
            owner: Owner::User(user),
            kind,
        }
    }

    pub fn system(system: SystemAccount, kind: PointKind) -> Self {
        Self {
            owner: Owner::System(system),
            kind,
        }
    }

    /// Users may never owe points; system accounts balance the books and may.
    pub fn must_stay_non_negative(&self) -> bool {
        matches!(self.owner, Owner::User(_))
    }

    pub fn user_id(&self) -> Option<UserId> {
        match self.owner {
            Owner::User(id) => Some(id),
            Owner::System(_) => None,
        }
    }
}

/// `u:<uuid>:high` or `s:revenue:low`: the account's key in storage. Written in one
/// piece, built on the stack: a ledger batch names every account it writes, and
/// formatting piece by piece grew each `to_string` several times.
impl fmt::Display for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut id = uuid::Uuid::encode_buffer();
        let (tag, owner) = match self.owner {
            Owner::User(user) => ("u:", &*user.as_uuid().hyphenated().encode_lower(&mut id)),
            Owner::System(s) => ("s:", s.as_str()),
        };
        let mut name = [0u8; 64];
        let mut len = 0;
        for part in [tag, owner, ":", self.kind.as_str()] {
            name[len..len + part.len()].copy_from_slice(part.as_bytes());
            len += part.len();
        }
        f.write_str(std::str::from_utf8(&name[..len]).map_err(|_| fmt::Error)?)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed account key `{0}`")]
pub struct BadAccountKey(pub String);

impl FromStr for AccountRef {
    type Err = BadAccountKey;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadAccountKey(s.to_owned());
        let mut parts = s.split(':');
        let (Some(tag), Some(owner), Some(kind), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let kind: PointKind = kind.parse().map_err(|_| bad())?;
        let owner = match tag {
            "u" => Owner::User(owner.parse().map_err(|_| bad())?),
            "s" => Owner::System(
                SystemAccount::ALL
                    .into_iter()
                    .find(|a| a.as_str() == owner)
                    .ok_or_else(bad)?,
            ),
            _ => return Err(bad()),
        };
        Ok(Self { owner, kind })
    }
}

/// Running totals of one account. Balances are derived, never stored on their own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub debits_posted: u64,
    pub credits_posted: u64,
    pub debits_pending: u64,
    pub credits_pending: u64,
}

impl Balance {
    /// Posted credits minus posted debits (negative only for system accounts).
    pub fn posted(&self) -> i128 {
        i128::from(self.credits_posted) - i128::from(self.debits_posted)
    }

    /// What may still be spent: posted balance minus amounts held.
    pub fn available(&self) -> i128 {
        self.posted() - i128::from(self.debits_pending)
    }

    /// Whether `account` may be debited `amount` more (posted or held).
    pub fn can_debit(&self, account: &AccountRef, amount: Amount) -> bool {
        !account.must_stay_non_negative() || self.available() >= i128::from(amount.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let user = AccountRef::user(UserId::generate(), PointKind::High);
        let sys = AccountRef::system(SystemAccount::Revenue, PointKind::Low);
        for a in [user, sys] {
            assert_eq!(a.to_string().parse::<AccountRef>(), Ok(a));
        }
        // The stored keys' exact form.
        let id: UserId = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".parse().unwrap();
        assert_eq!(
            AccountRef::user(id, PointKind::High).to_string(),
            "u:0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b:high"
        );
        assert_eq!(sys.to_string(), "s:revenue:low");
        for bad in [
            "",
            "u:x:high",
            "s:bank:low",
            "s:revenue:mid",
            "u::high",
            "s:revenue:low:x",
        ] {
            assert!(bad.parse::<AccountRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn users_cannot_overdraw_but_system_accounts_can() {
        let user = AccountRef::user(UserId::generate(), PointKind::High);
        let issuance = AccountRef::system(SystemAccount::Issuance, PointKind::High);
        let b = Balance {
            credits_posted: 10,
            debits_posted: 3,
            debits_pending: 2,
            credits_pending: 0,
        };
        assert_eq!(b.available(), 5);
        assert!(b.can_debit(&user, Amount::new(5).unwrap()));
        assert!(!b.can_debit(&user, Amount::new(6).unwrap()));
        assert!(Balance::default().can_debit(&issuance, Amount::new(1_000).unwrap()));
    }
}
