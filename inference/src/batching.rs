//! The dynamic batching policy (after Triton's dynamic batcher): requests wait until
//! `max_batch` of them are queued or the oldest has waited `max_delay`, whichever comes
//! first; a full queue refuses new work instead of growing.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchPolicy {
    max_batch: usize,
    max_delay: Duration,
    queue_max: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("max_batch must be at least 1")]
    MaxBatch,
    #[error("queue_max ({queue_max}) must be at least max_batch ({max_batch})")]
    QueueMax { queue_max: usize, max_batch: usize },
}

/// What the batcher should do now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Hand this many requests (oldest first) to a worker.
    Dispatch(usize),
    /// Nothing is due; look again after this long (or when a request arrives).
    Wait(Duration),
    /// The queue is empty.
    Idle,
}

impl BatchPolicy {
    pub fn new(
        max_batch: usize,
        max_delay: Duration,
        queue_max: usize,
    ) -> Result<Self, PolicyError> {
        if max_batch == 0 {
            return Err(PolicyError::MaxBatch);
        }
        if queue_max < max_batch {
            return Err(PolicyError::QueueMax {
                queue_max,
                max_batch,
            });
        }
        Ok(Self {
            max_batch,
            max_delay,
            queue_max,
        })
    }

    /// Whether one more request may be queued behind `queued` others.
    pub fn admits(&self, queued: usize) -> bool {
        queued < self.queue_max
    }

    /// `queued` requests are waiting, the oldest for `oldest_waited`.
    pub fn decide(&self, queued: usize, oldest_waited: Duration) -> Decision {
        if queued == 0 {
            Decision::Idle
        } else if queued >= self.max_batch || oldest_waited >= self.max_delay {
            Decision::Dispatch(queued.min(self.max_batch))
        } else {
            Decision::Wait(self.max_delay - oldest_waited)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> BatchPolicy {
        BatchPolicy::new(8, Duration::from_millis(5), 64).unwrap()
    }

    #[test]
    fn full_batches_go_at_once_and_partial_ones_after_the_delay() {
        let p = policy();
        assert_eq!(p.decide(0, Duration::ZERO), Decision::Idle);
        assert_eq!(p.decide(8, Duration::ZERO), Decision::Dispatch(8));
        assert_eq!(p.decide(20, Duration::ZERO), Decision::Dispatch(8));
        assert_eq!(
            p.decide(3, Duration::from_millis(2)),
            Decision::Wait(Duration::from_millis(3))
        );
        assert_eq!(p.decide(3, Duration::from_millis(5)), Decision::Dispatch(3));
    }

    #[test]
    fn the_queue_is_bounded() {
        let p = policy();
        assert!(p.admits(63));
        assert!(!p.admits(64));
    }

    #[test]
    fn nonsense_limits_are_rejected() {
        assert_eq!(
            BatchPolicy::new(0, Duration::ZERO, 1),
            Err(PolicyError::MaxBatch)
        );
        assert!(BatchPolicy::new(8, Duration::ZERO, 4).is_err());
    }

    proptest! {
        #[test]
        fn never_dispatches_more_than_max_batch_or_waits_past_the_delay(
            max_batch in 1usize..64, delay_us in 0u64..10_000, queued in 0usize..500, waited_us in 0u64..20_000,
        ) {
            let p = BatchPolicy::new(max_batch, Duration::from_micros(delay_us), 1_000).unwrap();
            match p.decide(queued, Duration::from_micros(waited_us)) {
                Decision::Idle => prop_assert_eq!(queued, 0),
                Decision::Dispatch(n) => prop_assert!(n >= 1 && n <= max_batch && n <= queued),
                Decision::Wait(d) => {
                    prop_assert!(queued > 0 && queued < max_batch);
                    prop_assert!(waited_us + d.as_micros() as u64 == delay_us);
                }
            }
        }
    }
}
