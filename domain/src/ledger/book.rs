//! `Book`: every ledger rule as one in-memory state machine. The database-backed
//! ledger must agree with it; property tests and the simulation hold them to that.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::account::{AccountRef, Balance};
use super::transfer::{IdempotencyKey, Phase, Transfer, TransferId, TransferSpec};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("insufficient points: {available} available, {wanted} needed")]
    Insufficient { available: i128, wanted: u64 },
    #[error("a transfer needs two different accounts")]
    SameAccount,
    #[error("both accounts of a transfer must hold the same kind of points")]
    KindMismatch,
    #[error("this idempotency key was already used for a different request")]
    KeyReused,
    #[error("no such hold")]
    UnknownHold,
    #[error("the hold is already settled")]
    HoldSettled,
    #[error("the hold's accounts do not match")]
    HoldMismatch,
    #[error("cannot post more than the hold")]
    PostExceedsHold,
    #[error("no such charge to refund")]
    UnknownCharge,
    #[error("refunds cannot exceed what was charged ({remaining} left)")]
    RefundExceedsCharge { remaining: u64 },
    #[error("a refund must return points to the account that paid")]
    RefundMismatch,
}

/// State of a two-phase transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldState {
    Open,
    Posted,
    Voided,
}

/// The result of applying a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    /// New transfers were recorded.
    New(Vec<Transfer>),
    /// Every key was seen before with the same request: nothing moved.
    Replayed(Vec<Transfer>),
}

