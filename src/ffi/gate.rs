//! The door between an appender and the caller's callbacks (progress, read). Its free
//! closes the door: once the free returns, no callback of that appender starts again, and
//! one under way on another thread has finished. A callback may free its own appender: the
//! free cannot wait for the callback it is called from, so it waits only for the others.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, ThreadId};

#[derive(Default)]
pub(super) struct CallbackGate {
    state: Mutex<State>,
    /// Signalled whenever a callback returns.
    left: Condvar,
    /// `State::closed`, readable without the lock by every call on the appender.
    closed: AtomicBool,
}

#[derive(Default)]
struct State {
    closed: bool,
    /// The threads inside a callback now (two at once for a buffered appender: its upload
    /// thread's progress and the writer's read callback).
    inside: Vec<ThreadId>,
}

impl CallbackGate {
    /// Runs `callback` unless the gate is closed (then `None`).
    pub(super) fn enter<R>(&self, callback: impl FnOnce() -> R) -> Option<R> {
        let me = thread::current().id();
        {
            let mut state = self.lock();
            if state.closed {
                return None;
            }
            state.inside.push(me);
        }
        // Left on every path: the callbacks are `extern "C"` and cannot unwind, but the
        // code around them may.
        struct Leave<'a>(&'a CallbackGate, ThreadId);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                let mut state = self.0.lock();
                if let Some(at) = state.inside.iter().position(|t| *t == self.1) {
                    state.inside.swap_remove(at);
                }
                self.0.left.notify_all();
            }
        }
        let _leave = Leave(self, me);
        Some(callback())
    }

    /// Closes the gate and waits for the callbacks under way on other threads.
    pub(super) fn close(&self) {
        let me = thread::current().id();
        let mut state = self.lock();
        state.closed = true;
        self.closed.store(true, Ordering::Release);
        while state.inside.iter().any(|t| *t != me) {
            state = self
                .left
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held, so the state is whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
