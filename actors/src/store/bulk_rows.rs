//! Many rows as statement parameters, whatever their number, in a statement whose text
//! does not depend on it: it is prepared once per connection and a batch of any size
//! costs one round trip. A multi-row `VALUES` list would be parsed and planned again
//! for each new row count and bind thousands of parameters.
//!
//! SQLite takes the rows as one array of row arrays in its binary JSON (`jsonb`,
//! nothing to parse) and unpacks it itself (`jsonb_each`); fields every row agrees on
//! go once in a second array beside it (`jsonb_shared`), so the text depends on which
//! fields those are: a few variants, each prepared once. PostgreSQL takes one typed array
//! per column, sent in binary and unpacked by `unnest`: no text to parse, where JSON
//! cost it a parse of the document, numbers as `numeric` and every field read back
//! as text. (Measured with `bench ledger`; see the README.)

use chrono::{DateTime, Utc};
use sea_orm::sea_query::ArrayType;
use sea_orm::{DbBackend, Value};
use serde::Serialize;

use super::script::Script;
use super::{jsonb, jsonb_shared};

/// What a field of the rows holds, and so how it becomes a column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    Text,
    /// Text or `None` (PostgreSQL's arrays come with a mask of which are `None`).
    NullableText,
    BigInt,
    /// A UUID written as 32 hex digits (`Uuid::simple`), or `None`, stored as the
    /// backend stores UUIDs (16-byte blob on SQLite, `uuid` on PostgreSQL).
    Uuid,
}

impl Field {
    /// The parameters the field takes on `backend`.
    fn width(self, backend: DbBackend) -> usize {
        match (backend, self) {
            (DbBackend::Postgres, Field::NullableText) => 2,
            (DbBackend::Postgres, _) => 1,
            _ => 0,
        }
    }
}

/// `id` as a literal of the type a `Field::Uuid` column has on `backend`.
pub(super) fn uuid_literal(backend: DbBackend, id: uuid::Uuid) -> String {
    match backend {
        DbBackend::Postgres => format!("'{id}'::uuid"),
        _ => format!("x'{}'", id.simple()),
    }
}

/// How many parameters rows of `fields` take.
pub(super) fn width(backend: DbBackend, fields: &[(&str, Field)]) -> usize {
    match backend {
        DbBackend::Postgres => fields.iter().map(|(_, f)| f.width(backend)).sum(),
        _ => 1,
    }
}

/// The placeholder for the statement's `n`th parameter (1-based).
pub(super) fn param(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

/// A field written as its `Display` text, with no `String` in between.
pub(super) struct Text<T>(pub T);

impl<T: std::fmt::Display> Serialize for Text<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// How `values` bound a batch's rows, and so how `select` reads them back: on SQLite,
/// which fields are bound once for every row, and whether each row is its one other
/// field (see `jsonb_shared`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Bound<'a> {
    backend: DbBackend,
    fields: &'a [(&'a str, Field)],
    /// Bit `i` is set when field `i` is shared.
    shared: u64,
    bare: bool,
}

impl Bound<'_> {
    /// `SELECT <fields>, <extra> FROM <the rows, parameters n…>`, in row order. Fields
    /// are named as given; `extra` are further select expressions (e.g. a timestamp).
    pub fn select(&self, n: usize, extra: &[&str]) -> String {
        let backend = self.backend;
        if backend == DbBackend::Postgres {
            return select_arrays(n, self.fields, extra);
        }
        // Each field is read from its row or, when shared, from the parameter after the
        // rows, which SQLite reads once for the whole statement.
        let (mut in_row, mut in_shared) = (0, 0);
        let mut columns: Vec<String> = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, (name, field))| {
                let value = if self.shared & 1 << i != 0 {
                    in_shared += 1;
                    format!("{}->>{}", param(backend, n + 1), in_shared - 1)
                } else if self.bare {
                    "r.value".to_owned()
                } else {
                    in_row += 1;
                    format!("r.value->>{}", in_row - 1)
                };
                match field {
                    Field::Text | Field::NullableText | Field::BigInt => {
                        format!("{value} AS {name}")
                    }
                    Field::Uuid => format!("unhex({value}) AS {name}"),
                }
            })
            .collect();
        columns.extend(extra.iter().map(|e| (*e).to_owned()));
        // `jsonb_each` returns elements in rowid order and says so to the planner
        // (`orderByConsumed`) only for `ORDER BY rowid`; ordering by its `key` column
        // would copy every row through a sorter.
        format!(
            "SELECT {} FROM jsonb_each({}) AS r ORDER BY r.rowid",
            columns.join(", "),
            param(backend, n)
        )
    }
}

