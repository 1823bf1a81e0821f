//! Many rows as one statement parameter: a JSON array of row arrays that the database
//! unpacks itself (`jsonb_each` on SQLite, `jsonb_array_elements` on PostgreSQL; the
//! binary form is parsed once, so reading a row's fields does not parse it again).
//!
//! A multi-row `VALUES` list makes the statement text depend on the row count, so
//! each new count is parsed and planned again and binds thousands of parameters. Here
//! the text is constant: it is prepared once per connection and a batch of any size
//! costs one round trip. (Measured with `bench ledger`; see the README.)

use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, Statement, Value};
use serde::Serialize;

use super::script::Script;

/// How a JSON field becomes a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    Text,
    BigInt,
    /// A UUID written as 32 hex digits (`Uuid::simple`), stored as the backend stores
    /// UUIDs (16-byte blob on SQLite, `uuid` on PostgreSQL).
    Uuid,
}

/// The placeholder for the statement's `n`th parameter (1-based).
pub(super) fn param(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

/// `SELECT <fields>, <extra> FROM <rows of parameter n>`, in array order. Fields are
/// named as given; `extra` are further select expressions (e.g. a shared timestamp).
pub(super) fn select(
    backend: DbBackend,
    n: usize,
    fields: &[(&str, Field)],
    extra: &[&str],
) -> String {
    let pg = backend == DbBackend::Postgres;
    let mut columns: Vec<String> = fields
        .iter()
        .enumerate()
        .map(|(i, (name, field))| match (pg, field) {
            (true, Field::Text) => format!("(r.value->>{i}) AS {name}"),
            (true, Field::BigInt) => format!("(r.value->>{i})::bigint AS {name}"),
            (true, Field::Uuid) => format!("(r.value->>{i})::uuid AS {name}"),
            (false, Field::Text | Field::BigInt) => format!("r.value->>{i} AS {name}"),
            (false, Field::Uuid) => format!("unhex(r.value->>{i}) AS {name}"),
        })
        .collect();
    columns.extend(extra.iter().map(|e| (*e).to_owned()));
    // SQLite's `jsonb_each` returns elements in rowid order and says so to the planner
    // (`orderByConsumed`) only for `ORDER BY rowid`; ordering by its `key` column
    // would copy every row through a sorter.
    let (source, order) = if pg {
        let source = format!(
            "jsonb_array_elements({}::jsonb) WITH ORDINALITY AS r(value, key)",
            param(backend, n)
        );
        (source, "r.key")
    } else {
        let source = format!("jsonb_each(jsonb({})) AS r", param(backend, n));
        (source, "r.rowid")
    };
    format!(
        "SELECT {} FROM {source} ORDER BY {order}",
        columns.join(", ")
    )
}

/// `<column> IN (<the values of parameter n>)`: one JSON parameter holding
/// `(value,)` rows, whatever their number.
pub(super) fn is_in(backend: DbBackend, n: usize, column: &str, field: Field) -> String {
    let values = select(backend, n, &[(column, field)], &[]);
    format!("{column} IN (SELECT k.{column} FROM ({values}) AS k)")
}

/// The JSON parameter holding `rows` (each row serialises as an array, e.g. a tuple).
pub(super) fn rows<R: Serialize>(rows: &[R]) -> Value {
    Value::String(Some(
        serde_json::to_string(rows).expect("rows of plain values serialise"),
    ))
}

/// `sql` with `rows` bound as its parameter 1 (see `select`) and `more` after it.
pub(super) fn statement<R: Serialize>(
    backend: DbBackend,
    sql: String,
    rows: &[R],
    more: impl IntoIterator<Item = Value>,
) -> Statement {
    Statement::from_sql_and_values(backend, sql, std::iter::once(self::rows(rows)).chain(more))
}

/// Appends `INSERT INTO <table> (<fields>, created_at)` one row per element of `rows`,
/// each stamped `now`, in one statement.
pub(super) fn push_insert_stamped<R: Serialize>(
    script: &mut Script,
    table: &str,
    fields: &[(&str, Field)],
    rows: &[R],
    now: DateTime<Utc>,
) {
    let backend = script.backend();
    let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    script.push(vec![self::rows(rows), Value::from(now)], |first| {
        let source = select(backend, first, fields, &[&param(backend, first + 1)]);
        format!(
            "INSERT INTO {table} ({}, created_at) {source}",
            names.join(", ")
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Database};

    #[tokio::test]
    async fn sqlite_unpacks_rows_in_order_with_their_types() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        let sql = select(
            DbBackend::Sqlite,
            1,
            &[("a", Field::Text), ("b", Field::BigInt), ("c", Field::Uuid)],
            &["?2 AS d"],
        );
        let id = uuid::Uuid::now_v7();
        let data = [("x", 3i64, Some(id.simple().to_string())), ("y", -1, None)];
        let found = db
            .query_all_raw(statement(
                DbBackend::Sqlite,
                sql,
                &data,
                [Value::from(7i64)],
            ))
            .await
            .unwrap();
        let got: Vec<(String, i64, Option<uuid::Uuid>, i64)> = found
            .iter()
            .map(|r| {
                (
                    r.try_get("", "a").unwrap(),
                    r.try_get("", "b").unwrap(),
                    r.try_get("", "c").unwrap(),
                    r.try_get("", "d").unwrap(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![("x".into(), 3, Some(id), 7), ("y".into(), -1, None, 7)]
        );
    }

    #[test]
    fn postgres_text_is_the_same_for_any_row_count() {
        let sql = select(DbBackend::Postgres, 1, &[("a", Field::BigInt)], &[]);
        assert_eq!(
            sql,
            "SELECT (r.value->>0)::bigint AS a FROM jsonb_array_elements($1::jsonb) \
             WITH ORDINALITY AS r(value, key) ORDER BY r.key"
        );
    }
}
