//! Statements that go to the database together. SQLite runs its connection on a thread
//! of its own, and every statement is a hand-off there and back: two thread wake-ups,
//! which on this kind of machine cost more than a small statement itself. On SQLite a
//! script is sent as one multi-statement query, its parameters numbered across all of
//! it. PostgreSQL takes only one statement with parameters at a time: there the
//! statements run one after another.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, Value};

pub(super) struct Script {
    backend: DbBackend,
    statements: Vec<(String, Vec<Value>)>,
}

impl Script {
    pub fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            statements: Vec::new(),
        }
    }

    pub fn backend(&self) -> DbBackend {
        self.backend
    }

    /// Appends a statement taking `values`: `sql` is given the number of its first
    /// parameter.
    pub fn push(&mut self, values: Vec<Value>, sql: impl FnOnce(usize) -> String) {
        let first = match self.backend {
            DbBackend::Sqlite => self.statements.iter().map(|(_, v)| v.len()).sum::<usize>() + 1,
            _ => 1,
        };
        self.statements.push((sql(first), values));
    }

    /// What goes to the database: on SQLite one statement holding them all.
    fn into_statements(self) -> Vec<Statement> {
        let backend = self.backend;
        if backend == DbBackend::Sqlite && self.statements.len() > 1 {
            // sqlx binds each statement's parameters from 1 to its highest, and counts
            // the numbers a statement does not use against the values, giving up at
            // their end: without values enough after the real ones, a later
            // statement's own parameters would be left unbound (NULL). Padding with
            // NULLs that no statement reads keeps every one bound.
            let unused: usize = self
                .statements
                .iter()
                .scan(0, |before, (_, values)| {
                    let skipped = *before;
                    *before += values.len();
                    Some(skipped)
                })
                .sum();
            let (sql, values): (Vec<String>, Vec<Vec<Value>>) = self.statements.into_iter().unzip();
            let mut values: Vec<Value> = values.into_iter().flatten().collect();
            let padding = unused.saturating_sub(values.len());
            values.extend(std::iter::repeat_n(Value::BigInt(None), padding));
            return vec![Statement::from_sql_and_values(
                backend,
                sql.join(";\n"),
                values,
            )];
        }
        self.statements
            .into_iter()
            .map(|(sql, values)| Statement::from_sql_and_values(backend, sql, values))
            .collect()
    }

    /// Runs every statement; the first row the last one returns, if any.
    pub async fn query_last<C: ConnectionTrait>(
        self,
        conn: &C,
    ) -> Result<Option<QueryResult>, DbErr> {
        let mut statements = self.into_statements();
        let Some(last) = statements.pop() else {
            return Ok(None);
        };
        for statement in statements {
            conn.execute_raw(statement).await?;
        }
        conn.query_one_raw(last).await
    }

    /// Runs every statement.
    pub async fn execute<C: ConnectionTrait>(self, conn: &C) -> Result<(), DbErr> {
        for statement in self.into_statements() {
            conn.execute_raw(statement).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, DbBackend, Statement, Value};

    use super::*;
    use crate::store::bulk_rows::param;

    async fn table() -> sea_orm::DatabaseConnection {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        db.execute_unprepared("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)")
            .await
            .unwrap();
        db
    }

    fn insert(script: &mut Script, k: &str, v: i64) {
        let backend = script.backend();
        script.push(vec![Value::from(k), Value::from(v)], |first| {
            format!(
                "INSERT INTO t (k, v) VALUES ({}, {})",
                param(backend, first),
                param(backend, first + 1)
            )
        });
    }

    #[tokio::test]
    async fn parameters_are_numbered_across_the_script_and_the_last_statement_answers() {
        let db = table().await;
        let mut script = Script::new(DbBackend::Sqlite);
        insert(&mut script, "a", 1);
        insert(&mut script, "b", 2);
        script.push(vec![Value::from(10i64)], |first| {
            format!(
                "SELECT sum(v) + {} AS total, count(*) AS n FROM t",
                param(DbBackend::Sqlite, first)
            )
        });
        let row = script.query_last(&db).await.unwrap().expect("a row");
        assert_eq!(row.try_get::<i64>("", "total").unwrap(), 13);
        assert_eq!(row.try_get::<i64>("", "n").unwrap(), 2);
    }

    #[tokio::test]
    async fn a_failing_statement_fails_the_script() {
        let db = table().await;
        let mut script = Script::new(DbBackend::Sqlite);
        insert(&mut script, "a", 1);
        insert(&mut script, "a", 2);
        let e = script.execute(&db).await.unwrap_err();
        assert!(
            matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ),
            "{e}"
        );
        let left = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT group_concat(k || '=' || v) AS rows FROM t",
            ))
            .await
            .unwrap()
            .unwrap();
        // Outside a transaction the statement before the failure stays; the ledger
        // runs its scripts in one and rolls it back.
        assert_eq!(left.try_get::<String>("", "rows").unwrap(), "a=1");
    }
}
