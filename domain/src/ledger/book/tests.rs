use chrono::Utc;
use proptest::prelude::*;

use super::*;
use crate::ids::UserId;
use crate::ledger::account::SystemAccount;
use crate::ledger::points::{Amount, PointKind};
use crate::ledger::transfer::{Reason, Reference};

fn amount(n: u64) -> Amount {
    Amount::new(n as i64).unwrap()
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::parse(k).unwrap()
}

fn spec(
    k: &str,
    debit: AccountRef,
    credit: AccountRef,
    n: u64,
    reason: Reason,
    phase: Phase,
) -> TransferSpec {
    TransferSpec {
        key: key(k),
        debit,
        credit,
        amount: amount(n),
        reason,
        reference: None,
        phase,
        reverses: None,
    }
}

fn sys(s: SystemAccount) -> AccountRef {
    AccountRef::system(s, PointKind::High)
}

fn user() -> AccountRef {
    AccountRef::user(UserId::generate(), PointKind::High)
}

fn grant(book: &mut Book, to: AccountRef, n: u64, k: &str) {
    book.apply(
        &[spec(
            k,
            sys(SystemAccount::Issuance),
            to,
            n,
            Reason::Grant,
            Phase::Posted,
        )],
        Utc::now(),
    )
    .unwrap();
}

#[test]
fn a_grant_moves_points_and_keeps_the_books_balanced() {
    let mut book = Book::default();
    let alice = user();
    grant(&mut book, alice, 100, "g1");
    assert_eq!(book.balance(&alice).available(), 100);
    assert_eq!(book.balance(&sys(SystemAccount::Issuance)).posted(), -100);
    book.check_invariants().unwrap();
}

#[test]
fn users_cannot_spend_what_they_do_not_have() {
    let mut book = Book::default();
    let alice = user();
    grant(&mut book, alice, 5, "g1");
    let charge = spec(
        "c1",
        alice,
        sys(SystemAccount::Revenue),
        6,
        Reason::Charge,
        Phase::Posted,
    );
    assert_eq!(
        book.apply(&[charge], Utc::now()),
        Err(LedgerError::Insufficient {
            available: 5,
            wanted: 6
        })
    );
    assert_eq!(book.balance(&alice).available(), 5);
}

#[test]
fn the_same_key_replays_and_a_different_body_conflicts() {
    let mut book = Book::default();
    let alice = user();
    let g = spec(
        "g1",
        sys(SystemAccount::Issuance),
        alice,
        10,
        Reason::Grant,
        Phase::Posted,
    );
    let first = book.apply(std::slice::from_ref(&g), Utc::now()).unwrap();
    let again = book.apply(std::slice::from_ref(&g), Utc::now()).unwrap();
    assert!(matches!(again, Applied::Replayed(_)));
    assert_eq!(first.transfers(), again.transfers());
    assert_eq!(book.balance(&alice).available(), 10);
    let changed = spec(
        "g1",
        sys(SystemAccount::Issuance),
        alice,
        11,
        Reason::Grant,
        Phase::Posted,
    );
    assert_eq!(
        book.apply(&[changed], Utc::now()),
        Err(LedgerError::KeyReused)
    );
}

#[test]
fn linked_groups_are_all_or_nothing() {
    let mut book = Book::default();
    let (admin, a, b) = (user(), user(), user());
    grant(&mut book, admin, 10, "g1");
    let group = [
        spec("l1", admin, a, 6, Reason::Allocation, Phase::Posted),
        spec("l2", admin, b, 6, Reason::Allocation, Phase::Posted),
    ];
    assert!(matches!(
        book.apply(&group, Utc::now()),
        Err(LedgerError::Insufficient { .. })
    ));
    assert_eq!(book.balance(&admin).available(), 10);
    assert_eq!(book.balance(&a).available(), 0);
    assert_eq!(book.transfer_count(), 1);
}

