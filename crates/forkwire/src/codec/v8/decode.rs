//! The decoder: V8 payload bytes to a [`Value`], accepting what Node 20's
//! channel deserializer accepts. It runs on an explicit stack of open
//! containers instead of recursing, so nesting is bounded by
//! [`Limits::max_depth`](super::Limits::max_depth) and never by the thread's
//! stack; object ids are assigned and registered at the same points as in
//! V8, so back-references resolve to the same objects.

use std::mem;

use super::error::Error;
use super::key::{duplicate_key, Key, Occupied};
use super::reader::Reader;
use super::receiver::{
    Anchor, Array, ArrayBuffer, ArrayBufferView, Boxed, Date, ErrorKind, HostObject, JsError,
    JsMap, JsSet, Object, RegExp, SparseArray,
};
use super::string::JsString;
use super::tag;
use super::value::Value;
use super::wire::{self, ErrorPart, ErrorTags};

/// Decodes one payload (header included, nothing after the value).
pub(super) fn decode_payload(payload: &[u8], max_depth: usize) -> Result<Value, Error> {
    let mut decoder = Decoder {
        r: Reader::new(payload),
        slots: Vec::new(),
        max_depth,
        promised: 0,
    };
    wire::header(&mut decoder.r)?;
    let value = decoder.value()?;
    if decoder.r.remaining() > 0 {
        return Err(Error::TrailingBytes {
            offset: decoder.r.pos(),
        });
    }
    Ok(value)
}

/// What V8's id table holds for each object id.
enum Slot {
    /// Allocated but not registered yet (an Error or host object being
    /// read): references to it fail, as in V8.
    Pending,
    /// A container being read: references to it are cycles, written as
    /// [`Value::Ref`] to the anchor it will carry.
    Open(Option<Anchor>),
    /// A finished object.
    Done(Value),
}

struct Decoder<'a> {
    r: Reader<'a>,
    slots: Vec<Slot>,
    max_depth: usize,
    /// Elements that the open dense arrays still expect, in all. Each takes
    /// at least a byte of what is left, and different arrays' elements are
    /// different bytes, so a new dense array may declare at most what is
    /// left minus this; that keeps the room reserved for all open arrays
    /// together within the payload's size (checking each array alone would
    /// let nested arrays reserve the rest of the payload once per level).
    promised: usize,
}

/// A container being read.
struct Frame {
    id: usize,
    offset: usize,
    kind: FrameKind,
}

enum FrameKind {
    Object {
        properties: Vec<(Key, Value)>,
        key: Option<Key>,
    },
    Dense {
        length: u32,
        elements: Vec<Option<Value>>,
        properties: Vec<(Key, Value)>,
        key: Option<Key>,
    },
    Sparse {
        length: u32,
        properties: Vec<(Key, Value)>,
        key: Option<Key>,
    },
    Map {
        entries: Vec<(Value, Value)>,
        key: Option<Value>,
    },
    Set {
        values: Vec<Value>,
    },
    Error(ErrorParts),
    Host {
        value: Option<Value>,
    },
}

#[derive(Default)]
struct ErrorParts {
    tags: ErrorTags,
    kind: Option<ErrorKind>,
    message: Option<JsString>,
    stack: Option<JsString>,
    cause: Option<Value>,
    cause_before_stack: bool,
}

/// What the innermost container needs next.
enum Need {
    Value,
    Close,
}

/// The start of a value: complete, or a container to fill.
enum Begun {
    Value(Value),
    Frame(Frame),
}

impl Frame {
    /// Reads what comes before the container's next child (a key, holes,
    /// Error sub-tags) and says whether a child or the end follows. Holes
    /// read are taken off `promised`.
    fn next(&mut self, r: &mut Reader<'_>, promised: &mut usize) -> Result<Need, Error> {
        match &mut self.kind {
            FrameKind::Object { key, .. } => property_or_end(r, key, tag::END_OBJECT),
            FrameKind::Sparse { key, .. } => property_or_end(r, key, tag::END_SPARSE_ARRAY),
            FrameKind::Dense {
                length,
                elements,
                key,
                ..
            } => {
                while elements.len() < *length as usize {
                    if r.peek_tag()? != tag::HOLE {
                        return Ok(Need::Value);
                    }
                    r.tag()?;
                    elements.push(None);
                    *promised = promised.saturating_sub(1);
                }
                property_or_end(r, key, tag::END_DENSE_ARRAY)
            }
            FrameKind::Map { key, .. } => Ok(if key.is_none() && r.peek_tag()? == tag::END_MAP {
                r.tag()?;
                Need::Close
            } else {
                Need::Value
            }),
            FrameKind::Set { .. } => Ok(if r.peek_tag()? == tag::END_SET {
                r.tag()?;
                Need::Close
            } else {
                Need::Value
            }),
            FrameKind::Error(parts) => error_sub_tags(r, parts),
            FrameKind::Host { value } => Ok(if value.is_none() {
                Need::Value
            } else {
                Need::Close
            }),
        }
    }

