//! `?limit=&cursor=` in, `{items, next_cursor}` out.

use medrt_actors::store::{Page, PageCursor, PageRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

#[derive(Deserialize, IntoParams)]
pub struct PageQuery {
    /// 1 to 200, default 50.
    limit: Option<u64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

impl PageQuery {
    pub fn parse<C: PageCursor>(self) -> Result<PageRequest<C>, ApiError> {
        let after =
            match self.cursor.as_deref() {
                None | Some("") => None,
                Some(raw) => Some(C::parse(raw).ok_or_else(|| {
                    ApiError::bad_request("INVALID_CURSOR", "cursor is not valid")
                })?),
            };
        Ok(PageRequest::new(self.limit, after))
    }
}

#[derive(Serialize, ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Paged<T> {
    pub fn from_page<U, C: PageCursor>(page: Page<U, C>, view: impl Fn(U) -> T) -> Self {
        Paged {
            next_cursor: page.next_cursor.map(|c| c.encode()),
            items: page.items.into_iter().map(view).collect(),
        }
    }
}
