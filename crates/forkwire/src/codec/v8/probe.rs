//! [`probe`]: a few named members of a payload's top-level object, read in
//! one pass over the bytes that builds no [`Value`] except the primitives
//! asked for.
//!
//! [`decode`](super::decode) builds a [`Value`] of 40 bytes or more for every
//! value in the payload, one-byte `null`s included: reading an envelope's
//! `id` that way costs up to 40 times the payload. The probe walks the same
//! bytes with the same checks on an explicit stack (one small frame per open
//! container, at most [`Limits::max_depth`](super::Limits::max_depth)) and
//! keeps only the members it was asked for; an object member is reported as
//! such without being built, so shared references cannot make it expand.
//!
//! What the probe rejects is what [`decode`](super::decode) rejects, with the
//! same [`Error`], except for one check that needs memory in proportion to
//! the payload: a property repeated in one object or array is only caught
//! when it is one of the names asked for, an array's `length`, or an index
//! that a dense array's element holds (unless holes surround it).

use super::bigint::BigInt;
use super::error::Error;
use super::number::{f64_array_index, js_number_to_string, parse_array_index};
use super::reader::Reader;
use super::receiver::{ViewKind, REGEXP_VALID_FLAGS};
use super::string::JsString;
use super::tag;
use super::value::Value;
use super::Limits;

/// A member for [`probe_with`] to read: a property name and, optionally, the
/// names to read inside it when it is an object or array (one nested level).
///
/// ```
/// use forkwire::codec::v8::Field;
/// const FIELDS: &[Field<'static>] = &[Field::new("cmd"), Field::nested("msg", &["cmd"])];
/// assert_eq!(FIELDS[1].name(), "msg");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    name: &'a str,
    nested: &'a [&'a str],
}

impl<'a> Field<'a> {
    /// The member `name`, not looked into.
    pub const fn new(name: &'a str) -> Self {
        Field { name, nested: &[] }
    }

    /// The member `name` and, when it is an object or array, its members
    /// `nested` (read with [`Member::get`]).
    pub const fn nested(name: &'a str, nested: &'a [&'a str]) -> Self {
        Field { name, nested }
    }

    /// The property name.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The names read inside the member.
    pub fn nested_names(&self) -> &'a [&'a str] {
        self.nested
    }
}

/// What kind of value a probed value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `undefined`, `null`, a boolean, number, BigInt or string.
    Primitive,
    /// A plain object (`o`), or a host object carrying one (Node reads
    /// `\ 01` back as the object it carries). Its members can be probed.
    Object,
    /// An array, dense (`A`) or sparse (`a`), or a host object carrying one.
    /// Its elements and other properties can be probed.
    Array,
    /// A back-reference (`^`) to an object written earlier. It is not
    /// followed: its members read as absent.
    Reference,
    /// Any other object: Date, RegExp, Map, Set, Error, ArrayBuffer, typed
    /// array or Buffer, boxed primitive.
    Other,
}

/// The result of a [`probe`]: the top-level value's [`Shape`] and the members
/// asked for.
///
/// Members are read as [`Value::get`] reads them: from a plain object, from
/// an array (its elements by index name, and its other properties), and
/// through a host object from the object it carries. Any other top-level
/// value has no members.
///
/// ```
/// use forkwire::codec::v8::{probe, Member, Shape, Value};
/// // process.send({id: 1, ok: true})
/// let p = probe(b"\xff\x0fo\"\x02idI\x02\"\x02okT{\x02", &["id", "result"]).unwrap();
/// assert_eq!(p.shape(), Shape::Object);
/// assert_eq!(p.get("id").value().and_then(Value::as_f64), Some(1.0));
/// assert!(matches!(p.get("result"), Member::Absent));
/// ```
#[derive(Debug, Clone)]
pub struct Probe {
    shape: Shape,
    members: Vec<(Box<str>, Member)>,
}

impl Probe {
    /// The shape of the value probed.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The member `name`; [`Member::Absent`] if the value has none, or if
    /// `name` was not asked for.
    pub fn get(&self, name: &str) -> &Member {
        self.members
            .iter()
            .find(|(n, _)| &**n == name)
            .map_or(&ABSENT, |(_, m)| m)
    }

    /// The members asked for, in the order asked.
    pub fn members(&self) -> impl Iterator<Item = (&str, &Member)> {
        self.members.iter().map(|(n, m)| (&**n, m))
    }
}

static ABSENT: Member = Member::Absent;