    /// Takes the child that [`next`](Self::next) asked for; an element of a
    /// dense array is taken off `promised`.
    fn accept(&mut self, v: Value, promised: &mut usize) {
        match &mut self.kind {
            FrameKind::Object { properties, key }
            | FrameKind::Sparse {
                properties, key, ..
            } => {
                if let Some(k) = key.take() {
                    properties.push((k, v));
                }
            }
            FrameKind::Dense {
                length,
                elements,
                properties,
                key,
            } => {
                if elements.len() < *length as usize {
                    elements.push(Some(v));
                    *promised = promised.saturating_sub(1);
                } else if let Some(k) = key.take() {
                    properties.push((k, v));
                }
            }
            FrameKind::Map { entries, key } => match key.take() {
                Some(k) => entries.push((k, v)),
                None => *key = Some(v),
            },
            FrameKind::Set { values } => values.push(v),
            FrameKind::Error(parts) => parts.cause = Some(v),
            FrameKind::Host { value } => *value = Some(v),
        }
    }
}

/// Inside an object or array: the end tag, or a key whose value follows.
fn property_or_end(r: &mut Reader<'_>, key: &mut Option<Key>, end: u8) -> Result<Need, Error> {
    if r.peek_tag()? == end {
        r.tag()?;
        return Ok(Need::Close);
    }
    *key = Some(wire::key(r)?.to_key());
    Ok(Need::Value)
}

/// Error sub-tags up to the cause (whose value follows) or the end.
fn error_sub_tags(r: &mut Reader<'_>, parts: &mut ErrorParts) -> Result<Need, Error> {
    loop {
        match parts.tags.next(r)? {
            ErrorPart::Kind(kind) => parts.kind = Some(kind),
            ErrorPart::Message(s) => parts.message = Some(s.to_js_string()),
            ErrorPart::Stack(s) => {
                parts.cause_before_stack = parts.cause.is_some();
                parts.stack = Some(s.to_js_string());
            }
            ErrorPart::Cause => return Ok(Need::Value),
            ErrorPart::End => return Ok(Need::Close),
        }
    }
}

