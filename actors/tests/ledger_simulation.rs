//! Deterministic simulation of the ledger: seeded random grants, allocations, charges,
//! refunds, holds, posts, voids, retries with repeated keys and whole-node restarts,
//! run through the real actors and database and, step by step, through
//! `domain::ledger::Book`. After every step the outcomes must agree, every balance must
//! match, and the database's books must balance; at the end each user's history, read
//! a few at a time, must list exactly the model's transfers on their account, newest first. A failure prints its seed;
//! `MEDRT_SIM_SEED=<n>` replays just that one.

mod support;

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use chrono::Utc;
use medrt_actors::ledger::{LedgerFailure, LedgerService};
use medrt_actors::store::{PageRequest, Store};
use medrt_domain::ids::UserId;
use medrt_domain::ledger::book::Applied;
use medrt_domain::ledger::{
    AccountRef, Amount, Book, IdempotencyKey, Phase, PointKind, Reason, SystemAccount, Transfer,
    TransferId, TransferSpec,
};

const SEEDS_PER_SHARD: u64 = 60;
const STEPS: usize = 40;
const USERS: usize = 3;
/// Longer than any wait the system itself allows (a submit gives up after 10 s, a
/// shutdown after 35 s): a call still running past it is stuck, and the failure names
/// the seed, step and call. Well inside nextest's limit for a shard (a shard takes
/// 20 s alone, about a minute in a loaded full run), so it fires first.
const STUCK_AFTER: Duration = Duration::from_secs(40);

/// Awaits `call`, failing with `what` if it takes past `STUCK_AFTER`.
async fn bounded<T>(what: impl Fn() -> String, call: impl Future<Output = T>) -> Result<T, String> {
    tokio::time::timeout(STUCK_AFTER, call)
        .await
        .map_err(|_| format!("{} still running after {STUCK_AFTER:?}", what()))
}

/// SplitMix64: small, fast, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Users must exist for the foreign keys of other tables; the ledger itself only needs ids.
fn users() -> Vec<UserId> {
    (0..USERS).map(|_| UserId::generate()).collect()
}

