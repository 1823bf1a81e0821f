//! Conversions between ledger types and their database rows.

use medrt_domain::ledger::{
    AccountRef, Amount, Balance, IdempotencyKey, Phase, Reason, Reference, Transfer, TransferId,
    TransferSpec,
};
use std::collections::HashMap;

use sea_orm::ActiveValue::Set;
use sea_orm::QueryResult;
use uuid::Uuid;

use super::StoreError;
use super::entities::{ledger_accounts as accounts, ledger_transfers as transfers};
use super::ledger_history::{AccountMap, Links};

pub(super) fn account_row(account: AccountRef) -> accounts::ActiveModel {
    accounts::ActiveModel {
        account: Set(account.to_string()),
        kind: Set(account.kind.as_str().to_owned()),
        debits_posted: Set(0),
        credits_posted: Set(0),
        debits_pending: Set(0),
        credits_pending: Set(0),
        head: Set(None),
        prev_head: Set(None),
    }
}

pub(super) fn transfer_row(t: &Transfer, links: Links) -> transfers::ActiveModel {
    let spec = &t.spec;
    let (phase, settles) = match spec.phase {
        Phase::Posted | Phase::Pending => (spec.phase.name(), None),
        Phase::Post(h) | Phase::Void(h) => (spec.phase.name(), Some(h.as_uuid())),
    };
    transfers::ActiveModel {
        id: Set(t.id.as_uuid()),
        idempotency_key: Set(spec.key.as_str().to_owned()),
        debit_account: Set(spec.debit.to_string()),
        credit_account: Set(spec.credit.to_string()),
        kind: Set(spec.debit.kind.as_str().to_owned()),
        amount: Set(spec.amount.get() as i64),
        reason: Set(spec.reason.as_str().to_owned()),
        reference: Set(spec.reference.as_ref().map(|r| r.as_str().to_owned())),
        phase: Set(phase.to_owned()),
        settles: Set(settles),
        reverses: Set(spec.reverses.map(|r| r.as_uuid())),
        created_at: Set(t.at),
        debit_prev: Set(links.debit_prev),
        credit_prev: Set(links.credit_prev),
    }
}

pub(super) fn to_balance(row: accounts::Model) -> Result<Balance, StoreError> {
    balance_from_totals(
        &row.account,
        [
            row.debits_posted,
            row.credits_posted,
            row.debits_pending,
            row.credits_pending,
        ],
    )
}

/// The balances in a JSON array holding, for each account found, `[i, debits_posted,
/// credits_posted, debits_pending, credits_pending]`, `i` its place in `asked` (so no
/// name is sent back and parsed again).
pub(super) fn balances_from_json(
    doc: &str,
    asked: &[AccountRef],
) -> Result<HashMap<AccountRef, Balance>, StoreError> {
    type Row = (usize, i64, i64, i64, i64);
    let rows: Vec<Row> = serde_json::from_str(doc).map_err(StoreError::corrupt)?;
    rows.into_iter()
        .map(|(i, dp, cp, dpe, cpe)| {
            let account = *asked
                .get(i)
                .ok_or_else(|| StoreError::corrupt(format!("no account {i} was asked for")))?;
            Ok((account, balance_from_totals(&account, [dp, cp, dpe, cpe])?))
        })
        .collect()
}

/// The history heads an update replaced (`prev_head`), by account.
pub(super) fn replaced_heads(rows: &[QueryResult]) -> Result<AccountMap<Option<Uuid>>, StoreError> {
    rows.iter()
        .map(|row| {
            let account: String = row.try_get("", "account")?;
            let prev: Option<Uuid> = row.try_get("", "prev_head")?;
            Ok((account.parse().map_err(StoreError::corrupt)?, prev))
        })
        .collect()
}

/// Stored totals (signed columns, in `Balance` field order); a negative one is corruption.
fn balance_from_totals(
    account: &impl std::fmt::Display,
    totals: [i64; 4],
) -> Result<Balance, StoreError> {
    let [
        debits_posted,
        credits_posted,
        debits_pending,
        credits_pending,
    ] = totals.map(|v| {
        u64::try_from(v).map_err(|_| StoreError::corrupt(format!("negative total on {account}")))
    });
    Ok(Balance {
        debits_posted: debits_posted?,
        credits_posted: credits_posted?,
        debits_pending: debits_pending?,
        credits_pending: credits_pending?,
    })
}

pub(super) fn to_transfer(row: transfers::Model) -> Result<Transfer, StoreError> {
    let bad = |what: &str| StoreError::corrupt(format!("transfer {}: bad {what}", row.id));
    let phase = match (row.phase.as_str(), row.settles) {
        (Phase::POSTED, None) => Phase::Posted,
        (Phase::PENDING, None) => Phase::Pending,
        (Phase::POST, Some(h)) => Phase::Post(TransferId::from_uuid(h)),
        (Phase::VOID, Some(h)) => Phase::Void(TransferId::from_uuid(h)),
        _ => return Err(bad("phase")),
    };
    let spec = TransferSpec {
        key: IdempotencyKey::parse(&row.idempotency_key).map_err(|_| bad("key"))?,
        debit: row
            .debit_account
            .parse()
            .map_err(|_| bad("debit account"))?,
        credit: row
            .credit_account
            .parse()
            .map_err(|_| bad("credit account"))?,
        amount: Amount::new(row.amount).map_err(|_| bad("amount"))?,
        reason: Reason::parse(&row.reason).ok_or_else(|| bad("reason"))?,
        reference: row
            .reference
            .as_deref()
            .map(|r| Reference::parse(r).ok_or_else(|| bad("reference")))
            .transpose()?,
        phase,
        reverses: row.reverses.map(TransferId::from_uuid),
    };
    Ok(Transfer {
        id: TransferId::from_uuid(row.id),
        spec,
        at: row.created_at,
    })
}

#[cfg(test)]
mod tests {
    use medrt_domain::ids::UserId;
    use medrt_domain::ledger::{AccountRef, PointKind};

    use super::*;

    #[test]
    fn balances_read_back_by_their_place_among_those_asked_for() {
        let user = UserId::generate();
        let asked = [
            AccountRef::user(user, PointKind::High),
            AccountRef::user(user, PointKind::Low),
            AccountRef::user(UserId::generate(), PointKind::High),
        ];
        let [high, low, never_used] = asked;
        let found = balances_from_json("[[1,0,5,0,0],[0,3,10,2,0]]", &asked).unwrap();
        assert_eq!(found[&high].available(), 5);
        assert_eq!(found[&low].available(), 5);
        assert!(!found.contains_key(&never_used));
        assert!(balances_from_json("[]", &asked).unwrap().is_empty());
    }

    #[test]
    fn a_negative_total_or_an_account_not_asked_for_is_corruption() {
        let asked = [AccountRef::user(UserId::generate(), PointKind::High)];
        assert!(balances_from_json("[[0,-1,0,0,0]]", &asked).is_err());
        assert!(balances_from_json("[[1,0,0,0,0]]", &asked).is_err());
        assert!(balances_from_json("[[0,0,0,0,0]]", &asked).is_ok());
    }
}
