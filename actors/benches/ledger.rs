//! `ledger`: transfers per second and latency through (a) the actor + group-commit
//! path and (b) a naive baseline (one database transaction per transfer, guarded by a
//! row-locking conditional update), and (c) the store alone committing one batch of
//! every client's next transfer at a time, no actors (the ceiling for (a) on that
//! database), with 1, 16 and 256 concurrent clients, on SQLite
//! and, when `MEDRT_BENCH_DATABASE_URL` (or `MEDRT_TEST_DATABASE_URL`) names a
//! PostgreSQL server, on PostgreSQL. The books are audited after every run.
//!
//! Idempotency keys are UUIDv7 (time-ordered, as TigerBeetle recommends for its ids):
//! each batch's keys then land together at the end of the unique index. `--keys random`
//! uses UUIDv4 instead, each key on an index page of its own.
//!
//! Run: `make bench` or `cargo bench -p medrt-actors --bench ledger -- [--seconds 3] [--clients 1,16,256] [--path actors|naive|store] [--keys ordered|random] [--commit-delay-us 1000] [--batch-max 1024]`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use medrt_actors::ledger::{CommitSettings, LedgerService};
use medrt_actors::store::{GroupOutcome, Store};
use medrt_domain::ids::UserId;
use medrt_domain::ledger::{
    AccountRef, Amount, IdempotencyKey, PointKind, Reason, SystemAccount, TransferSpec,
};
use sea_orm::{ConnectionTrait, Database};

const CLIENTS: [usize; 3] = [1, 16, 256];

/// The allocator the `medrt` binary runs with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Clone, Copy, PartialEq)]
enum Path {
    Actors,
    Naive,
    Store,
}

impl Path {
    fn label(self) -> &'static str {
        match self {
            Path::Actors => "actors + group commit",
            Path::Naive => "naive: txn per transfer",
            Path::Store => "store only: one batch per round",
        }
    }
}

struct Row {
    database: &'static str,
    path: &'static str,
    clients: usize,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    transfers: usize,
    balanced: bool,
}

/// How the clients make their idempotency keys.
#[derive(Clone, Copy, PartialEq)]
enum Keys {
    Ordered,
    Random,
}

impl Keys {
    fn next(self) -> IdempotencyKey {
        let id = match self {
            Keys::Ordered => uuid::Uuid::now_v7(),
            Keys::Random => uuid::Uuid::new_v4(),
        };
        IdempotencyKey::parse(&id.simple().to_string()).expect("a key")
    }
}

fn spend(user: UserId, keys: Keys) -> TransferSpec {
    TransferSpec::posted(
        keys.next(),
        AccountRef::user(user, PointKind::High),
        AccountRef::system(SystemAccount::Revenue, PointKind::High),
        Amount::new(1).expect("amount"),
        Reason::Charge,
        None,
    )
}

async fn run(
    database_name: &'static str,
    url: &str,
    path: Path,
    clients: usize,
    seconds: f64,
    keys: Keys,
    commit: CommitSettings,
) -> Row {
    let store = support::open_store(url).await;
    let node = support::start_node(&store, commit).await;
    let ledger: LedgerService = node.ledger().await.expect("ledger");
    let users: Vec<UserId> = (0..clients).map(|_| UserId::generate()).collect();
    for (i, user) in users.iter().enumerate() {
        let key = IdempotencyKey::parse(&format!("fund-{i}")).unwrap();
        ledger
            .grant(
                *user,
                PointKind::High,
                Amount::new(1_000_000_000).unwrap(),
                key,
            )
            .await
            .expect("funded");
    }
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let latencies = if path == Path::Store {
        store_rounds(&store, &users, keys, deadline).await
    } else {
        let through_actors = path == Path::Actors;
        clients_in_parallel(&ledger, &store, &users, through_actors, keys, deadline).await
    };
    let elapsed = started.elapsed().as_secs_f64();
    let pick = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize];
    let audit = store.ledger().audit().await.expect("audit");
    node.shutdown(Duration::from_secs(2)).await;
    Row {
        database: database_name,
        path: path.label(),
        clients,
        per_sec: latencies.len() as f64 / elapsed,
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
        transfers: latencies.len(),
        balanced: audit.balanced() && audit.transfers as usize == latencies.len() + clients,
    }
}

