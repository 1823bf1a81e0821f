//! How many rows go into one multi-row statement.
//!
//! PostgreSQL parses and plans every new statement text, and a statement's text depends
//! on how many rows it carries: splitting any count into powers of two keeps the number
//! of distinct texts small, so each is prepared once per connection and then reused.
//! SQLite plans cheaply but pays a thread round trip per statement, so it gets as few
//! statements as its parameter limit allows. (Measured with `bench ledger` before the
//! ledger moved to `bulk_rows`: chunking doubled PostgreSQL's throughput and halved
//! SQLite's.) Statements whose rows can be many use `bulk_rows` instead; this remains
//! for sea-orm's own multi-row inserts.

use sea_orm::DbBackend;

/// The largest PostgreSQL statement, in rows.
const PG_ROWS_MAX: usize = 128;
/// The largest SQLite statement, in rows: 1024 rows of up to 13 columns stay under its
/// 32,766 parameters.
const SQLITE_ROWS_MAX: usize = 1024;

/// `items` in statement-sized chunks for `backend`, in order.
pub(super) fn statement_chunks<T>(backend: DbBackend, items: &[T]) -> impl Iterator<Item = &[T]> {
    let pow2 = backend == DbBackend::Postgres;
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = if pow2 {
            PG_ROWS_MAX.min(1 << rest.len().ilog2())
        } else {
            SQLITE_ROWS_MAX.min(rest.len())
        };
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_everything_in_order() {
        for n in 0..2500usize {
            let items: Vec<usize> = (0..n).collect();
            let pg: Vec<&[usize]> = statement_chunks(DbBackend::Postgres, &items).collect();
            assert!(
                pg.iter()
                    .all(|c| c.len().is_power_of_two() && c.len() <= PG_ROWS_MAX),
                "{n}"
            );
            assert_eq!(pg.concat(), items, "{n}");
            let sqlite: Vec<&[usize]> = statement_chunks(DbBackend::Sqlite, &items).collect();
            assert!(sqlite.iter().all(|c| c.len() <= SQLITE_ROWS_MAX), "{n}");
            assert_eq!(sqlite.concat(), items, "{n}");
            assert_eq!(sqlite.len(), n.div_ceil(SQLITE_ROWS_MAX));
        }
    }

    #[test]
    fn a_postgres_batch_uses_few_shapes() {
        let items = vec![0u8; 255];
        let sizes: Vec<usize> = statement_chunks(DbBackend::Postgres, &items)
            .map(<[u8]>::len)
            .collect();
        assert_eq!(sizes, vec![128, 64, 32, 16, 8, 4, 2, 1]);
    }
}
