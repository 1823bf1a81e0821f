//! Authentication: password hashing, tokens, the bearer-token extractor and the
//! failed-login limiter.

mod login_limit;
mod password;
mod principal;
mod tokens;

pub use login_limit::LoginLimiter;
pub use password::Passwords;
pub use principal::AuthUser;
pub use tokens::{TokenError, Tokens};