async fn run_seed(seed: u64) -> Result<(), String> {
    let mut rng = Rng(seed);
    let file = support::sqlite_file(&format!("sim-{seed}"));
    let database = &file.url;
    let at = |step: usize, call: &str| format!("seed {seed} step {step}: {call}");
    let mut store = bounded(|| at(0, "open_store"), support::open_store(database)).await?;
    let mut platform = bounded(
        || at(0, "start_node"),
        support::start_node(&store, support::batches_of(64)),
    )
    .await?;
    let mut ledger: LedgerService = bounded(|| at(0, "ledger"), platform.ledger())
        .await?
        .map_err(|e| e.to_string())?;
    let mut book = Book::default();
    let users = users();
    let kind = if rng.below(2) == 0 {
        PointKind::High
    } else {
        PointKind::Low
    };
    let account = |u: usize| AccountRef::user(users[u], kind);
    let sys = |s: SystemAccount| AccountRef::system(s, kind);
    // Ids of the same transfer in the database and in the model.
    let mut ids: HashMap<TransferId, TransferId> = HashMap::new();
    let mut charges: Vec<TransferId> = Vec::new();
    let mut holds: Vec<(TransferId, usize)> = Vec::new();
    let mut sent: Vec<TransferSpec> = Vec::new();
    // The model's new transfers in the order they were made.
    let mut applied: Vec<Transfer> = Vec::new();

    for step in 0..STEPS {
        let key = IdempotencyKey::parse(&format!("s{seed}-{step}")).unwrap();
        let n = Amount::new(1 + rng.below(40) as i64).unwrap();
        let spec = |debit, credit, reason| TransferSpec {
            key: key.clone(),
            debit,
            credit,
            amount: n,
            reason,
            reference: None,
            phase: Phase::Posted,
            reverses: None,
        };
        let request = match rng.below(9) {
            0 | 1 => spec(
                sys(SystemAccount::Issuance),
                account(rng.below(USERS as u64) as usize),
                Reason::Grant,
            ),
            2 => spec(
                account(rng.below(USERS as u64) as usize),
                account(rng.below(USERS as u64) as usize),
                Reason::Allocation,
            ),
            3 => spec(
                account(rng.below(USERS as u64) as usize),
                sys(SystemAccount::Revenue),
                Reason::Charge,
            ),
            4 if !charges.is_empty() => {
                let charge = charges[rng.below(charges.len() as u64) as usize];
                let payer = book.transfer(ids[&charge]).unwrap().spec.debit;
                TransferSpec {
                    reverses: Some(charge),
                    ..spec(sys(SystemAccount::Refunds), payer, Reason::Refund)
                }
            }
            5 => TransferSpec {
                phase: Phase::Pending,
                ..spec(
                    account(rng.below(USERS as u64) as usize),
                    sys(SystemAccount::Revenue),
                    Reason::Charge,
                )
            },
            6 if !holds.is_empty() => {
                let (hold, user) = holds[rng.below(holds.len() as u64) as usize];
                let phase = if rng.below(2) == 0 {
                    Phase::Post(hold)
                } else {
                    Phase::Void(hold)
                };
                TransferSpec {
                    phase,
                    ..spec(account(user), sys(SystemAccount::Revenue), Reason::Charge)
                }
            }
            7 if !sent.is_empty() => sent[rng.below(sent.len() as u64) as usize].clone(),
            8 => {
                // Restart the node: a new pool, actors re-created from the database.
                let grace = Duration::from_secs(1);
                bounded(|| at(step, "shutdown"), platform.shutdown(grace)).await?;
                drop(store);
                store = bounded(|| at(step, "open_store"), support::open_store(database)).await?;
                platform = bounded(
                    || at(step, "start_node"),
                    support::start_node(&store, support::batches_of(64)),
                )
                .await?;
                ledger = bounded(|| at(step, "ledger"), platform.ledger())
                    .await?
                    .map_err(|e| e.to_string())?;
                continue;
            }
            _ => continue,
        };
        let model_request = translate(&request, &ids);
        let expected = book.apply(std::slice::from_ref(&model_request), Utc::now());
        let context = || format!("seed {seed} step {step}: {request:?}");
        let actual = bounded(context, ledger.submit(vec![request.clone()])).await?;
        match (&expected, &actual) {
            (Ok(Applied::New(model)), Ok(receipt)) if !receipt.replayed => {
                let db = &receipt.transfers[0];
                ids.insert(db.id, model[0].id);
                applied.push(model[0].clone());
                match request.phase {
                    Phase::Pending => holds.push((
                        db.id,
                        users
                            .iter()
                            .position(|u| Some(*u) == request.debit.user_id())
                            .unwrap(),
                    )),
                    Phase::Posted if request.reason == Reason::Charge => charges.push(db.id),
                    Phase::Post(_) => charges.push(db.id),
                    _ => {}
                }
            }
            (Ok(Applied::Replayed(model)), Ok(receipt)) if receipt.replayed => {
                if ids.get(&receipt.transfers[0].id) != Some(&model[0].id) {
                    return Err(format!(
                        "{}: replay returned a different transfer",
                        context()
                    ));
                }
            }
            (Err(rule), Err(LedgerFailure::Rule(actual_rule))) if rule == actual_rule => {}
            _ => {
                return Err(format!(
                    "{}: model says {expected:?}, ledger says {actual:?}",
                    context()
                ));
            }
        }
        sent.push(request.clone());
        for user in 0..USERS {
            let db = bounded(context, store.ledger().balance(account(user)))
                .await?
                .map_err(|e| e.to_string())?;
            if db != book.balance(&account(user)) {
                return Err(format!(
                    "{}: user {user} balance {db:?} != model {:?}",
                    context(),
                    book.balance(&account(user))
                ));
            }
        }
        let audit = bounded(context, store.ledger().audit())
            .await?
            .map_err(|e| e.to_string())?;
        if !audit.balanced() {
            return Err(format!("{}: books out of balance: {audit:?}", context()));
        }
        book.check_invariants()
            .map_err(|e| format!("{}: model broke: {e}", context()))?;
    }
    for (user, id) in users.iter().enumerate() {
        let shown = bounded(|| at(STEPS, "history"), history(&store, *id)).await??;
        let shown: Vec<TransferId> = shown.iter().map(|id| ids[id]).collect();
        let mine = account(user);
        let expected: Vec<TransferId> = applied
            .iter()
            .rev()
            .filter(|t| t.spec.debit == mine || t.spec.credit == mine)
            .map(|t| t.id)
            .collect();
        if shown != expected {
            return Err(format!(
                "{}: history {shown:?} != model {expected:?}",
                at(STEPS, "history")
            ));
        }
    }
    bounded(
        || at(STEPS, "shutdown"),
        platform.shutdown(Duration::from_secs(1)),
    )
    .await?;
    Ok(())
}

/// Every transfer in `user`'s history, newest first, read a few at a time.
async fn history(store: &Store, user: UserId) -> Result<Vec<TransferId>, String> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .ledger()
            .history(user, PageRequest::new(Some(3), after))
            .await
            .map_err(|e| e.to_string())?;
        ids.extend(page.items.iter().map(|t| t.id));
        match page.next_cursor {
            Some(next) => after = Some(next),
            None => return Ok(ids),
        }
    }
}

/// The model's version of a request: database transfer ids replaced by the model's.
fn translate(request: &TransferSpec, ids: &HashMap<TransferId, TransferId>) -> TransferSpec {
    let map = |id: TransferId| ids.get(&id).copied().unwrap_or(id);
    TransferSpec {
        phase: match request.phase {
            Phase::Post(h) => Phase::Post(map(h)),
            Phase::Void(h) => Phase::Void(map(h)),
            other => other,
        },
        reverses: request.reverses.map(map),
        ..request.clone()
    }
}

async fn run_shard(shard: u64) {
    let seeds: Vec<u64> = match std::env::var("MEDRT_SIM_SEED") {
        Ok(seed) if shard == 0 => vec![seed.parse().expect("MEDRT_SIM_SEED is a number")],
        Ok(_) => return,
        Err(_) => (shard * SEEDS_PER_SHARD..(shard + 1) * SEEDS_PER_SHARD).collect(),
    };
    for seed in seeds {
        if let Err(failure) = run_seed(seed).await {
            panic!("{failure}\nreplay with MEDRT_SIM_SEED={seed}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulation_seeds_0_to_59() {
    run_shard(0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulation_seeds_60_to_119() {
    run_shard(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulation_seeds_120_to_179() {
    run_shard(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulation_seeds_180_to_239() {
    run_shard(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulation_seeds_240_to_299() {
    run_shard(4).await;
}
