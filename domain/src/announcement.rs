//! System-wide announcements (maintenance windows, service notices).

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnnouncementError {
    #[error("title must be 1 to {max} characters", max = Announcement::TITLE_LEN_MAX)]
    Title,
    #[error("body must be 1 to {max} bytes", max = Announcement::BODY_LEN_MAX)]
    Body,
}

/// A validated announcement ready to be stored and broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Announcement {
    title: String,
    body: String,
}

impl Announcement {
    pub const TITLE_LEN_MAX: usize = 200;
    pub const BODY_LEN_MAX: usize = 64 * 1024;

    pub fn parse(title: &str, body: &str) -> Result<Self, AnnouncementError> {
        let title = title.trim();
        if title.is_empty() || title.chars().count() > Self::TITLE_LEN_MAX {
            return Err(AnnouncementError::Title);
        }
        if body.trim().is_empty() || body.len() > Self::BODY_LEN_MAX {
            return Err(AnnouncementError::Body);
        }
        Ok(Self {
            title: title.to_owned(),
            body: body.to_owned(),
        })
    }

    pub fn title(&self) -> &str {
        &self.title
    }
    pub fn body(&self) -> &str {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_need_a_title_and_a_bounded_body() {
        let a = Announcement::parse("  系统维护 ", "今晚 22:00 维护").unwrap();
        assert_eq!(a.title(), "系统维护");
        assert_eq!(Announcement::parse("", "x"), Err(AnnouncementError::Title));
        assert_eq!(Announcement::parse("t", " "), Err(AnnouncementError::Body));
        let big = "x".repeat(Announcement::BODY_LEN_MAX + 1);
        assert_eq!(Announcement::parse("t", &big), Err(AnnouncementError::Body));
    }
}
