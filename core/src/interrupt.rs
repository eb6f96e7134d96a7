//! Cooperative cancellation of long computations (Ctrl-C from Python, or any caller that wants
//! to stop a run) without threading a parameter through every signature.
//!
//! A global epoch counts cancellations. A [`Cancel`] token remembers the epoch at which its
//! computation started; [`Cancel::check`] is one relaxed atomic load and returns
//! `Err(Error::Interrupted)` once [`cancel_all`] has moved the epoch on. Long loops take
//! `let cancel = Cancel::current();` once, before they start, and call `cancel.check()?` every
//! iteration (or every chunk of iterations) so that a cancellation is seen within well under
//! 100 ms; inside rayon loops the token (it is `Copy`) is captured by the closure and the loop
//! collects into a `Result`, so one cancelled replicate stops the rest.
//!
//! The start epoch is taken where the computation is *requested*: the Python binding reads the
//! epoch, then runs the computation on a thread inside [`Cancel::enter`], which pins that epoch
//! in a thread-local so that a cancellation arriving before the computation reached its first
//! `Cancel::current()` is not missed. Without `enter` (plain Rust callers, rayon worker threads)
//! `current()` takes the live epoch. Cancelling only stops work and returns an error; it never
//! changes a number of a computation that completes.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

static EPOCH: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static START: Cell<Option<u64>> = const { Cell::new(None) };
}

/// The current cancellation epoch.
pub fn epoch() -> u64 {
    EPOCH.load(Ordering::Acquire)
}

/// Cancels every computation that is running now (their next `check()` fails). Computations
/// started afterwards are not affected.
pub fn cancel_all() {
    EPOCH.fetch_add(1, Ordering::AcqRel);
}

/// A cancellation token: cheap to copy, one atomic load to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancel {
    start: u64,
}

impl Cancel {
    /// The token of the computation running on this thread: the epoch pinned by
    /// [`Cancel::enter`] if any, otherwise the live epoch.
    pub fn current() -> Self {
        let start = START.with(|s| s.get()).unwrap_or_else(epoch);
        Cancel { start }
    }

    /// A token for a computation that starts at `start` (an earlier [`epoch()`]).
    pub fn at(start: u64) -> Self {
        Cancel { start }
    }

    /// A token that is already cancelled, without moving the global epoch (which would cancel
    /// every other computation in the process): for tests of the cancellation paths.
    pub fn stale() -> Self {
        Cancel::at(epoch().wrapping_sub(1))
    }

    /// Whether [`cancel_all`] was called since this token's computation started.
    #[inline]
    pub fn is_cancelled(&self) -> bool {
        EPOCH.load(Ordering::Relaxed) != self.start
    }

    /// `Err(Error::Interrupted)` once cancelled.
    #[inline]
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Runs `f` on this thread with this token pinned, so that `Cancel::current()` inside `f`
    /// (on this thread) returns it.
    pub fn enter<T>(self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<u64>);
        impl Drop for Restore {
            fn drop(&mut self) {
                START.with(|s| s.set(self.0));
            }
        }
        let _restore = Restore(START.with(|s| s.replace(Some(self.start))));
        f()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_token_is_not_cancelled_and_a_stale_one_is() {
        assert_eq!(Cancel::current().check(), Ok(()));
        assert_eq!(Cancel::stale().check(), Err(Error::Interrupted));
    }

    #[test]
    fn enter_pins_the_token_on_this_thread_only() {
        Cancel::stale().enter(|| {
            assert_eq!(Cancel::current().check(), Err(Error::Interrupted));
            let other = std::thread::spawn(|| Cancel::current().check()).join();
            assert_eq!(other.ok(), Some(Ok(())));
        });
        assert_eq!(Cancel::current().check(), Ok(()));
    }
}
