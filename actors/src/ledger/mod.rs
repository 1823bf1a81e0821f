//! The points ledger at run time: `AccountsActor` routes each request to the
//! `AccountActor` of the account it spends from, which reserves and forwards it to the
//! `CommitterActor` for group commit. `LedgerService` is what the rest of the system
//! calls: grants, allocations, charges, refunds, holds.

mod account;
mod accounts;
mod committer;

use std::time::Duration;

use medrt_domain::ids::UserId;
use medrt_domain::ledger::{
    AccountRef, Amount, IdempotencyKey, LedgerError, Phase, PointKind, Reason, Reference,
    SystemAccount, Transfer, TransferSpec,
};
use ractor::ActorRef;

pub use accounts::{AccountsActor, AccountsMsg};
pub use committer::{CommitError, CommitSettings, CommitterActor, CommitterMsg};

use crate::ask::ask;
use crate::store::{GroupOutcome, Store, StoreError};

/// A ledger request that did not go through.
#[derive(Debug, thiserror::Error)]
pub enum LedgerFailure {
    #[error(transparent)]
    Rule(#[from] LedgerError),
    #[error("nothing to refund for this reference")]
    NothingToRefund,
    #[error("no price is configured for task type `{0}`")]
    Unpriced(String),
    #[error("the ledger is unavailable: {0}")]
    Unavailable(String),
}

impl From<StoreError> for LedgerFailure {
    fn from(e: StoreError) -> Self {
        LedgerFailure::Unavailable(e.to_string())
    }
}

/// The result of a request that went through.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub transfers: Vec<Transfer>,
    /// True when the idempotency key was seen before: nothing moved this time.
    pub replayed: bool,
}

/// How long a caller waits for its batch to commit.
const SUBMIT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct LedgerService {
    accounts: ActorRef<AccountsMsg>,
    store: Store,
}

impl LedgerService {
    pub fn new(accounts: ActorRef<AccountsMsg>, store: Store) -> Self {
        Self { accounts, store }
    }

    /// Applies a group of transfers all-or-nothing.
    pub async fn submit(&self, group: Vec<TransferSpec>) -> Result<Receipt, LedgerFailure> {
        let outcome = ask(
            &self.accounts,
            |reply| AccountsMsg::Submit { group, reply },
            SUBMIT_TIMEOUT,
        )
        .await
        .map_err(|e| LedgerFailure::Unavailable(e.to_string()))?
        .map_err(|e| LedgerFailure::Unavailable(e.0))?;
        match outcome {
            GroupOutcome::Committed(transfers) => Ok(Receipt {
                transfers,
                replayed: false,
            }),
            GroupOutcome::Replayed(transfers) => Ok(Receipt {
                transfers,
                replayed: true,
            }),
            GroupOutcome::Rejected(rule) => Err(rule.into()),
        }
    }

    async fn single(&self, spec: TransferSpec) -> Result<Receipt, LedgerFailure> {
        self.submit(vec![spec]).await
    }

    /// New points from the issuance account (super_admin).
    pub async fn grant(
        &self,
        to: UserId,
        kind: PointKind,
        amount: Amount,
        key: IdempotencyKey,
    ) -> Result<Receipt, LedgerFailure> {
        self.single(TransferSpec::grant(key, to, kind, amount))
            .await
    }

    /// Points handed from an admin to one of their sub-accounts.
    pub async fn allocate(
        &self,
        from: UserId,
        to: UserId,
        kind: PointKind,
        amount: Amount,
        key: IdempotencyKey,
    ) -> Result<Receipt, LedgerFailure> {
        let reference = Reference::new("allocation", &to.to_string());
        let spec = TransferSpec::posted(
            key,
            AccountRef::user(from, kind),
            AccountRef::user(to, kind),
            amount,
            Reason::Allocation,
            Some(reference),
        );
        self.single(spec).await
    }

    /// Charges `user` the price of a task type for `reference` (e.g. `task:<id>`).
    pub async fn charge(
        &self,
        user: UserId,
        task_type: &str,
        reference: Reference,
        key: IdempotencyKey,
    ) -> Result<Receipt, LedgerFailure> {
        let config = self.store.ledger().config().await?;
        let price = config
            .price(task_type)
            .ok_or_else(|| LedgerFailure::Unpriced(task_type.to_owned()))?;
        let revenue = AccountRef::system(SystemAccount::Revenue, price.kind);
        self.single(TransferSpec::posted(
            key,
            AccountRef::user(user, price.kind),
            revenue,
            price.amount,
            Reason::Charge,
            Some(reference),
        ))
        .await
    }

    /// Refunds what is left of the charge made for `reference`.
    pub async fn refund(
        &self,
        reference: &Reference,
        key: IdempotencyKey,
    ) -> Result<Receipt, LedgerFailure> {
        let ledger = self.store.ledger();
        let charge = ledger
            .charge_for(reference)
            .await?
            .ok_or(LedgerFailure::NothingToRefund)?;
        let left = ledger.refundable(&charge).await?;
        let amount = Amount::new(left as i64).map_err(|_| LedgerFailure::NothingToRefund)?;
        let refunds = AccountRef::system(SystemAccount::Refunds, charge.spec.debit.kind);
        let spec = TransferSpec {
            reverses: Some(charge.id),
            ..TransferSpec::posted(
                key,
                refunds,
                charge.spec.debit,
                amount,
                Reason::Refund,
                Some(reference.clone()),
            )
        };
        self.single(spec).await
    }

    /// Reserves `amount` of `user`'s points for `reference` (two-phase, step one).
    pub async fn hold(
        &self,
        user: UserId,
        kind: PointKind,
        amount: Amount,
        reference: Reference,
        key: IdempotencyKey,
    ) -> Result<Receipt, LedgerFailure> {
        let revenue = AccountRef::system(SystemAccount::Revenue, kind);
        let spec = TransferSpec {
            phase: Phase::Pending,
            ..TransferSpec::posted(
                key,
                AccountRef::user(user, kind),
                revenue,
                amount,
                Reason::Charge,
                Some(reference),
            )
        };
        self.single(spec).await
    }

    /// Settles a hold, charging `amount` (at most the hold) and releasing the rest.
    pub async fn post(
        &self,
        hold: &Transfer,
        amount: Amount,
        key: IdempotencyKey,
    ) -> Result<Receipt, LedgerFailure> {
        self.settle(hold, Phase::Post(hold.id), amount, key).await
    }

    /// Releases a hold without charging.
    pub async fn void(
        &self,
        hold: &Transfer,
        key: IdempotencyKey,
    ) -> Result<Receipt, LedgerFailure> {
        self.settle(hold, Phase::Void(hold.id), hold.spec.amount, key)
            .await
    }

    async fn settle(
        &self,
        hold: &Transfer,
        phase: Phase,
        amount: Amount,
        key: IdempotencyKey,
    ) -> Result<Receipt, LedgerFailure> {
        let spec = TransferSpec {
            phase,
            ..TransferSpec::posted(
                key,
                hold.spec.debit,
                hold.spec.credit,
                amount,
                Reason::Charge,
                hold.spec.reference.clone(),
            )
        };
        self.single(spec).await
    }
}