#[test]
fn holds_reserve_then_post_part_or_void() {
    let mut book = Book::default();
    let alice = user();
    let revenue = sys(SystemAccount::Revenue);
    grant(&mut book, alice, 10, "g1");
    let hold = book
        .apply(
            &[spec(
                "h1",
                alice,
                revenue,
                8,
                Reason::Charge,
                Phase::Pending,
            )],
            Utc::now(),
        )
        .unwrap();
    let hold_id = hold.transfers()[0].id;
    assert_eq!(book.balance(&alice).available(), 2);
    assert!(matches!(
        book.apply(
            &[spec("c2", alice, revenue, 3, Reason::Charge, Phase::Posted)],
            Utc::now()
        ),
        Err(LedgerError::Insufficient { .. })
    ));
    assert_eq!(
        book.apply(
            &[spec(
                "p0",
                alice,
                revenue,
                9,
                Reason::Charge,
                Phase::Post(hold_id)
            )],
            Utc::now()
        ),
        Err(LedgerError::PostExceedsHold)
    );
    book.apply(
        &[spec(
            "p1",
            alice,
            revenue,
            5,
            Reason::Charge,
            Phase::Post(hold_id),
        )],
        Utc::now(),
    )
    .unwrap();
    assert_eq!(book.balance(&alice).available(), 5);
    assert_eq!(book.hold_state(hold_id), Some(HoldState::Posted));
    assert_eq!(
        book.apply(
            &[spec(
                "v1",
                alice,
                revenue,
                8,
                Reason::Charge,
                Phase::Void(hold_id)
            )],
            Utc::now()
        ),
        Err(LedgerError::HoldSettled)
    );
    book.check_invariants().unwrap();
}

#[test]
fn only_charges_that_moved_points_can_be_refunded() {
    let mut book = Book::default();
    let alice = user();
    let (revenue, refunds) = (sys(SystemAccount::Revenue), sys(SystemAccount::Refunds));
    grant(&mut book, alice, 10, "g1");
    let hold = |k: &str| spec(k, alice, revenue, 4, Reason::Charge, Phase::Pending);
    let first = book.apply(&[hold("h1")], Utc::now()).unwrap().transfers()[0].id;
    let void = spec("v1", alice, revenue, 4, Reason::Charge, Phase::Void(first));
    let voided = book.apply(&[void], Utc::now()).unwrap().transfers()[0].id;
    let refund = |k: &str, of| TransferSpec {
        reverses: Some(of),
        ..spec(k, refunds, alice, 1, Reason::Refund, Phase::Posted)
    };
    for (k, of) in [("r1", first), ("r2", voided)] {
        assert_eq!(
            book.apply(&[refund(k, of)], Utc::now()),
            Err(LedgerError::UnknownCharge),
            "{k}"
        );
    }
    let second = book.apply(&[hold("h2")], Utc::now()).unwrap().transfers()[0].id;
    let post = spec("p2", alice, revenue, 3, Reason::Charge, Phase::Post(second));
    let posted = book.apply(&[post], Utc::now()).unwrap().transfers()[0].id;
    book.apply(&[refund("r3", posted)], Utc::now()).unwrap();
    book.check_invariants().unwrap();
}

#[test]
fn refunds_never_exceed_the_charge() {
    let mut book = Book::default();
    let alice = user();
    let (revenue, refunds) = (sys(SystemAccount::Revenue), sys(SystemAccount::Refunds));
    grant(&mut book, alice, 10, "g1");
    let mut charge = spec("c1", alice, revenue, 7, Reason::Charge, Phase::Posted);
    charge.reference = Some(Reference::new("task", "42"));
    let charge_id = book.apply(&[charge], Utc::now()).unwrap().transfers()[0].id;
    let refund = |k: &str, n: u64| TransferSpec {
        reverses: Some(charge_id),
        ..spec(k, refunds, alice, n, Reason::Refund, Phase::Posted)
    };
    book.apply(&[refund("r1", 4)], Utc::now()).unwrap();
    assert_eq!(
        book.apply(&[refund("r2", 4)], Utc::now()),
        Err(LedgerError::RefundExceedsCharge { remaining: 3 })
    );
    book.apply(&[refund("r3", 3)], Utc::now()).unwrap();
    assert_eq!(book.balance(&alice).available(), 10);
    let wrong = TransferSpec {
        reverses: Some(charge_id),
        ..spec("r4", refunds, user(), 1, Reason::Refund, Phase::Posted)
    };
    assert_eq!(
        book.apply(&[wrong], Utc::now()),
        Err(LedgerError::RefundMismatch)
    );
    book.check_invariants().unwrap();
}

