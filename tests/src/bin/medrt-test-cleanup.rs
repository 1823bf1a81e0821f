//! Removes what earlier service-suite runs left behind on the shared services: the
//! per-test PostgreSQL databases (`medrt_t<hex>`) and JetStream streams
//! (`MEDRT_T<HEX>_EVENTS`). Redis keys expire on their own.

use anyhow::Context;
use futures::TryStreamExt;
use sea_orm::{ConnectionTrait, Database, Statement};

fn is_test_name(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.len() == 12 && rest.chars().all(|c| c.is_ascii_hexdigit()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut dropped = (0, 0);
    if let Ok(url) = std::env::var("MEDRT_TEST_DATABASE_URL") {
        let db = Database::connect(&url)
            .await
            .context("connect to PostgreSQL")?;
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT datname FROM pg_database",
            ))
            .await?;
        for row in rows {
            let name: String = row.try_get("", "datname")?;
            if is_test_name(&name, "medrt_t") {
                db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                dropped.0 += 1;
            }
        }
    }
    if let Ok(url) = std::env::var("MEDRT_TEST_NATS_URL") {
        let client = async_nats::connect(&url).await.context("connect to NATS")?;
        let jetstream = async_nats::jetstream::new(client);
        let names: Vec<String> = jetstream.stream_names().try_collect().await?;
        for name in names {
            if name
                .strip_suffix("_EVENTS")
                .is_some_and(|n| is_test_name(n, "MEDRT_T"))
            {
                jetstream.delete_stream(&name).await?;
                dropped.1 += 1;
            }
        }
    }
    println!(
        "medrt-test-cleanup: dropped {} databases and {} streams",
        dropped.0, dropped.1
    );
    Ok(())
}