/// PostgreSQL's `select`: the columns' arrays side by side.
fn select_arrays(n: usize, fields: &[(&str, Field)], extra: &[&str]) -> String {
    let backend = DbBackend::Postgres;
    let mut arrays = Vec::new();
    let mut columns = Vec::new();
    for (name, field) in fields {
        let c = format!("c{}", arrays.len());
        let array = |ty: &str, k: usize| format!("{}::{ty}[]", param(backend, n + k));
        match field {
            Field::Text => {
                arrays.push(array("text", arrays.len()));
                columns.push(format!("r.{c} AS {name}"));
            }
            Field::NullableText => {
                arrays.push(array("text", arrays.len()));
                let mask = format!("c{}", arrays.len());
                arrays.push(array("bool", arrays.len()));
                columns.push(format!(
                    "CASE WHEN r.{mask} THEN NULL ELSE r.{c} END AS {name}"
                ));
            }
            Field::BigInt => {
                arrays.push(array("int8", arrays.len()));
                columns.push(format!("r.{c} AS {name}"));
            }
            Field::Uuid => {
                arrays.push(array("uuid", arrays.len()));
                // The nil UUID stands for `None` in PostgreSQL's UUID arrays, whose
                // elements the driver cannot send as NULL; no id is ever nil.
                let nil = uuid_literal(backend, uuid::Uuid::nil());
                columns.push(format!("nullif(r.{c}, {nil}) AS {name}"));
            }
        }
    }
    columns.extend(extra.iter().map(|e| (*e).to_owned()));
    let names: Vec<String> = (0..arrays.len()).map(|i| format!("c{i}")).collect();
    format!(
        "SELECT {} FROM unnest({}) WITH ORDINALITY AS r({}, key) ORDER BY r.key",
        columns.join(", "),
        arrays.join(", "),
        names.join(", ")
    )
}

/// `<column> IN (<the values of rows>)`, whatever their number, and the parameters
/// it takes, numbered from 1: `rows` are `(value,)` tuples.
pub(super) fn is_in<R: Serialize>(
    backend: DbBackend,
    column: &str,
    field: Field,
    rows: &[R],
) -> (String, Vec<Value>) {
    let fields = [(column, field)];
    let (values, bound) = self::values(backend, &fields, rows);
    let select = bound.select(1, &[]);
    let sql = format!("{column} IN (SELECT k.{column} FROM ({select}) AS k)");
    (sql, values)
}

