//! Keyset pagination: `?limit=&cursor=` → `{items, next_cursor}`.

use uuid::Uuid;

/// An opaque position in a list: the id of the last item of the previous page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor(pub(crate) Uuid);

impl Cursor {
    pub fn parse(raw: &str) -> Option<Self> {
        Uuid::parse_str(raw).ok().map(Self)
    }
    pub fn encode(&self) -> String {
        self.0.simple().to_string()
    }
}

#[derive(Clone, Copy, Debug)]
pub struct PageRequest {
    pub limit: u64,
    pub after: Option<Cursor>,
}

impl PageRequest {
    pub const LIMIT_DEFAULT: u64 = 50;
    pub const LIMIT_MAX: u64 = 200;

    /// Clamps the limit into `1..=LIMIT_MAX`.
    pub fn new(limit: Option<u64>, after: Option<Cursor>) -> Self {
        let limit = limit
            .unwrap_or(Self::LIMIT_DEFAULT)
            .clamp(1, Self::LIMIT_MAX);
        Self { limit, after }
    }
}

#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Cursor>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_clamped() {
        assert_eq!(PageRequest::new(Some(0), None).limit, 1);
        assert_eq!(
            PageRequest::new(Some(10_000), None).limit,
            PageRequest::LIMIT_MAX
        );
        assert_eq!(
            PageRequest::new(None, None).limit,
            PageRequest::LIMIT_DEFAULT
        );
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