/// One member of a [`Probe`].
#[derive(Debug, Clone)]
pub enum Member {
    /// The value has no such property.
    Absent,
    /// A primitive (`undefined` included: a property set to `undefined` is
    /// present).
    Primitive(Value),
    /// An object of any kind, not built. For a [`Field::nested`] member that
    /// is an object or array, the probe holds the nested members asked for.
    Object(Probe),
}

impl Member {
    /// Whether the property exists (`undefined` counts as present).
    pub fn is_present(&self) -> bool {
        !matches!(self, Member::Absent)
    }

    /// Whether it is an object (of any kind).
    pub fn is_object(&self) -> bool {
        matches!(self, Member::Object(_))
    }

    /// The primitive value.
    pub fn value(&self) -> Option<&Value> {
        match self {
            Member::Primitive(v) => Some(v),
            _ => None,
        }
    }

    /// The text of a string without lone surrogates.
    pub fn as_str(&self) -> Option<&str> {
        self.value().and_then(Value::as_str)
    }

    /// The shape of the value; `None` when absent.
    pub fn shape(&self) -> Option<Shape> {
        match self {
            Member::Absent => None,
            Member::Primitive(_) => Some(Shape::Primitive),
            Member::Object(p) => Some(p.shape),
        }
    }

    /// The nested member `name` of a [`Field::nested`] member;
    /// [`Member::Absent`] for anything else.
    ///
    /// ```
    /// use forkwire::codec::v8::{encode, probe_with, Field, Limits, Value};
    /// let msg = Value::object([("cmd", "NODE_X")]);
    /// let payload = encode(&Value::object([("cmd", Value::from("NODE_HANDLE")), ("msg", msg)]))?;
    /// let fields = [Field::new("cmd"), Field::nested("msg", &["cmd"])];
    /// let p = probe_with(&payload, &fields, &Limits::default())?;
    /// assert_eq!(p.get("msg").get("cmd").as_str(), Some("NODE_X"));
    /// # Ok::<(), forkwire::codec::v8::Error>(())
    /// ```
    pub fn get(&self, name: &str) -> &Member {
        match self {
            Member::Object(p) => p.get(name),
            _ => &ABSENT,
        }
    }
}

/// Probes a payload for the top-level members `names`, with the default
/// [`Limits`]. See [`Probe`] and [`probe_with`].
pub fn probe(payload: &[u8], names: &[&str]) -> Result<Probe, Error> {
    let fields: Vec<Field<'_>> = names.iter().map(|&n| Field::new(n)).collect();
    probe_with(payload, &fields, &Limits::default())
}

/// Probes a payload (header included, as for [`decode`](super::decode)) for
/// the top-level members `fields`, walking every byte and checking it as
/// [`decode_with`](super::decode_with) does with the same `limits`.
///
/// Memory used: the members found (a primitive is built as a [`Value`]; an
/// object is not) and a small frame per open container; nothing in
/// proportion to the rest of the payload.
pub fn probe_with(payload: &[u8], fields: &[Field<'_>], limits: &Limits) -> Result<Probe, Error> {
    let mut walker = Walker {
        r: Reader::new(payload),
        max_depth: limits.max_depth,
        promised: 0,
        next_id: 0,
        pending: Vec::new(),
        top_names: fields.iter().map(|f| Name::new(f.name)).collect(),
        nested_names: fields
            .iter()
            .map(|f| f.nested.iter().map(|n| Name::new(n)).collect())
            .collect(),
        probe: Probe {
            shape: Shape::Other,
            members: fields
                .iter()
                .map(|f| (Box::from(f.name), Member::Absent))
                .collect(),
        },
    };
    walker.header()?;
    walker.value()?;
    if walker.r.remaining() > 0 {
        return Err(Error::TrailingBytes {
            offset: walker.r.pos(),
        });
    }
    Ok(walker.probe)
}

/// A name asked for, with what numeric keys would spell it.
struct Name<'a> {
    text: &'a str,
    /// The number whose JavaScript name this is (`"1"`, `"-0.5"`, `"NaN"`).
    number: Option<f64>,
    /// The array index it names.
    index: Option<u32>,
}

impl<'a> Name<'a> {
    fn new(text: &'a str) -> Self {
        let number = text
            .parse::<f64>()
            .ok()
            .filter(|x| js_number_to_string(*x) == text);
        Name {
            text,
            number,
            index: parse_array_index(text),
        }
    }
}

/// A property key as read, borrowed from the payload.
enum WireKey<'p> {
    /// A string key: its tag and body (already checked).
    String(u8, &'p [u8]),
    /// A number key (`I`, `U` or `N`).
    Number(f64),
}