/// Each client spends in a loop, waiting for each answer, through the actors or
/// straight to the store one transfer per transaction; sorted latencies in ms.
async fn clients_in_parallel(
    ledger: &LedgerService,
    store: &Store,
    users: &[UserId],
    through_actors: bool,
    keys: Keys,
    deadline: Instant,
) -> Vec<f64> {
    let workers: Vec<_> = users
        .iter()
        .map(|user| {
            let (ledger, store, user) = (ledger.clone(), store.clone(), *user);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let spec = spend(user, keys);
                    let t = Instant::now();
                    let ok = if through_actors {
                        ledger.submit(vec![spec]).await.is_ok()
                    } else {
                        matches!(
                            store.ledger().commit(&[vec![spec]]).await.as_deref(),
                            Ok([GroupOutcome::Committed(_)])
                        )
                    };
                    assert!(ok, "a funded spend must succeed");
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.expect("worker"));
    }
    latencies.sort_by(f64::total_cmp);
    latencies
}

/// One spend per client per round, each round committed as one batch by the store; a
/// transfer's latency is its round's. Sorted latencies in ms.
async fn store_rounds(store: &Store, users: &[UserId], keys: Keys, deadline: Instant) -> Vec<f64> {
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let groups: Vec<_> = users.iter().map(|user| vec![spend(*user, keys)]).collect();
        let t = Instant::now();
        let outcomes = store.ledger().commit(&groups).await.expect("batch commits");
        assert!(
            outcomes
                .iter()
                .all(|o| matches!(o, GroupOutcome::Committed(_))),
            "a funded spend must succeed"
        );
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        latencies.extend(std::iter::repeat_n(ms, groups.len()));
    }
    latencies.sort_by(f64::total_cmp);
    latencies
}

/// A fresh PostgreSQL database next to the one `admin_url` names: its name and URL.
async fn fresh_postgres(admin_url: &str) -> (String, String) {
    let name = format!(
        "medrt_bench_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let admin = Database::connect(admin_url).await.expect("PostgreSQL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, String::new()), |(b, q)| (b, format!("?{q}")));
    let url = format!(
        "{}/{name}{query}",
        base.rsplit_once('/').map_or(base, |(root, _)| root)
    );
    (name, url)
}

/// Drops a database `fresh_postgres` made, once its run is over.
async fn drop_postgres(admin_url: &str, name: &str) {
    let admin = Database::connect(admin_url).await.expect("PostgreSQL");
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .expect("drop database");
}

#[tokio::main]
async fn main() {
    let mut seconds = 3.0;
    let mut clients_list: Vec<usize> = CLIENTS.to_vec();
    let mut paths = vec![Path::Actors, Path::Naive, Path::Store];
    let mut keys = Keys::Ordered;
    let mut commit = support::batches_of(1024);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("--seconds N")
            }
            "--clients" => {
                let list = args.next().expect("--clients N[,N]");
                clients_list = list
                    .split(',')
                    .map(|n| n.parse().expect("a number"))
                    .collect();
            }
            "--path" => {
                paths = match args.next().as_deref() {
                    Some("actors") => vec![Path::Actors],
                    Some("naive") => vec![Path::Naive],
                    Some("store") => vec![Path::Store],
                    _ => panic!("--path actors|naive|store"),
                }
            }
            "--keys" => {
                keys = match args.next().as_deref() {
                    Some("ordered") => Keys::Ordered,
                    Some("random") => Keys::Random,
                    _ => panic!("--keys ordered|random"),
                }
            }
            "--commit-delay-us" => {
                let us = args.next().and_then(|s| s.parse().ok());
                commit.commit_delay = Duration::from_micros(us.expect("--commit-delay-us N"));
            }
            "--batch-max" => {
                let n = args.next().and_then(|s| s.parse().ok());
                commit.batch_max = n.expect("--batch-max N");
            }
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    let postgres = std::env::var("MEDRT_BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("MEDRT_TEST_DATABASE_URL"))
        .ok();
    let mut rows = Vec::new();
    for &clients in &clients_list {
        for &path in &paths {
            let file = support::sqlite_file("bench");
            rows.push(run("SQLite", &file.url, path, clients, seconds, keys, commit).await);
            eprintln!("  sqlite {clients} clients done");
            if let Some(admin) = &postgres {
                let (name, url) = fresh_postgres(admin).await;
                rows.push(run("PostgreSQL", &url, path, clients, seconds, keys, commit).await);
                drop_postgres(admin, &name).await;
                eprintln!("  postgres {clients} clients done");
            }
        }
    }
    if postgres.is_none() {
        eprintln!("PostgreSQL skipped: set MEDRT_BENCH_DATABASE_URL=postgres://user@host/postgres");
    }
    println!();
    println!(
        "| database | path | clients | transfers/s | p50 | p99 | transfers | books balanced |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms | {} | {} |",
            r.database,
            r.path,
            r.clients,
            r.per_sec,
            r.p50_ms,
            r.p99_ms,
            r.transfers,
            if r.balanced { "yes" } else { "NO" }
        );
    }
    assert!(rows.iter().all(|r| r.balanced), "an invariant was violated");
}
