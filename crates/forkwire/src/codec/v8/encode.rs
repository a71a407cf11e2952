//! The encoder: a [`Value`] to V8 payload bytes, as Node 20 writes them. It
//! also refuses what Node's deserializer would reject (a repeated property,
//! bad RegExp flags, a reference to nothing, a host object around a
//! primitive), because a frame Node cannot read throws inside Node's channel
//! and takes the Node process down.

use super::error::Error;
use super::key::{duplicate_key, Occupied};
use super::receiver::{Primitive, REGEXP_VALID_FLAGS};
use super::sink::Sink;
use super::tag;
use super::value::Value;
use super::walk::{Event, Walker};

/// Writes the body of `value` (no header) into `sink`, numbering objects
/// from `first_id`; returns the id after the last object written.
pub(super) fn write_value(
    sink: &mut Sink<'_>,
    value: &Value,
    first_id: u32,
    max_depth: usize,
) -> Result<u32, Error> {
    let mut walker = Walker::new(value, first_id, max_depth);
    for event in walker.by_ref() {
        let event = event.map_err(|e| match e {
            Error::TooDeep { max_depth, .. } => Error::TooDeep {
                offset: sink.position(),
                max_depth,
            },
            other => other,
        })?;
        match event {
            Event::Primitive(v) => primitive(sink, v)?,
            Event::Leaf(v) => leaf(sink, v)?,
            Event::Open(v) => open(sink, v)?,
            Event::Key(k) => sink.key(k)?,
            Event::Hole => sink.byte(tag::HOLE),
            Event::Close(v) => close(sink, v)?,
            Event::Ref(id) => {
                sink.byte(tag::OBJECT_REFERENCE);
                sink.varint(u64::from(id));
            }
            Event::Dangling(anchor) => {
                return Err(Error::Unsupported(format!(
                    "Value::Ref({anchor:?}) does not point at an enclosing or earlier object"
                )))
            }
        }
    }
    Ok(walker.next_id())
}

