//! A precise one-shot alarm for the batcher. tokio's timer rounds every sleep up to the
//! next whole millisecond, as long again as the 1–2 ms batching delays it would time;
//! a thread waiting on a condition variable wakes within tens of microseconds.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The last stretch before the due time is spun rather than slept: waking a sleeping
/// thread (on a VM, a halted vCPU) can take longer than that.
const SPIN: Duration = Duration::from_micros(200);

#[derive(Default)]
struct Due {
    at: Option<Instant>,
    stop: bool,
}

type Shared = Arc<(Mutex<Due>, Condvar)>;

pub(crate) struct Alarm {
    shared: Shared,
}

impl Alarm {
    /// Starts the alarm's thread; `ring` runs at each due time and returns false once
    /// nobody is listening any more.
    pub fn start(name: String, ring: impl Fn() -> bool + Send + 'static) -> std::io::Result<Self> {
        let shared: Shared = Arc::default();
        let theirs = shared.clone();
        std::thread::Builder::new()
            .name(name)
            .spawn(move || run(&theirs, ring))?;
        Ok(Self { shared })
    }

    /// Rings at `at`, unless it is already set to ring earlier.
    pub fn set(&self, at: Instant) {
        let (due, wake) = &*self.shared;
        let mut due = due.lock().unwrap_or_else(PoisonError::into_inner);
        if due.at.is_none_or(|current| at < current) {
            due.at = Some(at);
            wake.notify_one();
        }
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        let (due, wake) = &*self.shared;
        due.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
        wake.notify_one();
    }
}

fn run(shared: &Shared, ring: impl Fn() -> bool) {
    let (due, wake) = &**shared;
    let mut state = due.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if state.stop {
            return;
        }
        state = match state.at {
            None => wake.wait(state).unwrap_or_else(PoisonError::into_inner),
            Some(at) => {
                let now = Instant::now();
                if now + SPIN < at {
                    wake.wait_timeout(state, at - now - SPIN)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                } else if now < at {
                    drop(state);
                    while Instant::now() < at {
                        std::hint::spin_loop();
                    }
                    due.lock().unwrap_or_else(PoisonError::into_inner)
                } else {
                    state.at = None;
                    drop(state);
                    if !ring() {
                        return;
                    }
                    due.lock().unwrap_or_else(PoisonError::into_inner)
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn rings_once_at_the_earliest_time_set_and_stops_when_dropped() {
        let (tx, rx) = mpsc::channel();
        let alarm =
            Alarm::start("alarm-test".into(), move || tx.send(Instant::now()).is_ok()).unwrap();
        let start = Instant::now();
        alarm.set(start + Duration::from_millis(30));
        alarm.set(start + Duration::from_millis(5));
        alarm.set(start + Duration::from_millis(20)); // later than the 5 ms: ignored
        let rang = rx.recv_timeout(Duration::from_secs(2)).unwrap();
        assert!(rang >= start + Duration::from_millis(5), "rang early");
        assert!(
            rx.recv_timeout(Duration::from_millis(60)).is_err(),
            "rang twice"
        );
        drop(alarm);
    }
}
