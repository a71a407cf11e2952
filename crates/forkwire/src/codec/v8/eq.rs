//! Equality of [`Value`]s: two values are equal when they would encode to
//! the same bytes, i.e. when walking both in wire order yields the same
//! primitives (doubles by bits, strings with their form), the same object
//! headers, and back-references to the same positions. Implemented by
//! running two [`Walker`]s side by side, so it never recurses.

use super::receiver::Primitive;
use super::value::Value;
use super::walk::{Event, Walker};

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        let mut a = Walker::new(self, 0, usize::MAX);
        let mut b = Walker::new(other, 0, usize::MAX);
        loop {
            match (a.next(), b.next()) {
                (None, None) => return true,
                (Some(Ok(x)), Some(Ok(y))) if same_event(&x, &y) => {}
                _ => return false,
            }
        }
    }
}

fn same_event(x: &Event<'_>, y: &Event<'_>) -> bool {
    match (x, y) {
        (Event::Primitive(a), Event::Primitive(b)) => same_primitive(a, b),
        (Event::Leaf(a), Event::Leaf(b)) => same_leaf(a, b),
        (Event::Open(a), Event::Open(b)) | (Event::Close(a), Event::Close(b)) => same_header(a, b),
        (Event::Key(a), Event::Key(b)) => a == b,
        (Event::Hole, Event::Hole) => true,
        (Event::Ref(a), Event::Ref(b)) => a == b,
        (Event::Dangling(a), Event::Dangling(b)) => a == b,
        _ => false,
    }
}

fn same_primitive(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Undefined, Value::Undefined) | (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int32(x), Value::Int32(y)) => x == y,
        (Value::Uint32(x), Value::Uint32(y)) => x == y,
        (Value::Double(x), Value::Double(y)) => x.to_bits() == y.to_bits(),
        (Value::BigInt(x), Value::BigInt(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        _ => false,
    }
}

fn same_leaf(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Date(x), Value::Date(y)) => x.time.to_bits() == y.time.to_bits(),
        (Value::RegExp(x), Value::RegExp(y)) => x.source == y.source && x.flags == y.flags,
        (Value::ArrayBuffer(x), Value::ArrayBuffer(y)) => {
            x.bytes == y.bytes && x.max_byte_length == y.max_byte_length
        }
        (Value::View(x), Value::View(y)) => x.kind == y.kind && x.bytes == y.bytes,
        (Value::Boxed(x), Value::Boxed(y)) => match (&x.value, &y.value) {
            (Primitive::Bool(p), Primitive::Bool(q)) => p == q,
            (Primitive::Number(p), Primitive::Number(q)) => p.to_bits() == q.to_bits(),
            (Primitive::String(p), Primitive::String(q)) => p == q,
            (Primitive::BigInt(p), Primitive::BigInt(q)) => p == q,
            _ => false,
        },
        _ => false,
    }
}

/// The parts of a container that are not its children.
fn same_header(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(_), Value::Object(_))
        | (Value::Map(_), Value::Map(_))
        | (Value::Set(_), Value::Set(_))
        | (Value::Host(_), Value::Host(_)) => true,
        (Value::Array(x), Value::Array(y)) => x.elements.len() == y.elements.len(),
        (Value::SparseArray(x), Value::SparseArray(y)) => x.length == y.length,
        (Value::Error(x), Value::Error(y)) => {
            x.kind == y.kind
                && x.message == y.message
                && x.stack == y.stack
                && x.cause.is_some() == y.cause.is_some()
                && x.stack_after_cause() == y.stack_after_cause()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::receiver::{Anchor, Object};
    use super::*;
    use std::sync::Arc;

    #[test]
    fn exact_numbers() {
        assert_eq!(Value::Double(f64::NAN), Value::Double(f64::NAN));
        assert_ne!(Value::Double(0.0), Value::Double(-0.0));
        assert_ne!(Value::Int32(1), Value::Double(1.0));
    }

    #[test]
    fn identity_shape_matters() {
        let o = Value::object([("x", 1)]);
        let shared = Value::array([o.clone(), o]);
        let copies = Value::array([Value::object([("x", 1)]), Value::object([("x", 1)])]);
        assert_ne!(shared, copies);
        assert_eq!(shared, shared.clone());
    }

    #[test]
    fn anchors_compare_by_position() {
        let cyclic = |a: Anchor| {
            Value::Object(Arc::new(Object {
                anchor: Some(a),
                properties: vec![("self".into(), Value::Ref(a))],
            }))
        };
        assert_eq!(cyclic(Anchor::new()), cyclic(Anchor::new()));
        let a = Anchor::new();
        assert_eq!(Value::Ref(a), Value::Ref(a));
        assert_ne!(Value::Ref(a), Value::Ref(Anchor::new()));
    }

    #[test]
    fn deep_values_compare_without_recursion() {
        let handle = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| {
                let build = || (0..200_000).fold(Value::Null, |v, _| Value::array([v]));
                assert_eq!(build(), build());
            })
            .unwrap();
        handle.join().unwrap();
    }
}
