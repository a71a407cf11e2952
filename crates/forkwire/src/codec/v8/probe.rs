//! [`probe`]: a few named members of a payload's top-level object, read in
//! one pass over the bytes that builds no [`Value`] except the primitives
//! asked for.
//!
//! [`decode`](super::decode) builds a [`Value`] of 40 bytes or more for every
//! value in the payload, one-byte `null`s included: reading an envelope's
//! `id` that way costs up to 40 times the payload. The probe walks the same
//! bytes with the same checks (read by the same functions, in `wire.rs`)
//! on an explicit stack (one small frame per open container, at most
//! [`Limits::max_depth`](super::Limits::max_depth)) and
//! keeps only the members it was asked for; an object member is reported as
//! such without being built, so shared references cannot make it expand.
//!
//! What the probe rejects is what [`decode`](super::decode) rejects, with the
//! same [`Error`], except for one check that needs memory in proportion to
//! the payload: a property repeated in one object or array is only caught
//! when it is one of the names asked for, an array's `length`, or an index
//! that a dense array's element holds (unless holes surround it).

use super::error::Error;
use super::number::{f64_array_index, js_number_to_string, parse_array_index};
use super::reader::Reader;
use super::tag;
use super::value::Value;
use super::wire::{self, ErrorPart, ErrorTags, WireKey, WireString};
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
    wire::header(&mut walker.r)?;
    walker.value()?;
    if walker.r.remaining() > 0 {
        return Err(Error::TrailingBytes {
            offset: walker.r.pos(),
        });
    }
    Ok(walker.probe)
}

