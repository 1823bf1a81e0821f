//! `commissions`: (a) latency from `POST /orders/{no}/pay` to `commission.update` at
//! each of the three upline distributors' WebSocket sessions, paying orders at a steady
//! rate, and (b) settlement throughput: time to settle a million pending commissions.
//! Both run on the embedded backends (SQLite, in-process bus) and, when
//! `MEDRT_TEST_DATABASE_URL`, `MEDRT_TEST_NATS_URL` and `MEDRT_TEST_REDIS_URL` are set,
//! on PostgreSQL + NATS + Redis.
//!
//! Run: `make bench` or `cargo bench -p medrt-tests --bench commissions -- [--orders 1000]
//! [--rate 100] [--commissions 1000000] [--batch 50000] [--workers 2]`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use medrt_actors::distribution::{SettlementSettings, settle_all};
use medrt_actors::store::{DatabaseSettings, NewUser, Store};
use medrt_domain::account::Username;
use medrt_domain::distribution::ReferralCode;
use medrt_domain::ids::{CommissionId, DistributorId, OrderNo, UserId};
use medrt_domain::role::Role;
use medrt_tests::client::{Account, ApiClient};
use medrt_tests::{Services, TestApp, TestBackend, WsClient};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement, Value};
use serde_json::json;

struct Args {
    orders: usize,
    rate: f64,
    commissions: usize,
    batch: u64,
    workers: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        orders: 1_000,
        rate: 100.0,
        commissions: 1_000_000,
        batch: 50_000,
        workers: 2,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--orders" => args.orders = value().parse().expect("--orders N"),
            "--rate" => args.rate = value().parse().expect("--rate orders/s"),
            "--commissions" => args.commissions = value().parse().expect("--commissions N"),
            "--batch" => args.batch = value().parse().expect("--batch N"),
            "--workers" => args.workers = value().parse().expect("--workers N"),
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

struct LatencyRow {
    backend: &'static str,
    orders: usize,
    achieved_rate: f64,
    received: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

async fn chain(api: &ApiClient) -> Vec<Account> {
    let mut members: Vec<Account> = Vec::new();
    let mut code: Option<String> = None;
    for _ in 0..4 {
        let who = api.signup("distributor").await;
        let body = code.map_or(json!({}), |c| json!({"referral_code": c}));
        let joined = api.post("/distributors", Some(&who.token), body).await;
        assert_eq!(joined.status, 201, "{:?}", joined.body);
        code = Some(joined.body["referral_code"].as_str().unwrap().to_owned());
        members.push(who);
    }
    members
}

async fn latency(backend: TestBackend, label: &'static str, args: &Args) -> LatencyRow {
    let app = TestApp::spawn(backend, &[]).await;
    let root = app.api.super_admin().await;
    let rules = json!({"levels": ["0.10", "0.05", "0.02"], "settlement_days": 7});
    let set = app
        .api
        .request(
            Method::PUT,
            "/admin/commission-rules",
            Some(&root.token),
            Some(rules),
        )
        .await;
    assert_eq!(set.status, 200);
    let members = chain(&app.api).await;
    let buyer = &members[3];
    let product = app
        .api
        .post(
            "/admin/products",
            Some(&root.token),
            json!({"name": "blood pressure monitor", "price": "299.00", "category": "medical_device"}),
        )
        .await;
    let product_id = product.body["product_id"].as_str().unwrap().to_owned();
    let mut orders = Vec::with_capacity(args.orders);
    for _ in 0..args.orders {
        let o = app
            .api
            .post(
                "/orders",
                Some(&buyer.token),
                json!({"items": [{"product_id": product_id, "qty": 1}]}),
            )
            .await;
        orders.push(o.body["order_no"].as_str().unwrap().to_owned());
    }
    let mut listeners = Vec::new();
    for member in &members[..3] {
        let mut ws = WsClient::connect(&app.ws_url(), &member.token).await;
        let reply = ws.subscribe(&format!("user:{}", member.id), None).await;
        assert_eq!(reply["type"], "subscribed");
        let expected = args.orders;
        listeners.push(tokio::spawn(async move {
            let mut arrivals: HashMap<String, Instant> = HashMap::with_capacity(expected);
            while arrivals.len() < expected {
                match ws.try_recv(Duration::from_secs(10)).await {
                    Some(frame) if frame["type"] == "commission.update" => {
                        let no = frame["order_no"].as_str().unwrap_or_default().to_owned();
                        arrivals.entry(no).or_insert_with(Instant::now);
                    }
                    Some(_) => {}
                    None => break,
                }
            }
            arrivals
        }));
    }
    let mut sent: HashMap<String, Instant> = HashMap::with_capacity(args.orders);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.rate));
    let started = Instant::now();
    for (i, no) in orders.iter().enumerate() {
        tick.tick().await;
        sent.insert(no.clone(), Instant::now());
        let paid = app
            .api
            .post(
                &format!("/orders/{no}/pay"),
                Some(&buyer.token),
                json!({"payment_ref": format!("bench-{i}")}),
            )
            .await;
        assert_eq!(paid.status, 200, "{:?}", paid.body);
    }
    let achieved_rate = args.orders as f64 / started.elapsed().as_secs_f64();
    let mut samples = Vec::with_capacity(args.orders * 3);
    for listener in listeners {
        for (no, at) in listener.await.expect("listener") {
            if let Some(t0) = sent.get(&no) {
                samples.push(at.duration_since(*t0).as_secs_f64() * 1e3);
            }
        }
    }
    samples.sort_by(f64::total_cmp);
    app.shutdown().await;
    LatencyRow {
        backend: label,
        orders: args.orders,
        achieved_rate,
        received: samples.len(),
        p50_ms: percentile(&samples, 50.0),
        p99_ms: percentile(&samples, 99.0),
        max_ms: *samples.last().unwrap_or(&f64::NAN),
    }
}

