//! Keyset pagination: `?limit=&cursor=` → `{items, next_cursor}`.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

use super::StoreError;

/// A position in a list as clients hold it: an opaque string.
pub trait PageCursor: Sized {
    fn parse(raw: &str) -> Option<Self>;
    fn encode(&self) -> String;
}

/// An opaque position in a list: the id of the last item of the previous page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor(pub(crate) Uuid);

impl PageCursor for Cursor {
    fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw).ok().map(Self)
    }
    fn encode(&self) -> String {
        self.0.simple().to_string()
    }
}

#[derive(Clone, Copy, Debug)]
pub struct PageRequest<C = Cursor> {
    pub limit: u64,
    pub after: Option<C>,
}

/// Every list's page size unless a client asks otherwise, and the most it may ask for.
pub const LIMIT_DEFAULT: u64 = 50;
pub const LIMIT_MAX: u64 = 200;

impl<C> PageRequest<C> {
    /// Clamps the limit into `1..=LIMIT_MAX`.
    pub fn new(limit: Option<u64>, after: Option<C>) -> Self {
        let limit = limit.unwrap_or(LIMIT_DEFAULT).clamp(1, LIMIT_MAX);
        Self { limit, after }
    }
}

#[derive(Clone, Debug)]
pub struct Page<T, C = Cursor> {
    pub items: Vec<T>,
    pub next_cursor: Option<C>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says there is more.
    pub(crate) fn from_overfetch(mut rows: Vec<T>, limit: u64, id_of: impl Fn(&T) -> Uuid) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| Cursor(id_of(r)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// One page of `query`, keyed by the UUIDv7 column `key` in `order` (oldest or newest
/// first): after the cursor, `limit + 1` rows fetched, each converted.
pub(crate) async fn fetch<E, T>(
    db: &impl ConnectionTrait,
    query: Select<E>,
    key: E::Column,
    order: Order,
    page: PageRequest,
    convert: impl Fn(E::Model) -> Result<T, StoreError>,
    id_of: impl Fn(&T) -> Uuid,
) -> Result<Page<T>, StoreError>
where
    E: EntityTrait,
{
    let mut query = query.order_by(key, order.clone()).limit(page.limit + 1);
    if let Some(after) = page.after {
        query = query.filter(match order {
            Order::Desc => key.lt(after.0),
            _ => key.gt(after.0),
        });
    }
    let rows = query.all(db).await?;
    let items = rows
        .into_iter()
        .map(convert)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page::from_overfetch(items, page.limit, id_of))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_clamped() {
        assert_eq!(PageRequest::<Cursor>::new(Some(0), None).limit, 1);
        assert_eq!(
            PageRequest::<Cursor>::new(Some(10_000), None).limit,
            LIMIT_MAX
        );
        assert_eq!(PageRequest::<Cursor>::new(None, None).limit, LIMIT_DEFAULT);
    }

    #[test]
    fn overfetch_sets_the_cursor_only_when_more_rows_exist() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let page = Page::from_overfetch(ids.clone(), 2, |u| *u);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.next_cursor, Some(Cursor(ids[1])));
        let last = Page::from_overfetch(ids[..2].to_vec(), 2, |u| *u);
        assert_eq!(last.next_cursor, None);
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor(Uuid::now_v7());
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        assert_eq!(Cursor::parse("nope"), None);
    }
}