/// The parameters holding `rows` of `fields` (each row serialises as an array, e.g. a
/// tuple), and how they are bound: on SQLite one binary JSON document of the rows and,
/// if the rows agree on some fields, one of those fields; on PostgreSQL one array per
/// column.
pub(super) fn values<'a, R: Serialize>(
    backend: DbBackend,
    fields: &'a [(&'a str, Field)],
    rows: &[R],
) -> (Vec<Value>, Bound<'a>) {
    let mut bound = Bound {
        backend,
        fields,
        shared: 0,
        bare: false,
    };
    if backend != DbBackend::Postgres {
        // Sized up front: a batch's document would otherwise be copied as it grows.
        let capacity = 8 + rows.len() * fields.len() * 24;
        let doc = jsonb::to_vec(rows, capacity).expect("rows of plain values serialise");
        let split = jsonb_shared::split(doc);
        let values = std::iter::once(split.rows).chain(split.shared);
        (bound.shared, bound.bare) = (split.mask, split.bare);
        return (values.map(|doc| Value::Bytes(Some(doc))).collect(), bound);
    }
    let mut cells: Vec<_> = rows
        .iter()
        .map(|row| match serde_json::to_value(row) {
            Ok(serde_json::Value::Array(cells)) => cells.into_iter(),
            _ => panic!("a row serialises as an array"),
        })
        .collect();
    let mut values = Vec::with_capacity(width(backend, fields));
    for (_, field) in fields {
        let column: Vec<serde_json::Value> = cells
            .iter_mut()
            .map(|row| row.next().expect("a cell for every field"))
            .collect();
        push_array(&mut values, *field, column);
    }
    (values, bound)
}

/// Appends the PostgreSQL array(s) holding one column of a field's cells.
fn push_array(values: &mut Vec<Value>, field: Field, column: Vec<serde_json::Value>) {
    use serde_json::Value as Json;
    let array = |ty, items: Vec<Value>| Value::Array(ty, Some(Box::new(items)));
    match field {
        Field::Text | Field::NullableText => {
            let nulls = (field == Field::NullableText).then(|| {
                column
                    .iter()
                    .map(|c| Value::Bool(Some(c.is_null())))
                    .collect()
            });
            let text = column.into_iter().map(|c| match c {
                Json::String(s) => Value::String(Some(s)),
                Json::Null => Value::String(Some(String::new())),
                other => Value::String(Some(other.to_string())),
            });
            values.push(array(ArrayType::String, text.collect()));
            // The mask of NULLs follows its text (see `select_arrays`).
            values.extend(nulls.map(|nulls| array(ArrayType::Bool, nulls)));
        }
        Field::BigInt => {
            let ints = column
                .iter()
                .map(|c| Value::BigInt(Some(c.as_i64().expect("a 64-bit integer"))));
            values.push(array(ArrayType::BigInt, ints.collect()));
        }
        Field::Uuid => {
            let ids = column.iter().map(|c| {
                let id = c
                    .as_str()
                    .map(|h| uuid::Uuid::try_parse(h).expect("a UUID"));
                Value::Uuid(Some(id.unwrap_or_default()))
            });
            values.push(array(ArrayType::Uuid, ids.collect()));
        }
    }
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
    let columns: Vec<(&str, String)> = fields
        .iter()
        .map(|(name, _)| (*name, format!("t.{name}")))
        .collect();
    push_insert_computed(script, table, &columns, fields, rows, now);
}