impl WireKey<'_> {
    /// Whether the key names the property `name` (as [`Key::is`]).
    ///
    /// [`Key::is`]: super::Key::is
    fn is(&self, name: &Name<'_>) -> bool {
        match *self {
            WireKey::String(t, bytes) => string_is(t, bytes, name.text),
            WireKey::Number(x) => name
                .number
                .is_some_and(|n| n == x || (n.is_nan() && x.is_nan())),
        }
    }

    /// The array index the key denotes.
    fn index(&self) -> Option<u32> {
        match *self {
            WireKey::Number(x) => f64_array_index(x),
            WireKey::String(t, bytes) => {
                // An index has at most 10 ASCII digits.
                let mut digits = [0u8; 10];
                let mut n = 0;
                let mut push = |unit: u16| match u8::try_from(unit) {
                    Ok(b) if b.is_ascii_digit() && n < digits.len() => {
                        digits[n] = b;
                        n += 1;
                        true
                    }
                    _ => false,
                };
                let all = match t {
                    tag::TWO_BYTE_STRING => bytes
                        .chunks_exact(2)
                        .all(|c| push(u16::from_le_bytes([c[0], c[1]]))),
                    _ => bytes.iter().all(|&b| push(u16::from(b))),
                };
                if !all {
                    return None;
                }
                std::str::from_utf8(&digits[..n])
                    .ok()
                    .and_then(parse_array_index)
            }
        }
    }
}

/// Whether a checked string body has exactly the text `name`.
fn string_is(t: u8, bytes: &[u8], name: &str) -> bool {
    match t {
        tag::ONE_BYTE_STRING => {
            let mut chars = name.chars();
            bytes.iter().all(|&b| chars.next() == Some(char::from(b))) && chars.next().is_none()
        }
        tag::TWO_BYTE_STRING => {
            let mut units = name.encode_utf16();
            bytes
                .chunks_exact(2)
                .all(|c| units.next() == Some(u16::from_le_bytes([c[0], c[1]])))
                && units.next().is_none()
        }
        _ => bytes == name.as_bytes(),
    }
}

/// Where the value about to be read goes.
#[derive(Clone, Copy)]
enum Dest {
    Skip,
    /// The top-level value.
    Top,
    /// Top-level member `j`.
    Member(usize),
    /// Member `k` of top-level member `j`.
    Nested(usize, usize),
}

/// Whose members a container's properties are.
#[derive(Clone, Copy)]
enum Holder {
    Top,
    Nested(usize),
}

/// A container being read: what V8's reader would hold, minus the values.
struct Frame {
    id: usize,
    offset: usize,
    state: State,
    holder: Option<Holder>,
    /// Key/value pairs read (not elements); for an Error, causes read.
    properties: u64,
    /// Where the child about to be read goes.
    child: Dest,
    /// A property found twice: the error once the trailer is checked.
    duplicate: Option<String>,
}

enum State {
    Object,
    Dense {
        length: u32,
        /// Elements and holes read.
        read: u32,
        holes: u32,
        first_hole: u32,
        last_hole: u32,
    },
    Sparse {
        length: u32,
    },
    Map {
        children: u64,
    },
    Set {
        values: u64,
    },
    Error {
        kind: bool,
        message: bool,
        stack: bool,
    },
    Host {
        /// Whether the value carried was an object, once read.
        carried: Option<bool>,
    },
}

enum Need {
    Value,
    Close,
}

enum Begun {
    /// A complete value; whether it is an object.
    Done(bool),
    Frame(Frame),
}

struct Walker<'p, 'q> {
    r: Reader<'p>,
    max_depth: usize,
    /// As in the decoder: elements that open dense arrays still expect.
    promised: usize,
    /// Object ids handed out so far (the decoder's id table length).
    next_id: usize,
    /// Ids of the open Errors and host objects, which references may not
    /// name yet; increasing, since inner containers get later ids.
    pending: Vec<usize>,
    top_names: Vec<Name<'q>>,
    nested_names: Vec<Vec<Name<'q>>>,
    probe: Probe,
}

