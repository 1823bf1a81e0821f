//! `ws_fanout`: N authenticated WebSocket sessions subscribed to one topic; events
//! committed through the API fan out to all of them. Reports server memory per session,
//! commit-to-receipt latency, deliveries per second and server CPU time.
//!
//! Run: `make bench` or `cargo bench -p medrt-tests --bench ws_fanout -- [--sessions 1000,10000]
//! [--events 20] [--rate 2]`. Uses the release `medrt` binary next to the bench.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt, stream};
use medrt_tests::{NodeProcess, TestBackend};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

struct Args {
    sessions: Vec<usize>,
    events: usize,
    rate_per_sec: f64,
}

fn parse_args() -> Args {
    let mut args = Args {
        sessions: vec![1_000, 10_000],
        events: 20,
        rate_per_sec: 2.0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--sessions" => {
                args.sessions = value()
                    .split(',')
                    .map(|n| n.parse().expect("--sessions N[,N]"))
                    .collect()
            }
            "--events" => args.events = value().parse().expect("--events M"),
            "--rate" => args.rate_per_sec = value().parse().expect("--rate events/s"),
            // cargo bench passes --bench; anything else is a mistake.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

/// Raises the open-file limit to its hard maximum (inherited by the server).
fn raise_fd_limit() -> u64 {
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        limit.rlim_cur
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("proc stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .expect("stat")
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Row {
    sessions: usize,
    rss_per_session_kib: f64,
    p50_ms: f64,
    p95_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    deliveries_per_sec: f64,
    cpu_secs: f64,
    delivered: usize,
    expected: usize,
}

async fn run(sessions: usize, events: usize, rate: f64) -> Row {
    let backend = TestBackend::new().await;
    let node = NodeProcess::start(
        &backend,
        &[
            ("MEDRT__WS__SESSIONS_PER_USER_MAX", "100000"),
            ("MEDRT__WS__HEARTBEAT_INTERVAL_MS", "15000"),
            ("MEDRT__WS__HEARTBEAT_TIMEOUT_MS", "45000"),
            ("MEDRT__WS__WRITE_TIMEOUT_MS", "10000"),
            ("MEDRT__LOG__FILTER", "warn"),
        ],
    )
    .await;
    let pid = node.pid();
    let root = node.api.super_admin().await;
    // One user per hundred sessions, like people with phones, tablets and browser tabs.
    let mut tokens = Vec::new();
    for _ in 0..sessions.div_ceil(100) {
        tokens.push(node.api.signup("patient").await.token);
    }
    // Warm the server up (allocator arenas, SQLite cache) before the baseline.
    node.api
        .post(
            "/admin/announcements",
            Some(&root.token),
            json!({"title": "warm-up", "body": "x"}),
        )
        .await;
    let rss_before = rss_kib(pid);

    let url = node.ws_url();
    let connect_started = Instant::now();
    let clients: Vec<_> = stream::iter(0..sessions)
        .map(|i| {
            let url = format!("{url}?token={}", tokens[i / 100]);
            async move {
                let (mut ws, _) = tokio_tungstenite::connect_async(url)
                    .await
                    .expect("connect");
                ws.send(Message::text(
                    json!({"type": "subscribe", "topic": "announcements"}).to_string(),
                ))
                .await
                .expect("send");
                loop {
                    match ws.next().await.expect("open").expect("frame") {
                        Message::Text(t) if t.contains("\"subscribed\"") => break,
                        _ => continue,
                    }
                }
                ws
            }
        })
        .buffer_unordered(256)
        .collect()
        .await;
    let connect_secs = connect_started.elapsed().as_secs_f64();
    let rss_after = rss_kib(pid);
    eprintln!("  {sessions} sessions connected and subscribed in {connect_secs:.1}s");

    // Every client counts the announcements it receives and records their latency.
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut latencies_ms = Vec::with_capacity(events);
                let mut last_at = Instant::now();
                while latencies_ms.len() < events {
                    let next = tokio::time::timeout(Duration::from_secs(30), ws.next()).await;
                    let Ok(Some(Ok(Message::Text(text)))) = next else {
                        if matches!(next, Ok(Some(Ok(_)))) {
                            continue;
                        }
                        break;
                    };
                    let received = chrono::Utc::now();
                    // A substring scan, not a JSON parse: the client should cost the
                    // machine as little as possible so the figures are the server's.
                    if !text.contains(r#""type":"announcement""#) {
                        continue;
                    }
                    let at = text
                        .split(r#""at":""#)
                        .nth(1)
                        .and_then(|rest| rest.split('"').next())
                        .expect("at");
                    let at: chrono::DateTime<chrono::Utc> = at.parse().expect("RFC 3339 time");
                    latencies_ms.push((received - at).num_microseconds().unwrap() as f64 / 1000.0);
                    last_at = Instant::now();
                }
                (latencies_ms, last_at)
            })
        })
        .collect();

    let cpu_before = cpu_secs(pid);
    let started = Instant::now();
    let gap = Duration::from_secs_f64(1.0 / rate);
    for i in 0..events {
        let due = started + gap * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let reply = node
            .api
            .post(
                "/admin/announcements",
                Some(&root.token),
                json!({"title": format!("event {i}"), "body": "fan-out"}),
            )
            .await;
        assert!(reply.status.is_success(), "{:?}", reply.body);
    }
    let mut latencies = Vec::with_capacity(sessions * events);
    let mut finished = started;
    for reader in readers {
        let (l, last) = reader.await.expect("reader");
        latencies.extend(l);
        finished = finished.max(last);
    }
    let cpu = cpu_secs(pid) - cpu_before;
    let elapsed = (finished - started).as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    node.kill().await;
    Row {
        sessions,
        rss_per_session_kib: (rss_after.saturating_sub(rss_before)) as f64 / sessions as f64,
        p50_ms: percentile(&latencies, 0.50),
        p95_ms: percentile(&latencies, 0.95),
        p99_ms: percentile(&latencies, 0.99),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        deliveries_per_sec: latencies.len() as f64 / elapsed,
        cpu_secs: cpu,
        delivered: latencies.len(),
        expected: sessions * events,
    }
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let fds = raise_fd_limit();
    eprintln!(
        "ws_fanout: open-file limit {fds}; {} events at {}/s per run",
        args.events, args.rate_per_sec
    );
    let mut rows = Vec::new();
    for &n in &args.sessions {
        assert!(
            (n as u64) * 2 + 100 < fds * 2,
            "open-file limit {fds} is too low for {n} sessions"
        );
        rows.push(run(n, args.events, args.rate_per_sec).await);
    }
    println!();
    println!(
        "| sessions | RSS/session | p50 | p95 | p99 | max | deliveries/s | server CPU | delivered |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {:.1} KiB | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.0} | {:.2} s | {}/{} |",
            r.sessions,
            r.rss_per_session_kib,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.max_ms,
            r.deliveries_per_sec,
            r.cpu_secs,
            r.delivered,
            r.expected
        );
    }
}
