//! One caller's request as it travels from the pool handle through the batcher to a
//! worker, and the reply that goes straight back to the caller.

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::meters::Meters;
use crate::error::InferenceError;

pub(crate) type Reply<O> = oneshot::Sender<Result<O, InferenceError>>;

pub(crate) struct Request<I, O> {
    pub input: I,
    pub enqueued: Instant,
    /// Dropped unrun once this has passed.
    pub deadline: Option<Instant>,
    pub reply: Reply<O>,
}

impl<I, O> Request<I, O> {
    pub fn expired(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| d <= now)
    }

    pub fn fail(self, error: InferenceError, meters: &Meters) {
        meters.count_error(&error);
        // The caller may have given up; nobody is left to tell.
        let _ = self.reply.send(Err(error));
    }
}