/// The member `name` of a payload's top-level object, read from the front
/// of a payload that need not decode as a whole (one nested deeper than
/// the decoder goes, say, or broken further on): found when it is the
/// object's first property and a number or a string, as the `id` of every
/// request the pool or `child.send({id, ...})` writes. The format version
/// is not checked.
pub(crate) fn leading_member(payload: &[u8], name: &str) -> Option<Value> {
    let mut r = Reader::new(payload);
    if r.byte().ok()? != tag::HEADER {
        return None;
    }
    r.varint().ok()?;
    if r.tag().ok()?.1 != tag::BEGIN_OBJECT || !key_is(wire::key(&mut r).ok()?, &Name::new(name)) {
        return None;
    }
    let (at, t) = r.tag().ok()?;
    match wire::primitive(&mut r, t, at).ok()??.into_value() {
        v @ (Value::Int32(_) | Value::Uint32(_) | Value::Double(_) | Value::String(_)) => Some(v),
        _ => None,
    }
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

/// Whether the key names the property `name` (as [`Key::is`]).
///
/// [`Key::is`]: super::Key::is
fn key_is(key: WireKey<'_>, name: &Name<'_>) -> bool {
    let x = match key {
        WireKey::String(s) => return string_is(s, name.text),
        WireKey::Int32(n) => f64::from(n),
        WireKey::Uint32(n) => f64::from(n),
        WireKey::Double(x) => x,
    };
    name.number
        .is_some_and(|n| n == x || (n.is_nan() && x.is_nan()))
}

/// The array index the key denotes.
fn key_index(key: WireKey<'_>) -> Option<u32> {
    let s = match key {
        WireKey::String(s) => s,
        WireKey::Int32(n) => return f64_array_index(f64::from(n)),
        WireKey::Uint32(n) => return f64_array_index(f64::from(n)),
        WireKey::Double(x) => return f64_array_index(x),
    };
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
    let all = match s {
        WireString::TwoByte(bytes) => bytes
            .chunks_exact(2)
            .all(|c| push(u16::from_le_bytes([c[0], c[1]]))),
        WireString::OneByte(bytes) => bytes.iter().all(|&b| push(u16::from(b))),
        WireString::Utf8(text) => text.bytes().all(|b| push(u16::from(b))),
    };
    if !all {
        return None;
    }
    std::str::from_utf8(&digits[..n])
        .ok()
        .and_then(parse_array_index)
}

/// Whether a checked string body has exactly the text `name`.
fn string_is(s: WireString<'_>, name: &str) -> bool {
    match s {
        WireString::OneByte(bytes) => {
            let mut chars = name.chars();
            bytes.iter().all(|&b| chars.next() == Some(char::from(b))) && chars.next().is_none()
        }
        WireString::TwoByte(bytes) => {
            let mut units = name.encode_utf16();
            bytes
                .chunks_exact(2)
                .all(|c| units.next() == Some(u16::from_le_bytes([c[0], c[1]])))
                && units.next().is_none()
        }
        WireString::Utf8(text) => text == name,
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
    Error(ErrorTags),
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

impl Walker<'_, '_> {
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
        wire::check_depth(depth, self.max_depth, offset)?;
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
        loop {
            let (at, t) = self.r.tag()?;
            let r = &mut self.r;
            if let Some(p) = wire::primitive(r, t, at)? {
                // Built only where it is kept.
                let v = if Self::wanted(dest) {
                    p.into_value()
                } else {
                    Value::Undefined
                };
                self.primitive(dest, v);
                return Ok(Begun::Done(false));
            }
            return match t {
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
                    Ok(Begun::Done(true))
                }
                tag::BEGIN_OBJECT => self.open(depth, at, State::Object, dest),
                tag::BEGIN_DENSE_ARRAY => {
                    let length = wire::dense_length(r, self.promised)?;
                    self.promised += length as usize;
                    let state = State::Dense {
                        length,
                        read: 0,
                        holes: 0,
                        first_hole: 0,
                        last_hole: 0,
                    };
                    self.open(depth, at, state, dest)
                }
                tag::BEGIN_SPARSE_ARRAY => {
                    let length = r.varint_u32()?;
                    self.open(depth, at, State::Sparse { length }, dest)
                }
                tag::BEGIN_MAP => self.open(depth, at, State::Map { children: 0 }, dest),
                tag::BEGIN_SET => self.open(depth, at, State::Set { values: 0 }, dest),
                tag::ERROR => self.open(depth, at, State::Error(ErrorTags::default()), dest),
                tag::HOST_OBJECT => match wire::host(r)? {
                    wire::Host::View(..) => Ok(self.leaf(dest)),
                    wire::Host::Other => self.open(depth, at, State::Host { carried: None }, dest),
                },
                tag::DATE => {
                    r.double()?;
                    Ok(self.leaf(dest))
                }
                tag::REGEXP => {
                    wire::regexp(r, at)?;
                    Ok(self.leaf(dest))
                }
                tag::ARRAY_BUFFER | tag::RESIZABLE_ARRAY_BUFFER => {
                    wire::array_buffer(r, t)?;
                    Ok(self.leaf(dest))
                }
                tag::TRUE_OBJECT
                | tag::FALSE_OBJECT
                | tag::NUMBER_OBJECT
                | tag::BIGINT_OBJECT
                | tag::STRING_OBJECT => {
                    wire::boxed(r, t, at)?;
                    Ok(self.leaf(dest))
                }
                t if tag::UNSUPPORTED.contains(&t) => {
                    Err(Error::UnsupportedTag { offset: at, tag: t })
                }
                t => Err(Error::UnknownTag { offset: at, tag: t }),
            };
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
            State::Error(tags) => {
                f.child = Dest::Skip;
                loop {
                    match tags.next(&mut self.r)? {
                        ErrorPart::Kind(_) | ErrorPart::Message(_) | ErrorPart::Stack(_) => {}
                        ErrorPart::Cause => return Ok(Need::Value),
                        ErrorPart::End => return Ok(Need::Close),
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
        let key = wire::key(&mut self.r)?;
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
            if matches!(key, WireKey::String(s) if string_is(s, "length")) {
                f.duplicate.get_or_insert_with(|| "length".to_owned());
            }
            if let (Some((length, holes, first, last)), Some(i)) = (dense, key_index(key)) {
                // Between the first and last hole an index may be either.
                if i < length && (holes == 0 || i < first || i > last) {
                    f.duplicate.get_or_insert_with(|| i.to_string());
                }
            }
        }
        if let Some(h) = f.holder {
            if let Some(k) = self.names(h).iter().position(|n| key_is(key, n)) {
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
            // A property, or an Error's cause.
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
        wire::count(&mut self.r, actual)
    }
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
            assert_eq!(key_index(WireKey::String(WireString::Utf8(text))), index);
            assert_eq!(
                key_index(WireKey::String(WireString::TwoByte(&units))),
                index
            );
        }
        assert_eq!(
            key_index(WireKey::String(WireString::OneByte(b"3"))),
            Some(3)
        );
        assert_eq!(key_index(WireKey::Double(-0.0)), Some(0));
        assert_eq!(key_index(WireKey::Double(1.5)), None);
    }

    #[test]
    fn string_keys_compare_as_text() {
        assert!(string_is(WireString::OneByte(b"h\xe9"), "h\u{e9}"));
        assert!(!string_is(WireString::OneByte(b"h\xc3\xa9"), "h\u{e9}"));
        assert!(string_is(WireString::Utf8("h\u{e9}"), "h\u{e9}"));
        assert!(string_is(
            WireString::TwoByte(&[0x3d, 0xd8, 0x00, 0xde]),
            "\u{1f600}"
        ));
        // A lone surrogate names no Rust string.
        assert!(!string_is(WireString::TwoByte(&[0x3d, 0xd8]), "\u{fffd}"));
        assert!(!string_is(WireString::OneByte(b"ab"), "a"));
        assert!(!string_is(WireString::OneByte(b"a"), "ab"));
    }
}
