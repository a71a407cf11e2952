//! Passing a [`Value`] through serde unchanged. serde has no way to hand an
//! arbitrary value from a `Serialize` to a `Serializer` (or from a
//! `Deserializer` to a `Visitor`), so `Value` names a newtype struct
//! [`TOKEN`] and leaves a clone of itself in a thread-local slot; this
//! codec's serializer and deserializer recognise the name and take the value
//! from the slot, writing or returning it losslessly. Every other serde
//! format ignores the name and sees the JSON-shaped view instead.

use std::cell::RefCell;

use super::value::Value;

/// The newtype-struct name that marks a [`Value`] crossing serde.
pub(super) const TOKEN: &str = "$forkwire::v8::Value";

thread_local! {
    static SLOT: RefCell<Option<Value>> = const { RefCell::new(None) };
}

/// Runs `f` with `value` waiting in the slot, and empties the slot after,
/// whether or not `f` took it.
pub(super) fn lend<R>(value: &Value, f: impl FnOnce() -> R) -> R {
    let previous = SLOT.with(|slot| slot.replace(Some(value.clone())));
    let result = f();
    SLOT.with(|slot| *slot.borrow_mut() = previous);
    result
}

/// Takes the value lent by the innermost [`lend`], if it is still there.
pub(super) fn take() -> Option<Value> {
    SLOT.with(|slot| slot.borrow_mut().take())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_is_scoped() {
        assert!(take().is_none());
        let got = lend(&Value::from(1), take);
        assert!(matches!(got, Some(Value::Int32(1))));
        lend(&Value::from(2), || ());
        assert!(take().is_none());
    }
}
