//! The referral hierarchy: each distributor has at most one upline, chosen when they
//! join, and never themselves or their own downline (no cycles). A distributor's
//! lineage (uplines, nearest first) is stored with them, so "ancestors up to N levels"
//! is one row, and the materialised path makes "the whole downline" one prefix query.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::DistributorId;

/// Letters and digits that cannot be mistaken for each other (no 0/O, 1/I).
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
pub const CODE_LEN: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ReferralCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HierarchyError {
    #[error("a referral code is {CODE_LEN} letters and digits")]
    BadCode,
    #[error("a distributor cannot refer themselves")]
    SelfReferral,
    #[error("that upline is already in your downline (a cycle)")]
    Cycle,
}

impl ReferralCode {
    /// Case-insensitive; spaces around are ignored.
    pub fn parse(text: &str) -> Result<Self, HierarchyError> {
        let code = text.trim().to_ascii_uppercase();
        if code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b)) {
            Ok(Self(code))
        } else {
            Err(HierarchyError::BadCode)
        }
    }

    /// A code from random bytes (the caller supplies the randomness).
    pub fn from_entropy(bytes: [u8; CODE_LEN]) -> Self {
        Self(
            bytes
                .iter()
                .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
                .collect(),
        )
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ReferralCode {
    type Error = HierarchyError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<ReferralCode> for String {
    fn from(c: ReferralCode) -> String {
        c.0
    }
}

impl fmt::Display for ReferralCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A distributor's uplines, nearest first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lineage(Vec<DistributorId>);

impl Lineage {
    /// The lineage of `me` joining under `upline`, whose own lineage is `above`.
    pub fn under(
        me: DistributorId,
        upline: DistributorId,
        above: &Lineage,
    ) -> Result<Self, HierarchyError> {
        if me == upline {
            return Err(HierarchyError::SelfReferral);
        }
        if above.0.contains(&me) {
            return Err(HierarchyError::Cycle);
        }
        let mut chain = Vec::with_capacity(above.0.len() + 1);
        chain.push(upline);
        chain.extend_from_slice(&above.0);
        Ok(Self(chain))
    }

    /// The nearest `levels` uplines (level 1 first).
    pub fn uplines(&self, levels: usize) -> &[DistributorId] {
        &self.0[..levels.min(self.0.len())]
    }

    pub fn depth(&self) -> usize {
        self.0.len()
    }

    /// `/<root>/…/<upline>/<me>/`: every downline's path starts with its uplines' paths.
    pub fn path(&self, me: DistributorId) -> String {
        let mut path = String::from("/");
        for id in self.0.iter().rev().chain(std::iter::once(&me)) {
            path.push_str(&id.to_string());
            path.push('/');
        }
        path
    }
}

/// Who earns on an order, nearest first: the distributor who referred it, then their
/// uplines. The buyer never earns on their own purchase: buying with one's own code is
/// refused, and a buyer who sits above the referrer is left out of the chain.
pub fn beneficiaries(
    referrer: DistributorId,
    referrer_lineage: &Lineage,
    buyer: Option<DistributorId>,
) -> Result<Vec<DistributorId>, HierarchyError> {
    if buyer == Some(referrer) {
        return Err(HierarchyError::SelfReferral);
    }
    Ok(std::iter::once(referrer)
        .chain(referrer_lineage.0.iter().copied())
        .filter(|d| Some(*d) != buyer)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_case_insensitively_and_avoid_ambiguous_characters() {
        assert_eq!(
            ReferralCode::parse(" abcd2345 ").unwrap().as_str(),
            "ABCD2345"
        );
        assert_eq!(
            ReferralCode::parse("ABCD234O"),
            Err(HierarchyError::BadCode)
        ); // O
        assert_eq!(ReferralCode::parse("ABC"), Err(HierarchyError::BadCode));
        let code = ReferralCode::from_entropy([0, 255, 7, 31, 32, 100, 200, 13]);
        assert_eq!(ReferralCode::parse(code.as_str()).unwrap(), code);
    }

    #[test]
    fn a_chain_lists_uplines_nearest_first_and_paths_nest() {
        let ids: Vec<DistributorId> = (0..4).map(|_| DistributorId::generate()).collect();
        let mut lineage = Lineage::default();
        for pair in ids.windows(2) {
            lineage = Lineage::under(pair[1], pair[0], &lineage).unwrap();
        }
        assert_eq!(lineage.uplines(3), [ids[2], ids[1], ids[0]]);
        assert_eq!(lineage.uplines(10).len(), 3);
        let above = Lineage::under(
            ids[2],
            ids[1],
            &Lineage::under(ids[1], ids[0], &Lineage::default()).unwrap(),
        )
        .unwrap();
        assert!(lineage.path(ids[3]).starts_with(&above.path(ids[2])));
    }

    #[test]
    fn self_referral_and_cycles_are_refused() {
        let (a, b) = (DistributorId::generate(), DistributorId::generate());
        assert_eq!(
            Lineage::under(a, a, &Lineage::default()),
            Err(HierarchyError::SelfReferral)
        );
        let b_under_a = Lineage::under(b, a, &Lineage::default()).unwrap();
        // a cannot join under b: b's lineage contains a.
        assert_eq!(Lineage::under(a, b, &b_under_a), Err(HierarchyError::Cycle));
    }

    #[test]
    fn an_order_pays_the_referrer_and_their_uplines_but_never_the_buyer() {
        let ids: Vec<DistributorId> = (0..4).map(|_| DistributorId::generate()).collect();
        let mut lineage = Lineage::default();
        for pair in ids.windows(2).take(2) {
            lineage = Lineage::under(pair[1], pair[0], &lineage).unwrap();
        }
        // ids[2] refers; above are ids[1], ids[0].
        assert_eq!(
            beneficiaries(ids[2], &lineage, None).unwrap(),
            [ids[2], ids[1], ids[0]]
        );
        assert_eq!(
            beneficiaries(ids[2], &lineage, Some(ids[1])).unwrap(),
            [ids[2], ids[0]]
        );
        assert_eq!(
            beneficiaries(ids[2], &lineage, Some(ids[2])),
            Err(HierarchyError::SelfReferral)
        );
    }
}
