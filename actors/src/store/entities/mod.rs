//! sea-orm entities, one per table. Private to `store`: nothing outside sees them.

pub mod announcements;
pub mod outbox;
pub mod outbox_meta;
pub mod users;
