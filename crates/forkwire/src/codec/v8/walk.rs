//! [`Walker`]: a depth-first walk over a [`Value`] in wire order, without
//! recursion, that numbers objects as V8's serializer does (in order of first
//! appearance) and resolves repeats and [`Value::Ref`]s to those numbers. The
//! encoder turns its events into bytes; equality compares two walks.

use std::collections::HashMap;

use super::error::Error;
use super::key::Key;
use super::receiver::Anchor;
use super::value::Value;

/// One step of a walk.
#[derive(Debug, Clone, Copy)]
pub(super) enum Event<'a> {
    /// A primitive (undefined, null, boolean, number, BigInt, string).
    Primitive(&'a Value),
    /// First visit of an object with no children (Date, RegExp, ArrayBuffer,
    /// view, boxed primitive).
    Leaf(&'a Value),
    /// First visit of an object with children (object, arrays, Map, Set,
    /// Error, host object); its children follow, then [`Event::Close`].
    Open(&'a Value),
    /// A property key; its value follows.
    Key(&'a Key),
    /// A hole in a dense array.
    Hole,
    /// The end of the object opened last.
    Close(&'a Value),
    /// An object seen before, by its id.
    Ref(u32),
    /// A [`Value::Ref`] to no enclosing or earlier object.
    Dangling(Anchor),
}

enum Cursor<'a> {
    Properties {
        properties: &'a [(Key, Value)],
        next: usize,
        key_done: bool,
    },
    Dense {
        elements: &'a [Option<Value>],
        next: usize,
    },
    Entries {
        entries: &'a [(Value, Value)],
        next: usize,
        key_done: bool,
    },
    Values {
        values: &'a [Value],
        next: usize,
    },
    One(Option<&'a Value>),
}

enum Step<'a> {
    Key(&'a Key),
    Hole,
    Child(&'a Value),
    Done,
}

impl<'a> Cursor<'a> {
    fn step(&mut self) -> Step<'a> {
        match self {
            Cursor::Properties {
                properties,
                next,
                key_done,
            } => match properties.get(*next) {
                Some((k, _)) if !*key_done => {
                    *key_done = true;
                    Step::Key(k)
                }
                Some((_, v)) => {
                    *key_done = false;
                    *next += 1;
                    Step::Child(v)
                }
                None => Step::Done,
            },
            Cursor::Dense { elements, next } => match elements.get(*next) {
                Some(element) => {
                    *next += 1;
                    element.as_ref().map_or(Step::Hole, Step::Child)
                }
                None => Step::Done,
            },
            Cursor::Entries {
                entries,
                next,
                key_done,
            } => match entries.get(*next) {
                Some((k, _)) if !*key_done => {
                    *key_done = true;
                    Step::Child(k)
                }
                Some((_, v)) => {
                    *key_done = false;
                    *next += 1;
                    Step::Child(v)
                }
                None => Step::Done,
            },
            Cursor::Values { values, next } => match values.get(*next) {
                Some(v) => {
                    *next += 1;
                    Step::Child(v)
                }
                None => Step::Done,
            },
            Cursor::One(child) => child.take().map_or(Step::Done, Step::Child),
        }
    }
}

struct Frame<'a> {
    value: &'a Value,
    id: u32,
    /// Cursors to run in turn (a dense array walks its elements, then its
    /// other properties).
    cursors: [Option<Cursor<'a>>; 2],
}

/// A walk over one value; see the module docs.
pub(super) struct Walker<'a> {
    pending: Option<&'a Value>,
    stack: Vec<Frame<'a>>,
    ids: HashMap<usize, u32>,
    anchors: HashMap<Anchor, u32>,
    next_id: u32,
    max_depth: usize,
}

impl<'a> Walker<'a> {
    /// A walk over `root` whose first object gets id `first_id` and that
    /// fails with [`Error::TooDeep`] past `max_depth` nested containers.
    pub(super) fn new(root: &'a Value, first_id: u32, max_depth: usize) -> Walker<'a> {
        Walker {
            pending: Some(root),
            stack: Vec::new(),
            ids: HashMap::new(),
            anchors: HashMap::new(),
            next_id: first_id,
            max_depth,
        }
    }

    /// The id the next new object would get.
    pub(super) fn next_id(&self) -> u32 {
        self.next_id
    }

    fn visit(&mut self, v: &'a Value) -> Result<Event<'a>, Error> {
        if let Value::Ref(anchor) = v {
            return Ok(match self.anchors.get(anchor) {
                Some(id) => Event::Ref(*id),
                None => Event::Dangling(*anchor),
            });
        }
        let Some(address) = v.object_address() else {
            return Ok(Event::Primitive(v));
        };
        if let Some(id) = self.ids.get(&address) {
            return Ok(Event::Ref(*id));
        }
        let id = self.next_id;
        self.next_id = id
            .checked_add(1)
            .ok_or_else(|| Error::Unsupported("more than 2^32 objects".into()))?;
        if v.is_shared() {
            self.ids.insert(address, id);
        }
        let cursors = match v {
            Value::Object(o) => [Some(properties(&o.properties)), None],
            Value::Array(a) => [
                Some(Cursor::Dense {
                    elements: &a.elements,
                    next: 0,
                }),
                Some(properties(&a.properties)),
            ],
            Value::SparseArray(a) => [Some(properties(&a.properties)), None],
            Value::Map(m) => [
                Some(Cursor::Entries {
                    entries: &m.entries,
                    next: 0,
                    key_done: false,
                }),
                None,
            ],
            Value::Set(s) => [
                Some(Cursor::Values {
                    values: &s.values,
                    next: 0,
                }),
                None,
            ],
            Value::Error(e) => [Some(Cursor::One(e.cause.as_ref())), None],
            Value::Host(h) => [Some(Cursor::One(Some(&h.value))), None],
            _ => {
                self.register(v, id);
                return Ok(Event::Leaf(v));
            }
        };
        if self.stack.len() >= self.max_depth {
            return Err(Error::TooDeep {
                offset: 0,
                max_depth: self.max_depth,
            });
        }
        // V8 registers an Error or host object only once it is complete,
        // so a reference from inside one to itself cannot be read back.
        if !matches!(v, Value::Error(_) | Value::Host(_)) {
            self.register(v, id);
        }
        self.stack.push(Frame {
            value: v,
            id,
            cursors,
        });
        Ok(Event::Open(v))
    }

    fn register(&mut self, v: &Value, id: u32) {
        if let Some(anchor) = v.anchor() {
            self.anchors.insert(anchor, id);
        }
    }
}

fn properties(properties: &[(Key, Value)]) -> Cursor<'_> {
    Cursor::Properties {
        properties,
        next: 0,
        key_done: false,
    }
}

impl<'a> Iterator for Walker<'a> {
    type Item = Result<Event<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(v) = self.pending.take() {
            return Some(self.visit(v));
        }
        let step = loop {
            let frame = self.stack.last_mut()?;
            let Some(cursor) = frame.cursors.iter_mut().flatten().next() else {
                break Step::Done;
            };
            match cursor.step() {
                Step::Done => {
                    if let Some(slot) = frame.cursors.iter_mut().find(|c| c.is_some()) {
                        *slot = None;
                    }
                }
                step => break step,
            }
        };
        Some(match step {
            Step::Key(k) => Ok(Event::Key(k)),
            Step::Hole => Ok(Event::Hole),
            Step::Child(v) => self.visit(v),
            Step::Done => {
                let frame = self.stack.pop()?;
                if matches!(frame.value, Value::Error(_) | Value::Host(_)) {
                    self.register(frame.value, frame.id);
                }
                Ok(Event::Close(frame.value))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn events(v: &Value) -> Vec<String> {
        Walker::new(v, 0, usize::MAX)
            .map(|e| match e.unwrap() {
                Event::Primitive(p) => format!("{p:?}"),
                Event::Leaf(l) => format!("leaf {}", l.type_name()),
                Event::Open(o) => format!("open {}", o.type_name()),
                Event::Key(k) => format!("key {}", k.name()),
                Event::Hole => "hole".into(),
                Event::Close(c) => format!("close {}", c.type_name()),
                Event::Ref(id) => format!("ref {id}"),
                Event::Dangling(_) => "dangling".into(),
            })
            .collect()
    }

    #[test]
    fn shared_objects_become_references() {
        let o = Value::object([("x", 1)]);
        let root = Value::object([("a", o.clone()), ("b", o)]);
        assert_eq!(
            events(&root),
            [
                "open object",
                "key a",
                "open object",
                "key x",
                "Int32(1)",
                "close object",
                "key b",
                "ref 1",
                "close object"
            ]
        );
    }

    #[test]
    fn anchors_close_cycles() {
        let a = Anchor::new();
        let arr = Value::Array(Arc::new(crate::codec::v8::Array {
            anchor: Some(a),
            elements: vec![Some(Value::Ref(a)), None],
            properties: vec![],
        }));
        assert_eq!(events(&arr), ["open array", "ref 0", "hole", "close array"]);
        assert_eq!(events(&Value::Ref(a)), ["dangling"]);
    }

    #[test]
    fn errors_register_when_complete() {
        let a = Anchor::new();
        let mut e = crate::codec::v8::JsError::new(crate::codec::v8::ErrorKind::Error, "x");
        e.anchor = Some(a);
        e.cause = Some(Value::Ref(a));
        assert_eq!(
            events(&Value::from(e)),
            ["open Error", "dangling", "close Error"]
        );
    }

    #[test]
    fn depth_limit() {
        let v = Value::array([Value::array([Value::array([0])])]);
        assert_eq!(Walker::new(&v, 0, 3).filter(Result::is_err).count(), 0);
        assert!(Walker::new(&v, 0, 2).any(|e| matches!(e, Err(Error::TooDeep { .. }))));
    }
}
