//! Upgrading a database that already holds transfers and accounts: the ledger's lean
//! schema (migration 13) keeps every row readable and still lets a hold settle only
//! once; accounts written with a `user_id` (before migration 14) keep their balances
//! and keep moving; transfers written before migration 15 are linked into their
//! accounts' history chains; accounts clustered by their key on SQLite (migration 16)
//! keep their totals and chains, both ways.

use medrt_actors::store::{DatabaseSettings, GroupOutcome, PageRequest, Store};
use medrt_domain::ids::UserId;
use medrt_domain::ledger::{
    AccountRef, Amount, IdempotencyKey, Phase, PointKind, Reason, SystemAccount, TransferSpec,
};
use medrt_migrations::{Migrator, MigratorTrait};
use medrt_tests::TestBackend;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, Value};

const BEFORE_LEAN_SCHEMA: u32 = 12;
const BEFORE_ACCOUNTS_WITHOUT_USER: u32 = 13;
const BEFORE_HISTORY_CHAINS: u32 = 14;
const BEFORE_CLUSTERED_ACCOUNTS: u32 = 15;
const BEFORE_BYTEWISE_KEYS: u32 = 16;

/// A fresh database migrated up to (and including) migration `version`.
async fn database_at(version: u32) -> (TestBackend, DatabaseConnection, DbBackend) {
    let backend = TestBackend::new().await;
    let db = Database::connect(backend.database_url.as_str())
        .await
        .unwrap();
    Migrator::up(&db, Some(version)).await.unwrap();
    let kind = db.get_database_backend();
    (backend, db, kind)
}

/// Closes the migration's connection and opens the store on the same database.
async fn reopen_as_store(db: DatabaseConnection, backend: &TestBackend) -> Store {
    db.close().await.unwrap();
    Store::connect(&DatabaseSettings::with_url(&backend.database_url))
        .await
        .unwrap()
}

/// The backend's placeholders for parameters 1 to `n`.
fn placeholders(backend: DbBackend, n: usize) -> Vec<String> {
    (1..=n)
        .map(|i| match backend {
            DbBackend::Postgres => format!("${i}"),
            _ => "?".to_owned(),
        })
        .collect()
}

/// A transfer row written straight into the table, as an older release would have.
struct OldRow<'a> {
    key: &'a str,
    phase: &'a str,
    settles: Option<uuid::Uuid>,
    /// The column before migration 13; `None` after it.
    fingerprint: Option<&'a str>,
}

fn insert(backend: DbBackend, id: uuid::Uuid, payer: &str, row: OldRow<'_>) -> Statement {
    let p = placeholders(backend, 12);
    let (columns, values) = match row.fingerprint {
        Some(_) => (", fingerprint", format!(", {}", p[11])),
        None => ("", String::new()),
    };
    let sql = format!(
        "INSERT INTO ledger_transfers (id, idempotency_key, debit_account, credit_account, kind, \
         amount, reason, reference, phase, settles, created_at{columns}) \
         VALUES ({}{values})",
        p[..11].join(", ")
    );
    let mut params: Vec<Value> = vec![
        id.into(),
        row.key.into(),
        payer.into(),
        "s:revenue:high".into(),
        "high".into(),
        40i64.into(),
        "charge".into(),
        Value::String(Some("task:lean".to_owned())),
        row.phase.into(),
        Value::Uuid(row.settles),
        chrono::Utc::now().into(),
    ];
    if let Some(f) = row.fingerprint {
        params.push(f.into());
    }
    Statement::from_sql_and_values(backend, sql, params)
}