fn zigzag(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

impl Walker<'_, '_> {
    fn header(&mut self) -> Result<(), Error> {
        if self.r.byte().ok() != Some(tag::HEADER) {
            return Err(Error::BadVersion {
                offset: 0,
                version: None,
            });
        }
        let version = self.r.varint()?;
        if !(tag::MIN_VERSION..=u64::from(tag::VERSION)).contains(&version) {
            return Err(Error::BadVersion {
                offset: 0,
                version: Some(version),
            });
        }
        Ok(())
    }

    fn value(&mut self) -> Result<(), Error> {
        let mut top = match self.begin(0, Dest::Top)? {
            Begun::Done(_) => return Ok(()),
            Begun::Frame(f) => f,
        };
        let mut parents: Vec<Frame> = Vec::new();
        loop {
            match self.next(&mut top)? {
                Need::Value => match self.begin(parents.len() + 1, top.child)? {
                    Begun::Done(object) => self.accept(&mut top, object),
                    Begun::Frame(child) => parents.push(std::mem::replace(&mut top, child)),
                },
                Need::Close => {
                    self.close(&top)?;
                    match parents.pop() {
                        Some(parent) => {
                            top = parent;
                            self.accept(&mut top, true);
                        }
                        None => return Ok(()),
                    }
                }
            }
        }
    }

    fn names(&self, holder: Holder) -> &[Name<'_>] {
        match holder {
            Holder::Top => &self.top_names,
            Holder::Nested(j) => &self.nested_names[j],
        }
    }

    fn dest(holder: Holder, k: usize) -> Dest {
        match holder {
            Holder::Top => Dest::Member(k),
            Holder::Nested(j) => Dest::Nested(j, k),
        }
    }

    fn slot(&mut self, dest: Dest) -> Option<&mut Member> {
        match dest {
            Dest::Skip | Dest::Top => None,
            Dest::Member(j) => Some(&mut self.probe.members[j].1),
            Dest::Nested(j, k) => match &mut self.probe.members[j].1 {
                Member::Object(p) => Some(&mut p.members[k].1),
                _ => None,
            },
        }
    }

    fn is_present(&mut self, dest: Dest) -> bool {
        self.slot(dest).is_some_and(|m| m.is_present())
    }

    /// Records a primitive read for `dest`.
    fn primitive(&mut self, dest: Dest, v: Value) {
        match dest {
            Dest::Top => self.probe.shape = Shape::Primitive,
            _ => {
                if let Some(slot) = self.slot(dest) {
                    *slot = Member::Primitive(v);
                }
            }
        }
    }

    /// Records an object of `shape` read for `dest`; returns whose members
    /// its properties are, if anyone's.
    fn object(&mut self, dest: Dest, shape: Shape) -> Option<Holder> {
        let holds = matches!(shape, Shape::Object | Shape::Array);
        match dest {
            Dest::Skip => None,
            Dest::Top => {
                self.probe.shape = shape;
                holds.then_some(Holder::Top)
            }
            Dest::Member(j) => {
                let nested = &self.nested_names[j];
                let holder = (holds && !nested.is_empty()).then_some(Holder::Nested(j));
                let members = match holder {
                    Some(_) => nested
                        .iter()
                        .map(|n| (Box::from(n.text), Member::Absent))
                        .collect(),
                    None => Vec::new(),
                };
                self.probe.members[j].1 = Member::Object(Probe { shape, members });
                holder
            }
            Dest::Nested(..) => {
                if let Some(slot) = self.slot(dest) {
                    *slot = Member::Object(Probe {
                        shape,
                        members: Vec::new(),
                    });
                }
                None
            }
        }
    }

    /// Whether the value about to be read for `dest` is worth building.
    fn wanted(dest: Dest) -> bool {
        !matches!(dest, Dest::Skip | Dest::Top)
    }

    fn open(
        &mut self,
        depth: usize,
        offset: usize,
        state: State,
        dest: Dest,
    ) -> Result<Begun, Error> {
        if depth >= self.max_depth {
            return Err(Error::TooDeep {
                offset,
                max_depth: self.max_depth,
            });
        }
        let id = self.next_id;
        self.next_id += 1;
        let (holder, child) = match state {
            // What a host object carries is what JavaScript gets.
            State::Host { .. } => (None, dest),
            State::Object => (self.object(dest, Shape::Object), Dest::Skip),
            State::Dense { .. } | State::Sparse { .. } => {
                (self.object(dest, Shape::Array), Dest::Skip)
            }
            _ => (self.object(dest, Shape::Other), Dest::Skip),
        };
        if matches!(state, State::Error { .. } | State::Host { .. }) {
            self.pending.push(id);
        }
        Ok(Begun::Frame(Frame {
            id,
            offset,
            state,
            holder,
            properties: 0,
            child,
            duplicate: None,
        }))
    }

    /// A leaf object (Date, RegExp, ArrayBuffer, view, boxed primitive):
    /// takes an id, as in the decoder.
    fn leaf(&mut self, dest: Dest) -> Begun {
        self.next_id += 1;
        self.object(dest, Shape::Other);
        Begun::Done(true)
    }

    /// Reads one value's tag and either the whole value or the opening of a
    /// container; `depth` is the number of containers already open.
    fn begin(&mut self, depth: usize, dest: Dest) -> Result<Begun, Error> {
        let build = Self::wanted(dest);
        loop {
            let (at, t) = self.r.tag()?;
            let r = &mut self.r;
            let v = match t {
                tag::UNDEFINED => Value::Undefined,
                tag::NULL => Value::Null,
                tag::TRUE => Value::Bool(true),
                tag::FALSE => Value::Bool(false),
                tag::INT32 => Value::Int32(zigzag(r.varint_u32()?)),
                tag::UINT32 => Value::Uint32(r.varint_u32()?),
                tag::DOUBLE => Value::Double(r.double()?),
                tag::BIGINT => match bigint_body(r, at, build)? {
                    Some(b) => Value::BigInt(b),
                    None => Value::Undefined,
                },
                tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING | tag::UTF8_STRING => {
                    match string_body(r, t, at, build)? {
                        Some(s) => Value::String(s),
                        None => Value::Undefined,
                    }
                }
                tag::VERIFY_OBJECT_COUNT => {
                    r.varint_u32()?;
                    continue;
                }
                tag::OBJECT_REFERENCE => {
                    let id = r.varint_u32()?;
                    let known = usize::try_from(id)
                        .is_ok_and(|i| i < self.next_id && self.pending.binary_search(&i).is_err());
                    if !known {
                        return Err(Error::BadReference { offset: at, id });
                    }
                    self.object(dest, Shape::Reference);
                    return Ok(Begun::Done(true));
                }
                tag::BEGIN_OBJECT => return self.open(depth, at, State::Object, dest),
                tag::BEGIN_DENSE_ARRAY => {
                    let length_at = r.pos();
                    let length = r.varint_u32()?;
                    if length as usize > r.remaining().saturating_sub(self.promised) {
                        return Err(Error::LengthPastEnd {
                            offset: length_at,
                            length: u64::from(length),
                        });
                    }
                    self.promised += length as usize;
                    let state = State::Dense {
                        length,
                        read: 0,
                        holes: 0,
                        first_hole: 0,
                        last_hole: 0,
                    };
                    return self.open(depth, at, state, dest);
                }
                tag::BEGIN_SPARSE_ARRAY => {
                    let length = r.varint_u32()?;
                    return self.open(depth, at, State::Sparse { length }, dest);
                }
                tag::BEGIN_MAP => return self.open(depth, at, State::Map { children: 0 }, dest),
                tag::BEGIN_SET => return self.open(depth, at, State::Set { values: 0 }, dest),
                tag::ERROR => {
                    let state = State::Error {
                        kind: false,
                        message: false,
                        stack: false,
                    };
                    return self.open(depth, at, state, dest);
                }
                tag::HOST_OBJECT => {
                    let sub_at = r.pos();
                    return match r.varint()? {
                        tag::host::VIEW => {
                            let index = r.varint()?;
                            if ViewKind::from_index(index).is_none() {
                                return Err(Error::BadHostObject {
                                    offset: sub_at,
                                    reason: "unknown ArrayBufferView type index",
                                });
                            }
                            r.length_prefixed()?;
                            Ok(self.leaf(dest))
                        }
                        tag::host::OTHER => {
                            self.open(depth, at, State::Host { carried: None }, dest)
                        }
                        _ => Err(Error::BadHostObject {
                            offset: sub_at,
                            reason: "sub-tag is neither 0 nor 1",
                        }),
                    };
                }
                tag::DATE => {
                    r.double()?;
                    return Ok(self.leaf(dest));
                }
                tag::REGEXP => {
                    read_string(r)?;
                    let flags = r.varint_u32()?;
                    if flags & !REGEXP_VALID_FLAGS != 0 {
                        return Err(Error::InvalidRegExpFlags { offset: at, flags });
                    }
                    return Ok(self.leaf(dest));
                }
                tag::ARRAY_BUFFER | tag::RESIZABLE_ARRAY_BUFFER => {
                    let length_at = r.pos();
                    let length = r.varint_u32()?;
                    if t == tag::RESIZABLE_ARRAY_BUFFER {
                        let max = r.varint_u32()?;
                        if length > max {
                            return Err(Error::CountMismatch {
                                offset: length_at,
                                declared: max,
                                actual: u64::from(length),
                            });
                        }
                    }
                    r.bytes(u64::from(length), length_at)?;
                    if let Some(offset) = r.upcoming(tag::ARRAY_BUFFER_VIEW) {
                        return Err(Error::UnsupportedTag {
                            offset,
                            tag: tag::ARRAY_BUFFER_VIEW,
                        });
                    }
                    return Ok(self.leaf(dest));
                }
                tag::TRUE_OBJECT | tag::FALSE_OBJECT => return Ok(self.leaf(dest)),
                tag::NUMBER_OBJECT => {
                    r.double()?;
                    return Ok(self.leaf(dest));
                }
                tag::BIGINT_OBJECT => {
                    bigint_body(r, at, false)?;
                    return Ok(self.leaf(dest));
                }
                tag::STRING_OBJECT => {
                    read_string(r)?;
                    return Ok(self.leaf(dest));
                }
                t if tag::UNSUPPORTED.contains(&t) => {
                    return Err(Error::UnsupportedTag { offset: at, tag: t })
                }
                t => return Err(Error::UnknownTag { offset: at, tag: t }),
            };
            self.primitive(dest, v);
            return Ok(Begun::Done(false));
        }
    }

    /// Reads what comes before the container's next child (a key, holes,
    /// Error sub-tags), sets where the child goes, and says whether a child
    /// or the end follows.
    fn next(&mut self, f: &mut Frame) -> Result<Need, Error> {
        match &mut f.state {
            State::Object => self.property_or_end(f, tag::END_OBJECT),
            State::Sparse { .. } => self.property_or_end(f, tag::END_SPARSE_ARRAY),
            State::Dense {
                length,
                read,
                holes,
                first_hole,
                last_hole,
            } => {
                while *read < *length {
                    if self.r.peek_tag()? != tag::HOLE {
                        let i = *read;
                        f.child = match f.holder {
                            Some(h) => self
                                .names(h)
                                .iter()
                                .position(|n| n.index == Some(i))
                                .map_or(Dest::Skip, |k| Self::dest(h, k)),
                            None => Dest::Skip,
                        };
                        return Ok(Need::Value);
                    }
                    self.r.tag()?;
                    if *holes == 0 {
                        *first_hole = *read;
                    }
                    *last_hole = *read;
                    *holes += 1;
                    *read += 1;
                    self.promised = self.promised.saturating_sub(1);
                }
                self.property_or_end(f, tag::END_DENSE_ARRAY)
            }
            State::Map { children } => {
                f.child = Dest::Skip;
                Ok(
                    if *children % 2 == 0 && self.r.peek_tag()? == tag::END_MAP {
                        self.r.tag()?;
                        Need::Close
                    } else {
                        Need::Value
                    },
                )
            }
            State::Set { .. } => {
                f.child = Dest::Skip;
                Ok(if self.r.peek_tag()? == tag::END_SET {
                    self.r.tag()?;
                    Need::Close
                } else {
                    Need::Value
                })
            }
            State::Error {
                kind,
                message,
                stack,
            } => {
                f.child = Dest::Skip;
                loop {
                    let at = self.r.pos();
                    let sub = self.r.varint()?;
                    let repeated = Err(Error::BadErrorTag {
                        offset: at,
                        tag: sub,
                    });
                    match u8::try_from(sub).unwrap_or(0) {
                        tag::error::EVAL
                        | tag::error::RANGE
                        | tag::error::REFERENCE
                        | tag::error::SYNTAX
                        | tag::error::TYPE
                        | tag::error::URI => {
                            if std::mem::replace(kind, true) {
                                return repeated;
                            }
                        }
                        tag::error::MESSAGE if !*message => {
                            *message = true;
                            read_string(&mut self.r)?;
                        }
                        tag::error::STACK if !*stack => {
                            *stack = true;
                            read_string(&mut self.r)?;
                        }
                        // At most one cause: `accept` counts it in
                        // `properties`.
                        tag::error::CAUSE if f.properties == 0 => return Ok(Need::Value),
                        tag::error::END => return Ok(Need::Close),
                        _ => return repeated,
                    }
                }
            }
            // The child goes where the host object would have gone.
            State::Host { carried } => Ok(match carried {
                None => Need::Value,
                Some(_) => Need::Close,
            }),
        }
    }

    /// Inside an object or array: the end tag, or a key whose value follows.
    fn property_or_end(&mut self, f: &mut Frame, end: u8) -> Result<Need, Error> {
        if self.r.peek_tag()? == end {
            self.r.tag()?;
            return Ok(Need::Close);
        }
        let key = read_key(&mut self.r)?;
        f.child = Dest::Skip;
        let array = match f.state {
            State::Dense {
                length,
                holes,
                first_hole,
                last_hole,
                ..
            } => Some(Some((length, holes, first_hole, last_hole))),
            State::Sparse { .. } => Some(None),
            _ => None,
        };
        if let Some(dense) = array {
            // Arrays own `length`, and a dense array the indexes of its
            // elements (known without storing them unless holes surround
            // the index).
            if matches!(key, WireKey::String(t, bytes) if string_is(t, bytes, "length")) {
                f.duplicate.get_or_insert_with(|| "length".to_owned());
            }
            if let (Some((length, holes, first, last)), Some(i)) = (dense, key.index()) {
                // Between the first and last hole an index may be either.
                if i < length && (holes == 0 || i < first || i > last) {
                    f.duplicate.get_or_insert_with(|| i.to_string());
                }
            }
        }
        if let Some(h) = f.holder {
            if let Some(k) = self.names(h).iter().position(|n| key.is(n)) {
                let dest = Self::dest(h, k);
                if self.is_present(dest) {
                    let name = self.names(h)[k].text.to_owned();
                    f.duplicate.get_or_insert(name);
                } else {
                    f.child = dest;
                }
            }
        }
        Ok(Need::Value)
    }

    /// Takes the child that [`next`](Self::next) asked for.
    fn accept(&mut self, f: &mut Frame, object: bool) {
        match &mut f.state {
            State::Dense { length, read, .. } if *read < *length => {
                *read += 1;
                self.promised = self.promised.saturating_sub(1);
            }
            State::Map { children } => *children += 1,
            State::Set { values } => *values += 1,
            State::Host { carried } => *carried = Some(object),
            // A property, or an Error's cause (counted to refuse a second).
            _ => f.properties += 1,
        }
    }

    /// Reads a finished container's trailer and checks it.
    fn close(&mut self, f: &Frame) -> Result<(), Error> {
        match f.state {
            State::Object => self.count(f.properties)?,
            State::Dense { length, .. } | State::Sparse { length } => {
                self.count(f.properties)?;
                self.count(u64::from(length))?;
            }
            State::Map { children } => self.count(children)?,
            State::Set { values } => self.count(values)?,
            State::Error { .. } => {}
            State::Host { carried } => {
                if carried != Some(true) {
                    return Err(Error::BadHostObject {
                        offset: f.offset,
                        reason: "a host object must carry an object",
                    });
                }
            }
        }
        if let Some(key) = &f.duplicate {
            return Err(Error::DuplicateKey {
                offset: f.offset,
                key: key.clone(),
            });
        }
        if matches!(f.state, State::Error { .. } | State::Host { .. }) {
            debug_assert_eq!(self.pending.last(), Some(&f.id));
            self.pending.pop();
        }
        Ok(())
    }

    /// Reads a count or length from a trailer and checks it against `actual`.
    fn count(&mut self, actual: u64) -> Result<(), Error> {
        let at = self.r.pos();
        let declared = self.r.varint_u32()?;
        if u64::from(declared) != actual {
            return Err(Error::CountMismatch {
                offset: at,
                declared,
                actual,
            });
        }
        Ok(())
    }
}

fn read_key<'p>(r: &mut Reader<'p>) -> Result<WireKey<'p>, Error> {
    let (at, t) = r.tag()?;
    Ok(match t {
        tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING | tag::UTF8_STRING => {
            WireKey::String(t, checked_string(r, t, at)?)
        }
        tag::INT32 => WireKey::Number(f64::from(zigzag(r.varint_u32()?))),
        tag::UINT32 => WireKey::Number(f64::from(r.varint_u32()?)),
        tag::DOUBLE => WireKey::Number(r.double()?),
        _ => return Err(Error::InvalidKey { offset: at, tag: t }),
    })
}