impl Applied {
    pub fn transfers(&self) -> &[Transfer] {
        match self {
            Applied::New(t) | Applied::Replayed(t) => t,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Book {
    balances: HashMap<AccountRef, Balance>,
    transfers: HashMap<TransferId, Transfer>,
    by_key: HashMap<IdempotencyKey, TransferId>,
    holds: HashMap<TransferId, HoldState>,
    refunded: HashMap<TransferId, u64>,
}

impl Book {
    pub fn balance(&self, account: &AccountRef) -> Balance {
        self.balances.get(account).copied().unwrap_or_default()
    }

    pub fn transfer(&self, id: TransferId) -> Option<&Transfer> {
        self.transfers.get(&id)
    }

    pub fn hold_state(&self, id: TransferId) -> Option<HoldState> {
        self.holds.get(&id).copied()
    }

    pub fn transfer_count(&self) -> usize {
        self.transfers.len()
    }

    /// Applies a group all-or-nothing: either every spec is recorded (or replayed) or
    /// nothing changes. A single transfer is a group of one.
    pub fn apply(
        &mut self,
        group: &[TransferSpec],
        now: DateTime<Utc>,
    ) -> Result<Applied, LedgerError> {
        let mut replayed = Vec::new();
        for spec in group {
            if let Some(id) = self.by_key.get(&spec.key) {
                let existing = &self.transfers[id];
                // A retry with the same key must repeat the request exactly.
                if existing.spec != *spec {
                    return Err(LedgerError::KeyReused);
                }
                replayed.push(existing.clone());
            }
        }
        if !replayed.is_empty() {
            // A retried group is replayed whole; a group that mixes old and new keys is
            // a different request.
            return if replayed.len() == group.len() {
                Ok(Applied::Replayed(replayed))
            } else {
                Err(LedgerError::KeyReused)
            };
        }
        let mut scratch = self.clone();
        let mut recorded = Vec::with_capacity(group.len());
        for spec in group {
            recorded.push(scratch.apply_one(spec, now)?);
        }
        *self = scratch;
        Ok(Applied::New(recorded))
    }

    fn apply_one(
        &mut self,
        spec: &TransferSpec,
        now: DateTime<Utc>,
    ) -> Result<Transfer, LedgerError> {
        spec.check_shape()?;
        let amount = spec.amount.get();
        match spec.phase {
            Phase::Posted | Phase::Pending => {
                self.check_refund(spec)?;
                let debit = self.balance(&spec.debit);
                if !debit.can_debit(&spec.debit, spec.amount) {
                    return Err(LedgerError::Insufficient {
                        available: debit.available(),
                        wanted: amount,
                    });
                }
                let pending = spec.phase == Phase::Pending;
                self.entry(spec.debit, |b| {
                    if pending {
                        b.debits_pending += amount
                    } else {
                        b.debits_posted += amount
                    }
                });
                self.entry(spec.credit, |b| {
                    if pending {
                        b.credits_pending += amount
                    } else {
                        b.credits_posted += amount
                    }
                });
            }
            Phase::Post(hold_id) | Phase::Void(hold_id) => {
                let hold = self.open_hold(hold_id, spec)?;
                let held = hold.spec.amount.get();
                let posted = if matches!(spec.phase, Phase::Post(_)) {
                    amount
                } else {
                    0
                };
                if posted > held {
                    return Err(LedgerError::PostExceedsHold);
                }
                self.entry(spec.debit, |b| {
                    b.debits_pending -= held;
                    b.debits_posted += posted;
                });
                self.entry(spec.credit, |b| {
                    b.credits_pending -= held;
                    b.credits_posted += posted;
                });
                let settled = if matches!(spec.phase, Phase::Post(_)) {
                    HoldState::Posted
                } else {
                    HoldState::Voided
                };
                self.holds.insert(hold_id, settled);
            }
        }
        let transfer = Transfer {
            id: TransferId::generate(),
            spec: spec.clone(),
            at: now,
        };
        if spec.phase == Phase::Pending {
            self.holds.insert(transfer.id, HoldState::Open);
        }
        if let Some(charge) = spec.reverses {
            *self.refunded.entry(charge).or_default() += amount;
        }
        self.by_key.insert(spec.key.clone(), transfer.id);
        self.transfers.insert(transfer.id, transfer.clone());
        Ok(transfer)
    }

    fn open_hold(
        &self,
        hold_id: TransferId,
        spec: &TransferSpec,
    ) -> Result<&Transfer, LedgerError> {
        let hold = self
            .transfers
            .get(&hold_id)
            .filter(|t| t.spec.phase == Phase::Pending)
            .ok_or(LedgerError::UnknownHold)?;
        if self.holds.get(&hold_id) != Some(&HoldState::Open) {
            return Err(LedgerError::HoldSettled);
        }
        if hold.spec.debit != spec.debit || hold.spec.credit != spec.credit {
            return Err(LedgerError::HoldMismatch);
        }
        Ok(hold)
    }

    /// A refund reverses (part of) a posted charge, back to the account that paid.
    fn check_refund(&self, spec: &TransferSpec) -> Result<(), LedgerError> {
        let Some(charge_id) = spec.reverses else {
            return Ok(());
        };
        let charge = self
            .transfers
            .get(&charge_id)
            .filter(|t| t.spec.is_charge())
            .ok_or(LedgerError::UnknownCharge)?;
        if charge.spec.debit != spec.credit {
            return Err(LedgerError::RefundMismatch);
        }
        let remaining = charge_amount(charge) - self.refunded.get(&charge_id).copied().unwrap_or(0);
        if spec.amount.get() > remaining {
            return Err(LedgerError::RefundExceedsCharge { remaining });
        }
        Ok(())
    }

    fn entry(&mut self, account: AccountRef, change: impl FnOnce(&mut Balance)) {
        change(self.balances.entry(account).or_default());
    }

    /// Every invariant of the books; `Err` names the first one broken.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut posted: HashMap<_, i128> = HashMap::new();
        let mut pending: HashMap<_, (u64, u64)> = HashMap::new();
        for (account, b) in &self.balances {
            *posted.entry(account.kind).or_default() += b.posted();
            let p = pending.entry(account.kind).or_default();
            p.0 += b.debits_pending;
            p.1 += b.credits_pending;
            if account.must_stay_non_negative() && b.available() < 0 {
                return Err(format!("{account} is overdrawn: {b:?}"));
            }
        }
        if let Some((kind, sum)) = posted.iter().find(|(_, s)| **s != 0) {
            return Err(format!("{kind} posted balances sum to {sum}, not 0"));
        }
        if let Some((kind, (d, c))) = pending.iter().find(|(_, (d, c))| d != c) {
            return Err(format!("{kind} pending debits {d} != pending credits {c}"));
        }
        let open: u64 = self
            .holds
            .iter()
            .filter(|(_, s)| **s == HoldState::Open)
            .map(|(id, _)| self.transfers[id].spec.amount.get())
            .sum();
        let held: u64 = pending.values().map(|(d, _)| d).sum();
        if open != held {
            return Err(format!("open holds total {open} but {held} is pending"));
        }
        for (charge, refunded) in &self.refunded {
            if *refunded > charge_amount(&self.transfers[charge]) {
                return Err(format!(
                    "charge {charge} refunded {refunded}, more than it charged"
                ));
            }
        }
        Ok(())
    }
}

/// What a charge moved: its amount, or for a posted hold, the posted amount.
fn charge_amount(charge: &Transfer) -> u64 {
    charge.spec.amount.get()
}

#[cfg(test)]
mod tests;