#[test]
fn shapes_are_checked() {
    let mut book = Book::default();
    let alice = user();
    assert_eq!(
        book.apply(
            &[spec("s1", alice, alice, 1, Reason::Grant, Phase::Posted)],
            Utc::now()
        ),
        Err(LedgerError::SameAccount)
    );
    let low = AccountRef {
        kind: PointKind::Low,
        ..alice
    };
    assert_eq!(
        book.apply(
            &[spec(
                "s2",
                sys(SystemAccount::Issuance),
                low,
                1,
                Reason::Grant,
                Phase::Posted
            )],
            Utc::now()
        ),
        Err(LedgerError::KindMismatch)
    );
}

/// One random step in a property test.
#[derive(Clone, Debug)]
enum Op {
    Grant { to: usize, n: u64 },
    Allocate { from: usize, to: usize, n: u64 },
    Charge { from: usize, n: u64 },
    Refund { charge: usize, n: u64 },
    Hold { from: usize, n: u64 },
    Post { hold: usize, n: u64 },
    Void { hold: usize },
    Retry { step: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..4usize, 1..50u64).prop_map(|(to, n)| Op::Grant { to, n }),
        (0..4usize, 0..4usize, 1..30u64).prop_map(|(from, to, n)| Op::Allocate { from, to, n }),
        (0..4usize, 1..30u64).prop_map(|(from, n)| Op::Charge { from, n }),
        (0..8usize, 1..30u64).prop_map(|(charge, n)| Op::Refund { charge, n }),
        (0..4usize, 1..30u64).prop_map(|(from, n)| Op::Hold { from, n }),
        (0..8usize, 1..30u64).prop_map(|(hold, n)| Op::Post { hold, n }),
        (0..8usize).prop_map(|hold| Op::Void { hold }),
        (0..64usize).prop_map(|step| Op::Retry { step }),
    ]
}

proptest! {
    #[test]
    fn invariants_hold_after_every_step(ops in proptest::collection::vec(op(), 1..80)) {
        let mut book = Book::default();
        let users: Vec<AccountRef> = (0..4).map(|_| user()).collect();
        let (issuance, revenue, refunds) = (sys(SystemAccount::Issuance), sys(SystemAccount::Revenue), sys(SystemAccount::Refunds));
        let mut charges: Vec<TransferId> = Vec::new();
        let mut holds: Vec<(TransferId, AccountRef)> = Vec::new();
        let mut sent: Vec<TransferSpec> = Vec::new();
        for (i, op) in ops.into_iter().enumerate() {
            let k = format!("k{i}");
            let request = match op {
                Op::Grant { to, n } => spec(&k, issuance, users[to], n, Reason::Grant, Phase::Posted),
                Op::Allocate { from, to, n } => spec(&k, users[from], users[to], n, Reason::Allocation, Phase::Posted),
                Op::Charge { from, n } => spec(&k, users[from], revenue, n, Reason::Charge, Phase::Posted),
                Op::Refund { charge, n } => {
                    let Some(&charge_id) = charges.get(charge) else { continue };
                    let payer = book.transfer(charge_id).unwrap().spec.debit;
                    TransferSpec { reverses: Some(charge_id), ..spec(&k, refunds, payer, n, Reason::Refund, Phase::Posted) }
                }
                Op::Hold { from, n } => spec(&k, users[from], revenue, n, Reason::Charge, Phase::Pending),
                Op::Post { hold, n } => {
                    let Some(&(id, payer)) = holds.get(hold) else { continue };
                    spec(&k, payer, revenue, n, Reason::Charge, Phase::Post(id))
                }
                Op::Void { hold } => {
                    let Some(&(id, payer)) = holds.get(hold) else { continue };
                    spec(&k, payer, revenue, 1, Reason::Charge, Phase::Void(id))
                }
                Op::Retry { step } => {
                    let Some(previous) = sent.get(step) else { continue };
                    previous.clone()
                }
            };
            let before = book.transfer_count();
            match book.apply(std::slice::from_ref(&request), Utc::now()) {
                Ok(Applied::New(t)) => {
                    prop_assert_eq!(book.transfer_count(), before + 1);
                    let id = t[0].id;
                    match request.phase {
                        Phase::Pending => holds.push((id, request.debit)),
                        Phase::Posted if request.reason == Reason::Charge => charges.push(id),
                        Phase::Post(_) => charges.push(id),
                        _ => {}
                    }
                }
                Ok(Applied::Replayed(_)) | Err(_) => prop_assert_eq!(book.transfer_count(), before, "nothing moves on a replay or an error"),
            }
            sent.push(request);
            if let Err(broken) = book.check_invariants() {
                prop_assert!(false, "{}", broken);
            }
        }
    }
}