/// A string where V8 requires one (RegExp source, Error message and stack,
/// String object), checked and skipped.
fn read_string(r: &mut Reader<'_>) -> Result<(), Error> {
    let (at, t) = r.tag()?;
    match t {
        tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING | tag::UTF8_STRING => {
            checked_string(r, t, at).map(drop)
        }
        _ => Err(Error::ExpectedString { offset: at, tag: t }),
    }
}

/// A string body, checked as the decoder checks it, not copied.
fn checked_string<'p>(r: &mut Reader<'p>, t: u8, at: usize) -> Result<&'p [u8], Error> {
    let bytes = r.length_prefixed()?;
    match t {
        tag::TWO_BYTE_STRING if bytes.len() % 2 == 1 => Err(Error::OddTwoByteLength {
            offset: at,
            length: bytes.len() as u32,
        }),
        tag::UTF8_STRING if std::str::from_utf8(bytes).is_err() => {
            Err(Error::InvalidUtf8 { offset: at })
        }
        _ => Ok(bytes),
    }
}

/// A string body, checked, and built when `build`.
fn string_body(
    r: &mut Reader<'_>,
    t: u8,
    at: usize,
    build: bool,
) -> Result<Option<JsString>, Error> {
    let bytes = checked_string(r, t, at)?;
    if !build {
        return Ok(None);
    }
    Ok(Some(match t {
        tag::ONE_BYTE_STRING => JsString::from_latin1(bytes),
        tag::TWO_BYTE_STRING => JsString::from_two_byte_wire(
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect(),
        ),
        _ => JsString::from_utf8_wire(String::from_utf8_lossy(bytes).into_owned()),
    }))
}