#[tokio::test]
async fn the_lean_ledger_schema_keeps_existing_transfers_and_single_settlement() {
    let (backend, db, kind) = database_at(BEFORE_LEAN_SCHEMA).await;

    let user = UserId::generate();
    let payer = format!("u:{user}:high");
    let (hold, post) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    for (id, key, phase, settles) in [
        (hold, "old-hold", "pending", None),
        (post, "old-post", "post", Some(hold)),
    ] {
        let row = OldRow {
            key,
            phase,
            settles,
            fingerprint: Some("old"),
        };
        db.execute_raw(insert(kind, id, &payer, row)).await.unwrap();
    }

    // `up` counts the migrations it applies: 13 and 14.
    Migrator::up(&db, Some(BEFORE_HISTORY_CHAINS - BEFORE_LEAN_SCHEMA))
        .await
        .unwrap();
    // The payer's account row, which a history starts from once migration 15 links it.
    db.execute_unprepared(&format!(
        "INSERT INTO ledger_accounts (account, kind, debits_posted, credits_posted, \
         debits_pending, credits_pending) VALUES ('{payer}', 'high', 0, 0, 0, 0)"
    ))
    .await
    .unwrap();

    // A second settlement of the same hold is refused by the database itself.
    let again = OldRow {
        key: "new-void",
        phase: "void",
        settles: Some(hold),
        fingerprint: None,
    };
    let refused = db
        .execute_raw(insert(kind, uuid::Uuid::now_v7(), &payer, again))
        .await;
    assert!(refused.is_err(), "a hold settled twice");
    // Transfers without a settlement (NULL) are not limited to one. (Written before
    // migration 15, which links every transfer into its accounts' histories.)
    for key in ["new-1", "new-2"] {
        let row = OldRow {
            key,
            phase: "posted",
            settles: None,
            fingerprint: None,
        };
        db.execute_raw(insert(kind, uuid::Uuid::now_v7(), &payer, row))
            .await
            .unwrap();
    }
    Migrator::up(&db, None).await.unwrap();
    let store = reopen_as_store(db, &backend).await;
    let page = store
        .ledger()
        .history(
            user,
            PageRequest {
                limit: 10,
                after: None,
            },
        )
        .await
        .unwrap();
    let phases: Vec<(uuid::Uuid, Phase)> = page
        .items
        .iter()
        .map(|t| (t.id.as_uuid(), t.spec.phase))
        .collect();
    assert_eq!(phases.len(), 4, "{phases:?}");
    assert!(phases.contains(&(hold, Phase::Pending)));
    assert!(
        phases
            .iter()
            .any(|(id, p)| *id == post && matches!(p, Phase::Post(h) if h.as_uuid() == hold))
    );
}

#[tokio::test]
async fn accounts_written_with_a_user_column_keep_their_balances() {
    let (backend, db, kind) = database_at(BEFORE_ACCOUNTS_WITHOUT_USER).await;
    let user = UserId::generate();
    let account = AccountRef::user(user, PointKind::High);
    let issuance = AccountRef::system(SystemAccount::Issuance, PointKind::High);
    let p = placeholders(kind, 4);
    let insert = format!(
        "INSERT INTO ledger_accounts (account, user_id, kind, debits_posted, credits_posted, \
         debits_pending, credits_pending) VALUES ({}, {}, 'high', {}, {}, 0, 0)",
        p[0], p[1], p[2], p[3]
    );
    let old_row = |name: &AccountRef, owner: Option<uuid::Uuid>, debits: i64, credits: i64| {
        let values: Vec<Value> = vec![
            name.to_string().into(),
            Value::Uuid(owner),
            debits.into(),
            credits.into(),
        ];
        Statement::from_sql_and_values(kind, &insert, values)
    };
    db.execute_raw(old_row(&account, Some(user.as_uuid()), 0, 70))
        .await
        .unwrap();
    db.execute_raw(old_row(&issuance, None, 70, 0))
        .await
        .unwrap();

    Migrator::up(&db, None).await.unwrap();
    let other = AccountRef::user(UserId::generate(), PointKind::High);
    assert!(
        db.execute_raw(old_row(&other, Some(user.as_uuid()), 0, 0))
            .await
            .is_err(),
        "the user_id column is still there"
    );
    let store = reopen_as_store(db, &backend).await;
    assert_eq!(
        store.ledger().balance(account).await.unwrap().available(),
        70
    );
    let spend = TransferSpec::posted(
        IdempotencyKey::parse("after-upgrade").unwrap(),
        account,
        AccountRef::system(SystemAccount::Revenue, PointKind::High),
        Amount::new(30).unwrap(),
        Reason::Charge,
        None,
    );
    committed(&store, spend).await;
    assert_eq!(
        store.ledger().balance(account).await.unwrap().available(),
        40
    );
    assert!(store.ledger().audit().await.unwrap().balanced());
}