/// Appends `INSERT INTO <table> (<columns>, created_at)` one row per element of `rows`,
/// each stamped `now`: each column is given with its SQL expression over the row's
/// `fields`, named `t.<field>`.
pub(super) fn push_insert_computed<R: Serialize>(
    script: &mut Script,
    table: &str,
    columns: &[(&str, String)],
    fields: &[(&str, Field)],
    rows: &[R],
    now: DateTime<Utc>,
) {
    let backend = script.backend();
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    let exprs: Vec<&str> = columns.iter().map(|(_, expr)| expr.as_str()).collect();
    let (mut values, bound) = self::values(backend, fields, rows);
    // The stamp is the parameter after the rows'.
    let stamp = values.len();
    values.push(Value::from(now));
    script.push(values, |first| {
        let source = bound.select(first, &[]);
        format!(
            "INSERT INTO {table} ({}, created_at) SELECT {}, {} FROM ({source}) AS t",
            names.join(", "),
            exprs.join(", "),
            param(backend, first + stamp)
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnectionTrait, Database, Statement};

    type Unpacked = (String, i64, Option<uuid::Uuid>, Option<String>, i64);

    const FIELDS: [(&str, Field); 4] = [
        ("a", Field::Text),
        ("b", Field::BigInt),
        ("c", Field::Uuid),
        ("e", Field::NullableText),
    ];

    /// `data` bound and selected as a batch's rows are, each with a stamp after them.
    async fn round_trip(data: &[(&str, i64, Option<String>, Option<&str>)]) -> Vec<Unpacked> {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        let (mut values, bound) = values(DbBackend::Sqlite, &FIELDS, data);
        let stamp = format!("?{} AS d", values.len() + 1);
        let sql = bound.select(1, &[&stamp]);
        values.push(Value::from(7i64));
        let found = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                sql,
                values,
            ))
            .await
            .unwrap();
        found
            .iter()
            .map(|r| {
                (
                    r.try_get("", "a").unwrap(),
                    r.try_get("", "b").unwrap(),
                    r.try_get("", "c").unwrap(),
                    r.try_get("", "e").unwrap(),
                    r.try_get("", "d").unwrap(),
                )
            })
            .collect()
    }

    #[tokio::test]
    async fn sqlite_unpacks_rows_in_order_with_their_types() {
        let id = uuid::Uuid::now_v7();
        let data = [
            ("x", 3i64, Some(id.simple().to_string()), Some("p")),
            ("y", -1, None, None),
        ];
        assert_eq!(
            round_trip(&data).await,
            vec![
                ("x".into(), 3, Some(id), Some("p".into()), 7),
                ("y".into(), -1, None, None, 7)
            ]
        );
    }

    #[tokio::test]
    async fn fields_all_rows_agree_on_read_the_same_once_bound() {
        let (a, b) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
        let hex = |id: uuid::Uuid| Some(id.simple().to_string());
        let cases = [
            // Only the text differs: each row is that text alone.
            (
                [("x", 5i64, hex(a), None), ("y", 5, hex(a), None)],
                0b1110,
                true,
            ),
            // Text and number differ; the id and the NULL are shared.
            (
                [("x", 5, hex(a), None), ("y", 6, hex(a), None)],
                0b1100,
                false,
            ),
            // Only the id differs: each row is that id alone.
            (
                [("x", 5, hex(a), Some("n")), ("x", 5, hex(b), Some("n"))],
                0b1011,
                true,
            ),
        ];
        for (data, mask, bare) in cases {
            let (_, bound) = values(DbBackend::Sqlite, &FIELDS, &data);
            assert_eq!((bound.shared, bound.bare), (mask, bare));
            let expected: Vec<Unpacked> = data
                .iter()
                .map(|(t, n, id, e)| {
                    let id = id.as_deref().map(|h| uuid::Uuid::try_parse(h).unwrap());
                    ((*t).into(), *n, id, e.map(Into::into), 7)
                })
                .collect();
            assert_eq!(round_trip(&data).await, expected);
        }
    }

    #[test]
    fn postgres_text_is_the_same_for_any_row_count() {
        let fields = [
            ("a", Field::BigInt),
            ("b", Field::NullableText),
            ("c", Field::Uuid),
        ];
        let (_, bound) = values(
            DbBackend::Postgres,
            &fields,
            &[(1i64, Some("x"), None::<&str>)],
        );
        let sql = bound.select(2, &["$6 AS d"]);
        assert_eq!(
            sql,
            "SELECT r.c0 AS a, CASE WHEN r.c2 THEN NULL ELSE r.c1 END AS b, \
             nullif(r.c3, '00000000-0000-0000-0000-000000000000'::uuid) AS c, $6 AS d \
             FROM unnest($2::int8[], $3::text[], $4::bool[], $5::uuid[]) \
             WITH ORDINALITY AS r(c0, c1, c2, c3, key) ORDER BY r.key"
        );
        assert_eq!(width(DbBackend::Postgres, &fields), 4);
        assert_eq!(width(DbBackend::Sqlite, &fields), 1);
    }
}