/// The sign-and-length bitfield and digits of a BigInt, checked, and built
/// when `build`.
fn bigint_body(r: &mut Reader<'_>, at: usize, build: bool) -> Result<Option<BigInt>, Error> {
    let length_at = r.pos();
    let bitfield = r.varint_u32()?;
    if bitfield >> 31 != 0 {
        return Err(Error::BadBigInt { offset: at });
    }
    let digits = r.bytes(u64::from(bitfield >> 1), length_at)?;
    if digits.is_empty() && bitfield & 1 == 1 {
        return Err(Error::BadBigInt { offset: at });
    }
    Ok(build.then(|| BigInt::from_digits(bitfield & 1 == 1, digits.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_know_their_number_spelling() {
        assert_eq!(Name::new("7").number, Some(7.0));
        assert_eq!(Name::new("7").index, Some(7));
        assert_eq!(Name::new("-0.5").number, Some(-0.5));
        assert!(Name::new("NaN").number.is_some_and(f64::is_nan));
        assert_eq!(Name::new("Infinity").number, Some(f64::INFINITY));
        for not_a_number_name in ["07", "7.0", "+7", "inf", "1e21", "id", ""] {
            assert_eq!(
                Name::new(not_a_number_name).number,
                None,
                "{not_a_number_name}"
            );
        }
        assert_eq!(Name::new("4294967295").index, None);
    }

    #[test]
    fn string_keys_name_indexes_in_every_form() {
        let two_byte =
            |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
        let cases: [(&str, Option<u32>); 5] = [
            ("12", Some(12)),
            ("012", None),
            ("4294967294", Some(4294967294)),
            ("42949672940", None),
            ("\u{661}", None),
        ];
        for (text, index) in cases {
            let units = two_byte(text);
            assert_eq!(
                WireKey::String(tag::UTF8_STRING, text.as_bytes()).index(),
                index
            );
            assert_eq!(WireKey::String(tag::TWO_BYTE_STRING, &units).index(), index);
        }
        assert_eq!(WireKey::String(tag::ONE_BYTE_STRING, b"3").index(), Some(3));
        assert_eq!(WireKey::Number(-0.0).index(), Some(0));
        assert_eq!(WireKey::Number(1.5).index(), None);
    }

    #[test]
    fn string_keys_compare_as_text() {
        assert!(string_is(tag::ONE_BYTE_STRING, b"h\xe9", "h\u{e9}"));
        assert!(!string_is(tag::ONE_BYTE_STRING, b"h\xc3\xa9", "h\u{e9}"));
        assert!(string_is(tag::UTF8_STRING, "h\u{e9}".as_bytes(), "h\u{e9}"));
        assert!(string_is(
            tag::TWO_BYTE_STRING,
            &[0x3d, 0xd8, 0x00, 0xde],
            "\u{1f600}"
        ));
        // A lone surrogate names no Rust string.
        assert!(!string_is(tag::TWO_BYTE_STRING, &[0x3d, 0xd8], "\u{fffd}"));
        assert!(!string_is(tag::ONE_BYTE_STRING, b"ab", "a"));
        assert!(!string_is(tag::ONE_BYTE_STRING, b"a", "ab"));
    }
}