struct SettleRow {
    backend: &'static str,
    commissions: usize,
    batch: u64,
    workers: usize,
    seconds: f64,
    per_sec: f64,
}

/// `rows` tuples of `columns` placeholders for `backend`.
fn placeholders(backend: DbBackend, rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (0..columns)
                .map(|c| match backend {
                    DbBackend::Postgres => format!("${}", r * columns + c + 1),
                    _ => "?".to_owned(),
                })
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn settlement(url: &str, label: &'static str, args: &Args) -> SettleRow {
    const DISTRIBUTORS: usize = 1_000;
    const LEVELS: usize = 10;
    let store = Store::connect(&DatabaseSettings {
        max_connections: 4,
        connect_timeout_ms: 10_000,
        acquire_timeout_ms: 60_000,
        sqlite_busy_timeout_ms: 60_000,
        ..DatabaseSettings::with_url(url)
    })
    .await
    .expect("database");
    store.migrate().await.expect("migrations");
    let mut distributors: Vec<(DistributorId, UserId)> = Vec::with_capacity(DISTRIBUTORS);
    for n in 0..DISTRIBUTORS {
        let user = store
            .users()
            .create(NewUser {
                username: Username::parse(&format!("distributor{n}")).unwrap(),
                password_hash: "unused".into(),
                role: Role::Distributor,
                email: None,
                phone: None,
                parent: None,
                referred_by: None,
            })
            .await
            .expect("user");
        let record = store
            .distributors()
            .join(user.id, None, || {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(&uuid::Uuid::new_v4().as_bytes()[..8]);
                ReferralCode::from_entropy(bytes)
            })
            .await
            .expect("distributor");
        distributors.push((record.id, user.id));
    }

    // Seed paid orders and their pending commissions directly: the pay path is measured
    // by part (a); here only the settlement is timed.
    let db = Database::connect(url).await.expect("seed connection");
    let backend = db.get_database_backend();
    let now = Utc::now();
    let due = now - chrono::Duration::days(8);
    let orders = args.commissions.div_ceil(LEVELS);
    let mut pending_per: HashMap<DistributorId, i64> = HashMap::new();
    let mut made = 0usize;
    eprintln!(
        "  {label}: seeding {} pending commissions on {orders} orders",
        args.commissions
    );
    const ORDER_COLUMNS: usize = 12;
    const COMMISSION_COLUMNS: usize = 15;
    let chunk_orders = 2_000 / LEVELS;
    for first in (0..orders).step_by(chunk_orders) {
        let count = chunk_orders.min(orders - first);
        let mut order_values: Vec<Value> = Vec::with_capacity(count * ORDER_COLUMNS);
        let mut commission_values: Vec<Value> =
            Vec::with_capacity(count * LEVELS * COMMISSION_COLUMNS);
        let mut commission_rows = 0;
        for n in first..first + count {
            let no = OrderNo::generate().to_string();
            let buyer = distributors[n % DISTRIBUTORS].1;
            order_values.extend([
                no.clone().into(),
                buyer.as_uuid().into(),
                "paid".into(),
                10_000i64.into(),
                0i64.into(),
                10_000i64.into(),
                0i64.into(),
                Value::String(None),
                "[]".into(),
                format!("seed-{n}").into(),
                now.into(),
                now.into(),
            ]);
            for level in 1..=LEVELS {
                if made == args.commissions {
                    break;
                }
                made += 1;
                commission_rows += 1;
                let distributor = distributors[(n * LEVELS + level) % DISTRIBUTORS].0;
                *pending_per.entry(distributor).or_default() += 100;
                commission_values.extend([
                    CommissionId::generate().as_uuid().into(),
                    no.clone().into(),
                    (level as i32).into(),
                    distributor.as_uuid().into(),
                    "0.01".into(),
                    10_000i64.into(),
                    100i64.into(),
                    0i64.into(),
                    0i64.into(),
                    0i64.into(),
                    0i64.into(),
                    0i64.into(),
                    "pending".into(),
                    due.into(),
                    due.into(),
                ]);
            }
        }
        let sql = format!(
            "INSERT INTO orders (order_no, user_id, status, subtotal_cents, discount_cents, total_cents, \
             refunded_cents, coupon_code, beneficiaries, payment_ref, created_at, paid_at) VALUES {}",
            placeholders(backend, count, ORDER_COLUMNS)
        );
        db.execute_raw(Statement::from_sql_and_values(backend, sql, order_values))
            .await
            .expect("seed orders");
        let sql = format!(
            "INSERT INTO commissions (id, order_no, level, distributor_id, rate, base_cents, pending_cents, \
             settled_cents, paid_out_cents, reversed_cents, clawed_back_cents, voided_cents, status, due_at, \
             created_at) VALUES {}",
            placeholders(backend, commission_rows, COMMISSION_COLUMNS)
        );
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            commission_values,
        ))
        .await
        .expect("seed commissions");
    }
    for (distributor, cents) in &pending_per {
        let p = |i: usize| match backend {
            DbBackend::Postgres => format!("${i}"),
            _ => "?".to_owned(),
        };
        let sql = format!(
            "UPDATE commission_totals SET pending_cents = {} WHERE distributor_id = {}",
            p(1),
            p(2)
        );
        db.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [(*cents).into(), distributor.as_uuid().into()],
        ))
        .await
        .expect("seed totals");
    }
    db.close().await.ok();

    eprintln!("  {label}: settling");
    let settings = SettlementSettings {
        interval_secs: 60,
        batch: args.batch,
        workers: args.workers,
    };
    let started = Instant::now();
    let settled = settle_all(&store, &settings)
        .await
        .expect("settle")
        .commissions;
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        settled as usize, args.commissions,
        "every seeded commission settles"
    );
    // The totals moved with the rows, cent for cent.
    for (distributor, cents) in &pending_per {
        let totals = store
            .commissions()
            .totals(*distributor)
            .await
            .expect("totals");
        assert_eq!(
            (totals.pending.cents(), totals.settled.cents() as i64),
            (0, *cents),
            "{distributor}"
        );
    }
    let again = store
        .commissions()
        .settle_due(Utc::now(), args.batch)
        .await
        .expect("settle again");
    assert_eq!(again.commissions, 0, "settling twice moves nothing");
    store.close().await;
    SettleRow {
        backend: label,
        commissions: args.commissions,
        batch: args.batch,
        workers: args.workers,
        seconds,
        per_sec: args.commissions as f64 / seconds,
    }
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let services = Services::from_env();
    if services.is_none() {
        eprintln!(
            "PostgreSQL + NATS + Redis skipped: set MEDRT_TEST_DATABASE_URL, MEDRT_TEST_NATS_URL, MEDRT_TEST_REDIS_URL"
        );
    }

    let mut latencies = Vec::new();
    eprintln!(
        "pay → commission.update, {} orders at {}/s",
        args.orders, args.rate
    );
    latencies.push(latency(TestBackend::embedded(), "SQLite + in-process bus", &args).await);
    if let Some(s) = &services {
        latencies.push(
            latency(
                TestBackend::on_services(s).await,
                "PostgreSQL + NATS + Redis",
                &args,
            )
            .await,
        );
    }
    println!("\n(a) pay → commission.update at 3 upline sessions");
    println!("| backend | orders | paid/s | updates received | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for r in &latencies {
        println!(
            "| {} | {} | {:.1} | {} | {:.2} | {:.2} | {:.2} |",
            r.backend, r.orders, r.achieved_rate, r.received, r.p50_ms, r.p99_ms, r.max_ms
        );
    }

    let mut settles = Vec::new();
    let sqlite = TestBackend::embedded();
    settles.push(settlement(&sqlite.database_url, "SQLite", &args).await);
    if let Some(s) = &services {
        let pg = TestBackend::on_services(s).await;
        settles.push(settlement(&pg.database_url, "PostgreSQL", &args).await);
    }
    println!("\n(b) settlement of pending commissions");
    println!("| database | commissions | batch | workers | seconds | commissions/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &settles {
        println!(
            "| {} | {} | {} | {} | {:.2} | {:.0} |",
            r.backend, r.commissions, r.batch, r.workers, r.seconds, r.per_sec
        );
    }
}
