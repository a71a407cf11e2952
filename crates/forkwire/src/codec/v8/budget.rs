//! The expansion budget. A decoded [`Value`](super::Value) is a graph: an
//! object reached twice (V8's `^` back-reference) is one `Arc`, and a sparse
//! array of length 2^32 - 1 holds only the elements that exist. Anything
//! that turns a value into a tree (JSON, serde types) walks a shared object
//! once per path and writes every hole, so a payload of a few hundred bytes
//! can stand for 2^40 nodes. Every such walk draws on a [`Budget`] and stops
//! with [`Error::ExpansionLimit`] once it is spent, before allocating for
//! what lies past it.
//!
//! What counts, one node each: every value the walk reaches (each time it
//! reaches it), every hole or missing element written as `null`/`None`,
//! every element of a typed array or byte of a `Buffer` written as a
//! number, and every property a container holds (also those the walk skips,
//! such as `undefined` properties in JSON), so that the work per node is
//! bounded too. Copies of text and bytes (strings, keys, byte buffers) add
//! one node per [`BYTES_PER_NODE`] bytes, so that a shared long string
//! cannot be copied without bound either, and a BigInt written in decimal
//! adds in proportion to the square of its length ([`bigint_decimal_cost`]).
//!
//! The serde `Deserializer` over `&Value` has no state of its own (it is
//! `&Value` itself), so its budget lives in a thread-local slot for the
//! duration of the outermost call: [`scope`] installs one, [`within`]
//! installs the default one unless a walk is already running.

use std::cell::Cell;

use super::error::Error;
use super::DEFAULT_MAX_EXPANSION;

/// Text or bytes copied out of a value count one node per this many bytes
/// (about the size of one node of a `serde_json::Value`).
pub(super) const BYTES_PER_NODE: usize = 32;

/// The nodes a copy of `bytes` bytes counts, beyond the node that holds it.
pub(super) fn copy_cost(bytes: usize) -> u64 {
    (bytes / BYTES_PER_NODE) as u64
}

/// The nodes rendering a BigInt of `digit_bytes` bytes in decimal counts:
/// the conversion is quadratic in the length, so a long BigInt reached many
/// times must not be converted many times.
pub(super) fn bigint_decimal_cost(digit_bytes: usize) -> u64 {
    let n = digit_bytes as u64;
    copy_cost(digit_bytes).saturating_add(n.saturating_mul(n) / 1024)
}

/// A budget carried by a walk that has state of its own (the JSON view).
pub(super) struct Budget {
    left: Cell<u64>,
    limit: u64,
    /// The limit to report once a charge has failed.
    failure: Cell<Option<u64>>,
}

impl Budget {
    pub(super) fn new(limit: u64) -> Budget {
        Budget {
            left: Cell::new(limit),
            limit,
            failure: Cell::new(None),
        }
    }

    /// Spends `n` nodes, or fails (and stays spent) if fewer are left.
    pub(super) fn charge(&self, n: u64) -> Result<(), Error> {
        match self.left.get().checked_sub(n) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => Err(self.fail(self.limit)),
        }
    }

    /// Spends what is left and fails, reporting `limit` (a cap smaller than
    /// the budget that a single container went past).
    pub(super) fn fail(&self, limit: u64) -> Error {
        self.left.set(0);
        self.failure.set(Some(limit));
        Error::ExpansionLimit { limit }
    }

    /// Whether a charge has failed.
    pub(super) fn exhausted(&self) -> bool {
        self.failure.get().is_some()
    }

    /// Nodes not spent yet.
    #[cfg(test)]
    pub(super) fn left(&self) -> u64 {
        self.left.get()
    }

    /// The budget's size, in nodes.
    pub(super) fn limit(&self) -> u64 {
        self.limit
    }

    /// The error a failed charge gives.
    pub(super) fn error(&self) -> Error {
        Error::ExpansionLimit {
            limit: self.failure.get().unwrap_or(self.limit),
        }
    }
}

/// The running deserializer walk's budget: nodes left and the limit.
#[derive(Clone, Copy)]
struct State {
    left: u64,
    limit: u64,
}

thread_local! {
    static CURRENT: Cell<Option<State>> = const { Cell::new(None) };
}

/// Puts the previous budget back when a scope ends, even by unwinding.
struct Restore(Option<State>);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// Runs `f` with a fresh budget of `limit` nodes for the deserializer walks
/// it makes; the enclosing budget (if any) is put back afterwards.
pub(super) fn scope<R>(limit: u64, f: impl FnOnce() -> R) -> R {
    let previous = CURRENT.with(|c| c.replace(Some(State { left: limit, limit })));
    let _restore = Restore(previous);
    f()
}

/// Runs `f` inside the running walk's budget, or inside a fresh default one
/// ([`DEFAULT_MAX_EXPANSION`]) if no walk is running (someone called
/// `T::deserialize(&value)` directly).
pub(super) fn within<R>(f: impl FnOnce() -> Result<R, Error>) -> Result<R, Error> {
    if CURRENT.with(|c| c.get().is_some()) {
        f()
    } else {
        scope(DEFAULT_MAX_EXPANSION, f)
    }
}

/// Spends `n` nodes of the running walk's budget, or fails (and stays spent)
/// if fewer are left. Outside a walk there is nothing to charge.
pub(super) fn charge(n: u64) -> Result<(), Error> {
    CURRENT.with(|c| match c.get() {
        Some(state) => match state.left.checked_sub(n) {
            Some(left) => {
                c.set(Some(State { left, ..state }));
                Ok(())
            }
            None => {
                c.set(Some(State { left: 0, ..state }));
                Err(Error::ExpansionLimit { limit: state.limit })
            }
        },
        None => Ok(()),
    })
}

/// The running walk's limit (`u64::MAX` outside a walk).
pub(super) fn limit() -> u64 {
    CURRENT.with(|c| c.get().map_or(u64::MAX, |s| s.limit))
}

/// Nodes left in the running walk's budget (`u64::MAX` outside a walk).
pub(super) fn left() -> u64 {
    CURRENT.with(|c| c.get().map_or(u64::MAX, |s| s.left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_fails_past_the_limit_and_stays_spent() {
        let b = Budget::new(3);
        assert!(b.charge(2).is_ok());
        assert!(!b.exhausted());
        assert_eq!(b.charge(2), Err(Error::ExpansionLimit { limit: 3 }));
        assert!(b.exhausted());
        assert!(b.charge(0).is_ok());
        assert!(b.charge(1).is_err());
    }

    #[test]
    fn scopes_nest_and_restore() {
        assert!(charge(u64::MAX).is_ok());
        scope(5, || {
            assert!(charge(4).is_ok());
            scope(100, || assert!(charge(50).is_ok()));
            assert_eq!(left(), 1);
            assert_eq!(charge(2), Err(Error::ExpansionLimit { limit: 5 }));
            assert!(within(|| charge(1)).is_err());
        });
        assert_eq!(left(), u64::MAX);
        within(|| {
            assert_eq!(left(), DEFAULT_MAX_EXPANSION);
            Ok(())
        })
        .unwrap();
    }

    #[test]
    fn scope_is_restored_after_a_panic() {
        let r = std::panic::catch_unwind(|| scope(1, || panic!("inside")));
        assert!(r.is_err());
        assert_eq!(left(), u64::MAX);
    }
}