#[tokio::test]
async fn histories_written_before_chains_are_linked_in_id_order() {
    let (backend, db, kind) = database_at(BEFORE_HISTORY_CHAINS).await;
    let (user, other) = (UserId::generate(), UserId::generate());
    let p = placeholders(kind, 5);
    let transfer_sql = format!(
        "INSERT INTO ledger_transfers (id, idempotency_key, debit_account, credit_account, \
         kind, amount, reason, phase, created_at) VALUES ({}, {}, {}, {}, {}, 10, 'grant', \
         'posted', '2026-11-01T00:00:00Z')",
        p[0], p[1], p[2], p[3], p[4]
    );
    // Grants of both kinds to `user`, interleaved, and one to someone else.
    let mut grants = Vec::new();
    for (i, (owner, points)) in [
        (user, PointKind::High),
        (user, PointKind::Low),
        (other, PointKind::High),
        (user, PointKind::High),
        (user, PointKind::High),
        (user, PointKind::Low),
    ]
    .into_iter()
    .enumerate()
    {
        let id = uuid::Uuid::now_v7();
        let values: Vec<Value> = vec![
            id.into(),
            format!("old-{i}").into(),
            AccountRef::system(SystemAccount::Issuance, points)
                .to_string()
                .into(),
            AccountRef::user(owner, points).to_string().into(),
            points.as_str().into(),
        ];
        db.execute_raw(Statement::from_sql_and_values(kind, &transfer_sql, values))
            .await
            .unwrap();
        if owner == user {
            grants.push(id);
        }
    }
    let account_sql = format!(
        "INSERT INTO ledger_accounts (account, kind, debits_posted, credits_posted, \
         debits_pending, credits_pending) VALUES ({}, {}, {}, {}, 0, 0)",
        p[0], p[1], p[2], p[3]
    );
    for (account, debits, credits) in [
        (AccountRef::user(user, PointKind::High), 0i64, 30i64),
        (AccountRef::user(user, PointKind::Low), 0, 20),
        (AccountRef::user(other, PointKind::High), 0, 10),
        (
            AccountRef::system(SystemAccount::Issuance, PointKind::High),
            40,
            0,
        ),
        (
            AccountRef::system(SystemAccount::Issuance, PointKind::Low),
            20,
            0,
        ),
    ] {
        let values: Vec<Value> = vec![
            account.to_string().into(),
            account.kind.as_str().into(),
            debits.into(),
            credits.into(),
        ];
        db.execute_raw(Statement::from_sql_and_values(kind, &account_sql, values))
            .await
            .unwrap();
    }

    Migrator::up(&db, None).await.unwrap();
    let store = reopen_as_store(db, &backend).await;
    let newest_first = |mut ids: Vec<uuid::Uuid>| {
        ids.reverse();
        ids
    };
    assert_eq!(history(&store, user).await, newest_first(grants.clone()));

    let spend = TransferSpec::posted(
        IdempotencyKey::parse("after-chains").unwrap(),
        AccountRef::user(user, PointKind::Low),
        AccountRef::system(SystemAccount::Revenue, PointKind::Low),
        Amount::new(5).unwrap(),
        Reason::Charge,
        None,
    );
    grants.push(committed(&store, spend).await);
    assert_eq!(history(&store, user).await, newest_first(grants));
    assert_eq!(history(&store, other).await.len(), 1);
    assert!(store.ledger().audit().await.unwrap().balanced());
}