fn primitive(sink: &mut Sink<'_>, v: &Value) -> Result<(), Error> {
    match v {
        Value::Undefined => sink.byte(tag::UNDEFINED),
        Value::Null => sink.byte(tag::NULL),
        Value::Bool(true) => sink.byte(tag::TRUE),
        Value::Bool(false) => sink.byte(tag::FALSE),
        Value::Int32(i) => sink.int32(*i),
        Value::Uint32(u) => {
            sink.byte(tag::UINT32);
            sink.varint(u64::from(*u));
        }
        Value::Double(x) => {
            sink.byte(tag::DOUBLE);
            sink.double(*x);
        }
        Value::BigInt(b) => {
            sink.byte(tag::BIGINT);
            sink.bigint_body(b)?;
        }
        Value::String(s) => sink.string(s)?,
        other => {
            return Err(Error::Unsupported(format!(
                "{} is not a primitive",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn leaf(sink: &mut Sink<'_>, v: &Value) -> Result<(), Error> {
    match v {
        Value::Date(d) => {
            sink.byte(tag::DATE);
            sink.double(d.time);
        }
        Value::RegExp(r) => {
            if r.flags & !REGEXP_VALID_FLAGS != 0 {
                return Err(Error::InvalidRegExpFlags {
                    offset: sink.position(),
                    flags: r.flags,
                });
            }
            sink.byte(tag::REGEXP);
            sink.string(&r.source)?;
            sink.varint(u64::from(r.flags));
        }
        Value::ArrayBuffer(b) => match b.max_byte_length {
            None => {
                sink.byte(tag::ARRAY_BUFFER);
                sink.length("an ArrayBuffer", b.bytes.len())?;
                sink.raw(&b.bytes);
            }
            Some(max) => {
                if usize::try_from(max).map_or(true, |max| b.bytes.len() > max) {
                    return Err(Error::Unsupported(format!(
                        "resizable ArrayBuffer of {} bytes with maxByteLength {max}",
                        b.bytes.len()
                    )));
                }
                sink.byte(tag::RESIZABLE_ARRAY_BUFFER);
                sink.length("an ArrayBuffer", b.bytes.len())?;
                sink.varint(u64::from(max));
                sink.raw(&b.bytes);
            }
        },
        Value::View(view) => {
            sink.byte(tag::HOST_OBJECT);
            sink.varint(tag::host::VIEW);
            sink.varint(u64::from(view.kind.index()));
            sink.length("a typed array", view.bytes.len())?;
            sink.raw(&view.bytes);
        }
        Value::Boxed(b) => match &b.value {
            Primitive::Bool(true) => sink.byte(tag::TRUE_OBJECT),
            Primitive::Bool(false) => sink.byte(tag::FALSE_OBJECT),
            Primitive::Number(x) => {
                sink.byte(tag::NUMBER_OBJECT);
                sink.double(*x);
            }
            Primitive::String(s) => {
                sink.byte(tag::STRING_OBJECT);
                sink.string(s)?;
            }
            Primitive::BigInt(n) => {
                sink.byte(tag::BIGINT_OBJECT);
                sink.bigint_body(n)?;
            }
        },
        other => {
            return Err(Error::Unsupported(format!(
                "{} is not a leaf object",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn no_duplicates(sink: &Sink<'_>, duplicate: Option<String>) -> Result<(), Error> {
    match duplicate {
        Some(key) => Err(Error::DuplicateKey {
            offset: sink.position(),
            key,
        }),
        None => Ok(()),
    }
}

fn open(sink: &mut Sink<'_>, v: &Value) -> Result<(), Error> {
    match v {
        Value::Object(o) => {
            no_duplicates(
                sink,
                duplicate_key::<Value>(o.properties.iter().map(|(k, _)| k), Occupied::Object),
            )?;
            sink.byte(tag::BEGIN_OBJECT);
        }
        Value::Array(a) => {
            let keys = a.properties.iter().map(|(k, _)| k);
            no_duplicates(sink, duplicate_key(keys, Occupied::DenseArray(&a.elements)))?;
            sink.byte(tag::BEGIN_DENSE_ARRAY);
            sink.length("an array", a.elements.len())?;
        }
        Value::SparseArray(a) => {
            let keys = a.properties.iter().map(|(k, _)| k);
            no_duplicates(sink, duplicate_key::<Value>(keys, Occupied::SparseArray))?;
            sink.byte(tag::BEGIN_SPARSE_ARRAY);
            sink.varint(u64::from(a.length));
        }
        Value::Map(_) => sink.byte(tag::BEGIN_MAP),
        Value::Set(_) => sink.byte(tag::BEGIN_SET),
        Value::Error(e) => {
            sink.byte(tag::ERROR);
            if let Some(t) = error_prototype_tag(e.kind) {
                sink.byte(t);
            }
            if let Some(m) = &e.message {
                sink.byte(tag::error::MESSAGE);
                sink.string(m)?;
            }
            if let (Some(s), false) = (&e.stack, e.stack_after_cause()) {
                sink.byte(tag::error::STACK);
                sink.string(s)?;
            }
            if e.cause.is_some() {
                sink.byte(tag::error::CAUSE);
            }
        }
        Value::Host(h) => {
            if !h.value.is_object() && !matches!(h.value, Value::Ref(_)) {
                return Err(Error::BadHostObject {
                    offset: sink.position(),
                    reason: "a host object must carry an object, not a primitive",
                });
            }
            sink.byte(tag::HOST_OBJECT);
            sink.varint(tag::host::OTHER);
        }
        other => {
            return Err(Error::Unsupported(format!(
                "{} has no children",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn close(sink: &mut Sink<'_>, v: &Value) -> Result<(), Error> {
    match v {
        Value::Object(o) => {
            sink.byte(tag::END_OBJECT);
            sink.length("an object", o.properties.len())?;
        }
        Value::Array(a) => {
            sink.byte(tag::END_DENSE_ARRAY);
            sink.length("an object", a.properties.len())?;
            sink.length("an array", a.elements.len())?;
        }
        Value::SparseArray(a) => {
            sink.byte(tag::END_SPARSE_ARRAY);
            sink.length("an object", a.properties.len())?;
            sink.varint(u64::from(a.length));
        }
        Value::Map(m) => {
            sink.byte(tag::END_MAP);
            sink.length("a Map", m.entries.len().saturating_mul(2))?;
        }
        Value::Set(s) => {
            sink.byte(tag::END_SET);
            sink.length("a Set", s.values.len())?;
        }
        Value::Error(e) => {
            if let (Some(s), true) = (&e.stack, e.stack_after_cause()) {
                sink.byte(tag::error::STACK);
                sink.string(s)?;
            }
            sink.byte(tag::error::END);
        }
        Value::Host(_) => {}
        other => {
            return Err(Error::Unsupported(format!(
                "{} has no children",
                other.type_name()
            )))
        }
    }
    Ok(())
}

/// The prototype sub-tag V8 writes for an error kind (none for `Error`).
pub(super) fn error_prototype_tag(kind: super::receiver::ErrorKind) -> Option<u8> {
    use super::receiver::ErrorKind;
    match kind {
        ErrorKind::Error => None,
        ErrorKind::EvalError => Some(tag::error::EVAL),
        ErrorKind::RangeError => Some(tag::error::RANGE),
        ErrorKind::ReferenceError => Some(tag::error::REFERENCE),
        ErrorKind::SyntaxError => Some(tag::error::SYNTAX),
        ErrorKind::TypeError => Some(tag::error::TYPE),
        ErrorKind::UriError => Some(tag::error::URI),
    }
}

/// Appends `value` as a complete payload (header and body) to `out`; on
/// failure `out` is left as it was.
pub(super) fn encode_payload(
    value: &Value,
    out: &mut Vec<u8>,
    max_depth: usize,
) -> Result<(), Error> {
    let mut sink = Sink::new(out);
    sink.header();
    match write_value(&mut sink, value, 0, max_depth) {
        Ok(_) => Ok(()),
        Err(e) => {
            sink.discard();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::receiver::{ErrorKind, JsError};
    use super::super::{encode, Value, ViewKind};

    #[test]
    fn error_field_order_follows_the_flag() {
        let mut e = JsError::new(ErrorKind::TypeError, "t");
        e.stack = Some("S".into());
        e.cause = Some(Value::from(1));
        // Readable by every V8: message, stack, cause.
        assert_eq!(
            encode(&Value::from(e.clone())).unwrap(),
            b"\xff\x0frTm\"\x01ts\"\x01ScI\x02."
        );
        // As Node 20 writes it: message, cause, stack.
        e.cause_before_stack = true;
        assert_eq!(
            encode(&Value::from(e)).unwrap(),
            b"\xff\x0frTm\"\x01tcI\x02s\"\x01S."
        );
    }

    #[test]
    fn views_use_node_host_framing() {
        let v = Value::typed_array(ViewKind::Float32Array, 1.5f32.to_le_bytes().to_vec());
        assert_eq!(
            encode(&v).unwrap(),
            b"\xff\x0f\\\x00\x07\x04\x00\x00\xc0\x3f"
        );
    }

    #[test]
    fn shared_objects_are_written_once() {
        let x = Value::date(0.0);
        let v = Value::array([x.clone(), x]);
        assert_eq!(
            encode(&v).unwrap(),
            b"\xff\x0fA\x02D\x00\x00\x00\x00\x00\x00\x00\x00^\x01$\x00\x02"
        );
    }
}