impl Decoder<'_> {
    fn value(&mut self) -> Result<Value, Error> {
        let mut top = match self.begin(0)? {
            Begun::Value(v) => return Ok(v),
            Begun::Frame(f) => f,
        };
        let mut parents: Vec<Frame> = Vec::new();
        loop {
            match top.next(&mut self.r, &mut self.promised)? {
                Need::Value => match self.begin(parents.len() + 1)? {
                    Begun::Value(v) => top.accept(v, &mut self.promised),
                    Begun::Frame(child) => parents.push(mem::replace(&mut top, child)),
                },
                Need::Close => match parents.pop() {
                    Some(parent) => {
                        let done = mem::replace(&mut top, parent);
                        let v = self.close(done)?;
                        top.accept(v, &mut self.promised);
                    }
                    None => return self.close(top),
                },
            }
        }
    }

    /// Reserves the next object id.
    fn allocate(&mut self, slot: Slot) -> usize {
        self.slots.push(slot);
        self.slots.len() - 1
    }

    /// Records a finished leaf object under a fresh id.
    fn leaf(&mut self, v: Value) -> Begun {
        self.slots.push(Slot::Done(v.clone()));
        Begun::Value(v)
    }

    fn open(
        &mut self,
        depth: usize,
        offset: usize,
        slot: Slot,
        kind: FrameKind,
    ) -> Result<Begun, Error> {
        wire::check_depth(depth, self.max_depth, offset)?;
        let id = self.allocate(slot);
        Ok(Begun::Frame(Frame { id, offset, kind }))
    }

    /// Reads one value's tag and either the whole value or the opening of a
    /// container; `depth` is the number of containers already open.
    fn begin(&mut self, depth: usize) -> Result<Begun, Error> {
        loop {
            let (at, t) = self.r.tag()?;
            let r = &mut self.r;
            if let Some(p) = wire::primitive(r, t, at)? {
                return Ok(Begun::Value(p.into_value()));
            }
            return match t {
                tag::VERIFY_OBJECT_COUNT => {
                    r.varint_u32()?;
                    continue;
                }
                tag::OBJECT_REFERENCE => self.reference(at).map(Begun::Value),
                tag::BEGIN_OBJECT => {
                    let kind = FrameKind::Object {
                        properties: Vec::new(),
                        key: None,
                    };
                    self.open(depth, at, Slot::Open(None), kind)
                }
                tag::BEGIN_DENSE_ARRAY => {
                    let length = wire::dense_length(r, self.promised)?;
                    self.promised += length as usize;
                    let elements = Vec::with_capacity(length as usize);
                    let kind = FrameKind::Dense {
                        length,
                        elements,
                        properties: Vec::new(),
                        key: None,
                    };
                    self.open(depth, at, Slot::Open(None), kind)
                }
                tag::BEGIN_SPARSE_ARRAY => {
                    let length = r.varint_u32()?;
                    let kind = FrameKind::Sparse {
                        length,
                        properties: Vec::new(),
                        key: None,
                    };
                    self.open(depth, at, Slot::Open(None), kind)
                }
                tag::BEGIN_MAP => {
                    let kind = FrameKind::Map {
                        entries: Vec::new(),
                        key: None,
                    };
                    self.open(depth, at, Slot::Open(None), kind)
                }
                tag::BEGIN_SET => self.open(
                    depth,
                    at,
                    Slot::Open(None),
                    FrameKind::Set { values: Vec::new() },
                ),
                tag::ERROR => self.open(
                    depth,
                    at,
                    Slot::Pending,
                    FrameKind::Error(ErrorParts::default()),
                ),
                tag::HOST_OBJECT => match wire::host(r)? {
                    wire::Host::View(kind, bytes) => {
                        Ok(self.leaf(Value::from(ArrayBufferView::new(kind, bytes.to_vec()))))
                    }
                    wire::Host::Other => {
                        self.open(depth, at, Slot::Pending, FrameKind::Host { value: None })
                    }
                },
                tag::DATE => {
                    let time = r.double()?;
                    Ok(self.leaf(Value::from(Date { anchor: None, time })))
                }
                tag::REGEXP => {
                    let (source, flags) = wire::regexp(r, at)?;
                    Ok(self.leaf(Value::from(RegExp {
                        anchor: None,
                        source: source.to_js_string(),
                        flags,
                    })))
                }
                tag::ARRAY_BUFFER | tag::RESIZABLE_ARRAY_BUFFER => {
                    let (bytes, max_byte_length) = wire::array_buffer(r, t)?;
                    Ok(self.leaf(Value::from(ArrayBuffer {
                        anchor: None,
                        bytes: bytes.to_vec(),
                        max_byte_length,
                    })))
                }
                tag::TRUE_OBJECT
                | tag::FALSE_OBJECT
                | tag::NUMBER_OBJECT
                | tag::BIGINT_OBJECT
                | tag::STRING_OBJECT => {
                    let value = wire::boxed(r, t, at)?.to_primitive();
                    Ok(self.leaf(Value::from(Boxed {
                        anchor: None,
                        value,
                    })))
                }
                t if tag::UNSUPPORTED.contains(&t) => {
                    Err(Error::UnsupportedTag { offset: at, tag: t })
                }
                t => Err(Error::UnknownTag { offset: at, tag: t }),
            };
        }
    }

    fn reference(&mut self, at: usize) -> Result<Value, Error> {
        let id = self.r.varint_u32()?;
        match usize::try_from(id).ok().and_then(|i| self.slots.get_mut(i)) {
            Some(Slot::Done(v)) => Ok(v.clone()),
            Some(Slot::Open(anchor)) => Ok(Value::Ref(*anchor.get_or_insert_with(Anchor::new))),
            Some(Slot::Pending) | None => Err(Error::BadReference { offset: at, id }),
        }
    }

    /// Reads a finished container's trailer, checks it, and builds the value.
    fn close(&mut self, frame: Frame) -> Result<Value, Error> {
        let Frame { id, offset, kind } = frame;
        let anchor = match self.slots.get_mut(id) {
            Some(Slot::Open(anchor)) => anchor.take(),
            _ => None,
        };
        let duplicate = |key: Option<String>| match key {
            Some(key) => Err(Error::DuplicateKey { offset, key }),
            None => Ok(()),
        };
        let value = match kind {
            FrameKind::Object { properties, .. } => {
                self.count(properties.len())?;
                duplicate(duplicate_key::<Value>(
                    properties.iter().map(|(k, _)| k),
                    Occupied::Object,
                ))?;
                Value::from(Object { anchor, properties })
            }
            FrameKind::Dense {
                length,
                elements,
                properties,
                ..
            } => {
                self.count(properties.len())?;
                self.count(length as usize)?;
                duplicate(duplicate_key(
                    properties.iter().map(|(k, _)| k),
                    Occupied::DenseArray(&elements),
                ))?;
                Value::from(Array {
                    anchor,
                    elements,
                    properties,
                })
            }
            FrameKind::Sparse {
                length, properties, ..
            } => {
                self.count(properties.len())?;
                self.count(length as usize)?;
                duplicate(duplicate_key::<Value>(
                    properties.iter().map(|(k, _)| k),
                    Occupied::SparseArray,
                ))?;
                Value::from(SparseArray {
                    anchor,
                    length,
                    properties,
                })
            }
            FrameKind::Map { entries, .. } => {
                self.count(entries.len() * 2)?;
                Value::from(JsMap { anchor, entries })
            }
            FrameKind::Set { values } => {
                self.count(values.len())?;
                Value::from(JsSet { anchor, values })
            }
            FrameKind::Error(p) => Value::from(JsError {
                anchor,
                kind: p.kind.unwrap_or_default(),
                message: p.message,
                stack: p.stack,
                cause: p.cause,
                cause_before_stack: p.cause_before_stack,
            }),
            FrameKind::Host { value } => match value {
                Some(v) if v.is_object() || matches!(v, Value::Ref(_)) => {
                    Value::from(HostObject { anchor, value: v })
                }
                _ => {
                    return Err(Error::BadHostObject {
                        offset,
                        reason: "a host object must carry an object",
                    })
                }
            },
        };
        if let Some(slot) = self.slots.get_mut(id) {
            *slot = Slot::Done(value.clone());
        }
        Ok(value)
    }

    /// Reads a count or length from a trailer and checks it against `actual`.
    fn count(&mut self, actual: usize) -> Result<(), Error> {
        wire::count(&mut self.r, actual as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn dec(s: &str) -> Result<Value, Error> {
        decode_payload(&hex(s), 1000)
    }

    #[test]
    fn primitives() {
        assert!(matches!(dec("ff0f 49 02"), Ok(Value::Int32(1))));
        assert!(matches!(
            dec("ff0f 55 ffffffff0f"),
            Ok(Value::Uint32(u32::MAX))
        ));
        assert!(matches!(dec("ff0f 5f"), Ok(Value::Undefined)));
        assert!(matches!(dec("ff0f 00 00 30"), Ok(Value::Null)));
        assert_eq!(dec("ff0f 53 03 e282ac").unwrap().as_str(), Some("\u{20ac}"));
    }

    #[test]
    fn versions() {
        assert!(dec("ff0d 49 02").is_ok());
        assert_eq!(
            dec("ff10 49 02").unwrap_err(),
            Error::BadVersion {
                offset: 0,
                version: Some(16)
            }
        );
        assert_eq!(
            dec("49 02").unwrap_err(),
            Error::BadVersion {
                offset: 0,
                version: None
            }
        );
    }

    #[test]
    fn error_sub_tags_any_order_once() {
        let e = dec("ff0f 72 73 220153 6d 220161 54 2e").unwrap();
        let e = e.as_error().unwrap();
        assert_eq!(e.kind, ErrorKind::TypeError);
        assert_eq!(e.message.as_ref().unwrap(), "a");
        assert!(matches!(
            dec("ff0f 72 6d 220162 6d 220161 2e"),
            Err(Error::BadErrorTag { .. })
        ));
        assert!(matches!(
            dec("ff0f 72 51 2e"),
            Err(Error::BadErrorTag { .. })
        ));
        // Node 20 order: message, cause, stack.
        let e = dec("ff0f 72 6d 220161 63 5f 73 220153 2e").unwrap();
        assert!(e.as_error().unwrap().cause_before_stack);
    }

    #[test]
    fn references_follow_v8_registration() {
        // An object can contain itself ...
        let v = dec("ff0f 6f 2201 61 5e00 7b01").unwrap();
        assert!(matches!(v.get("a"), Some(Value::Ref(a)) if Some(*a) == v.anchor()));
        // ... an Error cannot (V8 11.3 registers it when complete) ...
        assert!(matches!(
            dec("ff0f 72 63 5e00 2e"),
            Err(Error::BadReference { id: 0, .. })
        ));
        // ... and a host object's inner object is the next id.
        let v = dec("ff0f 41 03 5c01 6f7b00 5e01 5e02 240003").unwrap();
        assert!(matches!(v.get_index(1), Some(Value::Host(_))));
        assert!(matches!(v.get_index(2), Some(Value::Object(_))));
    }

    #[test]
    fn v8_rejections() {
        assert!(matches!(
            dec("ff0f 6f 2201 61 4902 2201 61 4904 7b02"),
            Err(Error::DuplicateKey { .. })
        ));
        assert!(matches!(
            dec("ff0f 41 01 4902 2206 6c656e677468 4904 2401 01"),
            Err(Error::DuplicateKey { .. })
        ));
        assert!(dec("ff0f 41 01 2d 4900 4904 2401 01").is_ok());
        assert!(matches!(dec("ff0f 5a 01"), Err(Error::BadBigInt { .. })));
        assert!(matches!(
            dec("ff0f 52 220161 40"),
            Err(Error::InvalidRegExpFlags { .. })
        ));
        assert!(matches!(
            dec("ff0f 3b 4902 3a 01"),
            Err(Error::UnknownTag { tag: b':', .. })
        ));
        assert!(matches!(
            dec("ff0f 5c 02"),
            Err(Error::BadHostObject { .. })
        ));
        assert!(matches!(
            dec("ff0f 5c 01 4902"),
            Err(Error::BadHostObject { .. })
        ));
        assert!(matches!(
            dec("ff0f 5c 00 0d 00"),
            Err(Error::BadHostObject { .. })
        ));
        assert!(matches!(
            dec("ff0f 63 03 610062"),
            Err(Error::OddTwoByteLength { .. })
        ));
        assert!(matches!(
            dec("ff0f 42 02 00 00 00"),
            Err(Error::TrailingBytes { offset: 6 })
        ));
        assert!(matches!(
            dec("ff0f 7e 04 02 0102"),
            Err(Error::CountMismatch { .. })
        ));
        assert!(matches!(
            dec("ff0f 56"),
            Err(Error::UnsupportedTag { tag: b'V', .. })
        ));
    }

    #[test]
    fn nested_dense_arrays_share_the_bytes_left() {
        // Each array alone declares no more than the bytes left, but the
        // inner one's elements and the outer one's cannot both fit.
        let n: u32 = 1000;
        let mut p = vec![0xff, 0x0f, b'A', 0xe8, 0x07, b'A'];
        p.extend([0xde, 0x07]); // n - 10
        p.extend(vec![b'_'; n as usize]);
        assert_eq!(
            decode_payload(&p, 1000).unwrap_err(),
            Error::LengthPastEnd {
                offset: 6,
                length: u64::from(n - 10)
            }
        );
        // Tightly nested valid arrays still decode: [[[]], [1, [2, 3]], [], 4].
        let v = dec("ff0f 4104 4101 4100 240000 240001 4102 4902 4102 4904 4906 240002 240002 4100 240000 4908 240004")
            .unwrap();
        let second = v.get_index(1).unwrap();
        assert_eq!(
            second
                .get_index(1)
                .and_then(|a| a.get_index(1))
                .and_then(Value::as_f64),
            Some(3.0)
        );
        assert_eq!(v.get_index(3).and_then(Value::as_f64), Some(4.0));
    }
}