#[tokio::test]
async fn accounts_clustered_by_key_keep_their_totals_and_chains_both_ways() {
    let (backend, db, kind) = database_at(BEFORE_CLUSTERED_ACCOUNTS).await;
    if kind == DbBackend::Sqlite {
        assert!(!clustered(&db).await, "clustered before migration 16");
    }
    Migrator::up(&db, None).await.unwrap();
    let store = reopen_as_store(db, &backend).await;
    let user = UserId::generate();
    let mut ids = Vec::new();
    for spec in [
        grant_of_50(user),
        TransferSpec::posted(
            IdempotencyKey::parse("spend").unwrap(),
            AccountRef::user(user, PointKind::High),
            AccountRef::system(SystemAccount::Revenue, PointKind::High),
            Amount::new(20).unwrap(),
            Reason::Charge,
            None,
        ),
    ] {
        ids.insert(0, committed(&store, spec).await);
    }
    store.close().await;

    // Down to the rowid table and up again: nothing is lost either way.
    let db = Database::connect(backend.database_url.as_str())
        .await
        .unwrap();
    if kind == DbBackend::Sqlite {
        assert!(clustered(&db).await, "not clustered after migration 16");
        // Every migration after 16 is undone too, then 16 itself.
        let after_16 = Migrator::migrations().len() as u32 - BEFORE_CLUSTERED_ACCOUNTS;
        Migrator::down(&db, Some(after_16)).await.unwrap();
        assert!(!clustered(&db).await, "still clustered once undone");
        Migrator::up(&db, None).await.unwrap();
    }
    let store = reopen_as_store(db, &backend).await;
    let high = AccountRef::user(user, PointKind::High);
    assert_eq!(store.ledger().balance(high).await.unwrap().available(), 30);
    assert_eq!(history(&store, user).await, ids);
    assert!(store.ledger().audit().await.unwrap().balanced());
}

#[tokio::test]
async fn bytewise_keys_keep_the_ledger_both_ways() {
    let (backend, db, kind) = database_at(BEFORE_BYTEWISE_KEYS).await;
    Migrator::up(&db, None).await.unwrap();
    let store = reopen_as_store(db, &backend).await;
    let user = UserId::generate();
    let ids = vec![committed(&store, grant_of_50(user)).await];
    store.close().await;

    let db = Database::connect(backend.database_url.as_str())
        .await
        .unwrap();
    if kind == DbBackend::Postgres {
        assert_eq!(key_collation(&db).await.as_deref(), Some("C"));
        Migrator::down(&db, Some(1)).await.unwrap();
        assert_eq!(
            key_collation(&db).await,
            None,
            "the default collation once undone"
        );
        Migrator::up(&db, None).await.unwrap();
        assert_eq!(key_collation(&db).await.as_deref(), Some("C"));
    }
    let store = reopen_as_store(db, &backend).await;
    let high = AccountRef::user(user, PointKind::High);
    assert_eq!(store.ledger().balance(high).await.unwrap().available(), 50);
    assert_eq!(history(&store, user).await, ids);
    assert!(store.ledger().audit().await.unwrap().balanced());
}

/// 50 `high` points granted to `user`.
fn grant_of_50(user: UserId) -> TransferSpec {
    let key = IdempotencyKey::parse("grant").unwrap();
    TransferSpec::grant(key, user, PointKind::High, Amount::new(50).unwrap())
}

/// The collation PostgreSQL's account names have, if not the database's default.
async fn key_collation(db: &DatabaseConnection) -> Option<String> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT collation_name FROM information_schema.columns \
             WHERE table_name = 'ledger_accounts' AND column_name = 'account'",
        ))
        .await
        .unwrap()
        .expect("the account column");
    row.try_get("", "collation_name").unwrap()
}

/// Whether SQLite keeps the accounts in one B-tree ordered by their key.
async fn clustered(db: &DatabaseConnection) -> bool {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT sql FROM sqlite_master WHERE name = 'ledger_accounts'",
        ))
        .await
        .unwrap()
        .expect("the accounts table");
    let sql: String = row.try_get("", "sql").unwrap();
    sql.contains("WITHOUT ROWID")
}

/// Commits `spec` on its own; the id of the transfer, which must have committed.
async fn committed(store: &Store, spec: TransferSpec) -> uuid::Uuid {
    let outcomes = store.ledger().commit(&[vec![spec]]).await.unwrap();
    let [GroupOutcome::Committed(done)] = outcomes.as_slice() else {
        panic!("{outcomes:?}");
    };
    done[0].id.as_uuid()
}

/// `user`'s whole history, two transfers a page.
async fn history(store: &Store, user: UserId) -> Vec<uuid::Uuid> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .ledger()
            .history(user, PageRequest::new(Some(2), after))
            .await
            .unwrap();
        ids.extend(page.items.iter().map(|t| t.id.as_uuid()));
        match page.next_cursor {
            Some(next) => after = Some(next),
            None => return ids,
        }
    }
}
