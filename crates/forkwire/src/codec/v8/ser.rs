//! A serde `Serializer` that writes V8 payload bytes directly, as Node would
//! write the equivalent JavaScript value: structs and string-keyed maps as
//! objects, sequences and tuples as dense arrays, integers as int32 or
//! doubles (BigInts beyond the safe range), bytes as a `Buffer`, enums laid
//! out as serde_json lays them out. A map whose first key is not a string or
//! integer is written as a JS `Map`. A [`Value`](super::Value) met inside is
//! written unchanged (see [`embed`](super::embed)).

use std::collections::HashSet;

use serde::ser::{self, Impossible, Serialize};

use super::embed;
use super::encode::write_value;
use super::error::Error;
use super::key::{Key, PropId};
use super::number::{parse_array_index, Numeric, MAX_ARRAY_INDEX};
use super::receiver::ViewKind;
use super::sink::{encode_varint, Sink};
use super::tag;

/// Serializes `value` as a complete payload appended to `out`; on error
/// `out` is left as it was.
pub(super) fn serialize_payload<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    max_depth: usize,
) -> Result<(), Error> {
    let mut ser = Serializer {
        sink: Sink::new(out),
        next_id: 0,
        depth: 0,
        max_depth,
    };
    ser.sink.header();
    let result = value.serialize(&mut ser);
    if result.is_err() {
        ser.sink.discard();
    }
    result
}

/// The serializer; see the module docs.
pub(super) struct Serializer<'a> {
    sink: Sink<'a>,
    /// Objects written so far: an embedded `Value`'s back-references count
    /// from here.
    next_id: u32,
    depth: usize,
    max_depth: usize,
}

impl Serializer<'_> {
    fn new_object(&mut self) -> Result<(), Error> {
        self.next_id = self
            .next_id
            .checked_add(1)
            .ok_or_else(|| Error::Unsupported("more than 2^32 objects".into()))?;
        Ok(())
    }

    /// Opens a container: counts its object id and checks the depth.
    fn enter(&mut self, t: u8) -> Result<(), Error> {
        if self.depth >= self.max_depth {
            return Err(Error::TooDeep {
                offset: self.sink.position(),
                max_depth: self.max_depth,
            });
        }
        self.depth += 1;
        self.new_object()?;
        self.sink.byte(t);
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// A property name, as a number key when it is an array index.
    fn name_key(&mut self, name: &str) -> Result<(), Error> {
        match parse_array_index(name) {
            Some(i) => self.sink.key(&Key::index(i)),
            None => self.sink.str(name),
        }
    }

    fn end_object(&mut self, properties: usize) -> Result<(), Error> {
        self.sink.byte(tag::END_OBJECT);
        self.sink.length("an object", properties)?;
        self.leave();
        Ok(())
    }

    /// `o` then the variant name as the one key; the value follows.
    fn begin_variant(&mut self, variant: &str) -> Result<(), Error> {
        self.enter(tag::BEGIN_OBJECT)?;
        self.name_key(variant)
    }

    fn begin_array(&mut self, len: Option<usize>) -> Result<Length, Error> {
        self.enter(tag::BEGIN_DENSE_ARRAY)?;
        Ok(match len {
            Some(n) => {
                self.sink.length("an array", n)?;
                Length::Known(n)
            }
            None => {
                let at = self.sink.position();
                self.sink.raw(&[tag::PADDING; 5]);
                Length::Reserved(at)
            }
        })
    }

    fn end_array(&mut self, length: &Length, count: usize) -> Result<(), Error> {
        match *length {
            Length::Known(n) if n != count => {
                return Err(Error::Message(format!(
                    "sequence announced {n} elements but had {count}"
                )));
            }
            Length::Known(_) => {}
            Length::Reserved(at) => {
                let count32 = u32::try_from(count)
                    .map_err(|_| Error::Unsupported(format!("an array of {count} elements")))?;
                let mut buf = [0u8; 10];
                let n = encode_varint(u64::from(count32), &mut buf);
                self.sink.patch(at, &buf[..n]);
                // Drop the unused reserved bytes, an even number of them so
                // that later two-byte strings stay aligned; an odd one left
                // over stays as a padding byte, which V8 skips.
                let gap = 5 - n;
                self.sink.remove(at + n + gap % 2, gap - gap % 2);
            }
        }
        self.sink.byte(tag::END_DENSE_ARRAY);
        self.sink.varint(0);
        self.sink.length("an array", count)?;
        self.leave();
        Ok(())
    }
}

enum Length {
    Known(usize),
    /// Five bytes reserved at this payload offset for a length found later.
    Reserved(usize),
}

impl<'s, 'a> ser::Serializer for &'s mut Serializer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = SeqWriter<'s, 'a>;
    type SerializeTuple = SeqWriter<'s, 'a>;
    type SerializeTupleStruct = SeqWriter<'s, 'a>;
    type SerializeTupleVariant = SeqWriter<'s, 'a>;
    type SerializeMap = MapWriter<'s, 'a>;
    type SerializeStruct = StructWriter<'s, 'a>;
    type SerializeStructVariant = StructWriter<'s, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.sink.byte(if v { tag::TRUE } else { tag::FALSE });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.serialize_i128(i128::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.serialize_i128(i128::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.serialize_i128(i128::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.serialize_i128(i128::from(v))
    }

    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.sink.number(&Numeric::from_i128(v))
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.serialize_u128(u128::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.serialize_u128(u128::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.serialize_u128(u128::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.serialize_u128(u128::from(v))
    }

    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.sink.number(&Numeric::from_u128(v))
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.sink.number(&Numeric::from_f64(v))
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.sink.str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.sink.str(v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.new_object()?;
        self.sink.byte(tag::HOST_OBJECT);
        self.sink.varint(tag::host::VIEW);
        self.sink.varint(u64::from(ViewKind::Buffer.index()));
        self.sink.length("a Buffer", v.len())?;
        self.sink.raw(v);
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.sink.byte(tag::NULL);
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.sink.str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        if name == embed::TOKEN {
            if let Some(v) = embed::take() {
                let room = self.max_depth.saturating_sub(self.depth);
                self.next_id = write_value(&mut self.sink, &v, self.next_id, room)?;
                return Ok(());
            }
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.begin_variant(variant)?;
        value.serialize(&mut *self)?;
        self.end_object(1)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqWriter<'s, 'a>, Error> {
        let length = self.begin_array(len)?;
        Ok(SeqWriter {
            ser: self,
            length,
            count: 0,
            variant: false,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<SeqWriter<'s, 'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqWriter<'s, 'a>, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqWriter<'s, 'a>, Error> {
        self.begin_variant(variant)?;
        let length = self.begin_array(Some(len))?;
        Ok(SeqWriter {
            ser: self,
            length,
            count: 0,
            variant: true,
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<MapWriter<'s, 'a>, Error> {
        Ok(MapWriter {
            ser: self,
            mode: MapMode::Undecided,
            count: 0,
            seen: HashSet::new(),
        })
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<StructWriter<'s, 'a>, Error> {
        self.enter(tag::BEGIN_OBJECT)?;
        Ok(StructWriter {
            ser: self,
            count: 0,
            variant: false,
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<StructWriter<'s, 'a>, Error> {
        self.begin_variant(variant)?;
        self.enter(tag::BEGIN_OBJECT)?;
        Ok(StructWriter {
            ser: self,
            count: 0,
            variant: true,
        })
    }
}

/// Writes a sequence, tuple or tuple variant as a dense array.
pub(super) struct SeqWriter<'s, 'a> {
    ser: &'s mut Serializer<'a>,
    length: Length,
    count: usize,
    /// Also close the `{variant: ...}` object around the array.
    variant: bool,
}

impl SeqWriter<'_, '_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.ser)?;
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<(), Error> {
        self.ser.end_array(&self.length, self.count)?;
        if self.variant {
            self.ser.end_object(1)?;
        }
        Ok(())
    }
}

impl ser::SerializeSeq for SeqWriter<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTuple for SeqWriter<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for SeqWriter<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for SeqWriter<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

enum MapMode {
    /// No key yet: the first key decides.
    Undecided,
    /// Keys are property names: an object.
    Object,
    /// Keys are arbitrary values: a JS `Map`.
    Map,
}

/// Writes a serde map as an object, or as a `Map` when its keys are not
/// property names.
pub(super) struct MapWriter<'s, 'a> {
    ser: &'s mut Serializer<'a>,
    mode: MapMode,
    count: usize,
    /// Properties written so far (object mode), since Node rejects a
    /// repeated one.
    seen: HashSet<PropId<'static>>,
}

impl MapWriter<'_, '_> {
    fn property(&mut self, key: Key) -> Result<(), Error> {
        if !self.seen.insert(key.prop_id().into_owned()) {
            return Err(Error::DuplicateKey {
                offset: self.ser.sink.position(),
                key: key.name().into_owned(),
            });
        }
        self.ser.sink.key(&key)
    }
}

impl ser::SerializeMap for MapWriter<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        match self.mode {
            MapMode::Undecided => match key.serialize(KeyProbe) {
                Ok(k) => {
                    self.ser.enter(tag::BEGIN_OBJECT)?;
                    self.mode = MapMode::Object;
                    self.property(k)
                }
                Err(_) => {
                    self.ser.enter(tag::BEGIN_MAP)?;
                    self.mode = MapMode::Map;
                    key.serialize(&mut *self.ser)
                }
            },
            MapMode::Object => {
                let k = key.serialize(KeyProbe).map_err(|_| {
                    Error::Unsupported(
                        "a map whose first key is a string or integer but a later one is not"
                            .into(),
                    )
                })?;
                self.property(k)
            }
            MapMode::Map => key.serialize(&mut *self.ser),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.ser)?;
        self.count += 1;
        Ok(())
    }

    fn end(self) -> Result<(), Error> {
        match self.mode {
            MapMode::Undecided => {
                self.ser.enter(tag::BEGIN_OBJECT)?;
                self.ser.end_object(0)
            }
            MapMode::Object => self.ser.end_object(self.count),
            MapMode::Map => {
                self.ser.sink.byte(tag::END_MAP);
                self.ser
                    .sink
                    .length("a Map", self.count.saturating_mul(2))?;
                self.ser.leave();
                Ok(())
            }
        }
    }
}

/// Writes a struct (or struct variant) as an object.
pub(super) struct StructWriter<'s, 'a> {
    ser: &'s mut Serializer<'a>,
    count: usize,
    variant: bool,
}

impl StructWriter<'_, '_> {
    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Error> {
        self.ser.name_key(key)?;
        value.serialize(&mut *self.ser)?;
        self.count += 1;
        Ok(())
    }

    fn finish(self) -> Result<(), Error> {
        self.ser.end_object(self.count)?;
        if self.variant {
            self.ser.end_object(1)?;
        }
        Ok(())
    }
}

impl ser::SerializeStruct for StructWriter<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for StructWriter<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// Turns a map key into a property key, or fails when it is not a string,
/// character, integer or unit variant (the map is then written as a `Map`).
struct KeyProbe;

fn not_a_key() -> Error {
    Error::Message("not a property key".into())
}

fn integer_key(v: i128) -> Key {
    match u32::try_from(v) {
        Ok(i) if i <= MAX_ARRAY_INDEX => Key::index(i),
        _ => Key::from(v.to_string()),
    }
}

impl ser::Serializer for KeyProbe {
    type Ok = Key;
    type Error = Error;
    type SerializeSeq = Impossible<Key, Error>;
    type SerializeTuple = Impossible<Key, Error>;
    type SerializeTupleStruct = Impossible<Key, Error>;
    type SerializeTupleVariant = Impossible<Key, Error>;
    type SerializeMap = Impossible<Key, Error>;
    type SerializeStruct = Impossible<Key, Error>;
    type SerializeStructVariant = Impossible<Key, Error>;

    fn serialize_str(self, v: &str) -> Result<Key, Error> {
        Ok(Key::from_name(v))
    }

    fn serialize_char(self, v: char) -> Result<Key, Error> {
        Ok(Key::from_name(v.encode_utf8(&mut [0; 4])))
    }

    fn serialize_i8(self, v: i8) -> Result<Key, Error> {
        Ok(integer_key(i128::from(v)))
    }

    fn serialize_i16(self, v: i16) -> Result<Key, Error> {
        Ok(integer_key(i128::from(v)))
    }

    fn serialize_i32(self, v: i32) -> Result<Key, Error> {
        Ok(integer_key(i128::from(v)))
    }

    fn serialize_i64(self, v: i64) -> Result<Key, Error> {
        Ok(integer_key(i128::from(v)))
    }

    fn serialize_i128(self, v: i128) -> Result<Key, Error> {
        Ok(integer_key(v))
    }

    fn serialize_u8(self, v: u8) -> Result<Key, Error> {
        Ok(integer_key(i128::from(v)))
    }

    fn serialize_u16(self, v: u16) -> Result<Key, Error> {
        Ok(integer_key(i128::from(v)))
    }

    fn serialize_u32(self, v: u32) -> Result<Key, Error> {
        Ok(integer_key(i128::from(v)))
    }

    fn serialize_u64(self, v: u64) -> Result<Key, Error> {
        Ok(integer_key(i128::from(v)))
    }

    fn serialize_u128(self, v: u128) -> Result<Key, Error> {
        Ok(match i128::try_from(v) {
            Ok(i) => integer_key(i),
            Err(_) => Key::from(v.to_string()),
        })
    }

    fn serialize_bool(self, _v: bool) -> Result<Key, Error> {
        Err(not_a_key())
    }

    fn serialize_f32(self, _v: f32) -> Result<Key, Error> {
        Err(not_a_key())
    }

    fn serialize_f64(self, _v: f64) -> Result<Key, Error> {
        Err(not_a_key())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<Key, Error> {
        Err(not_a_key())
    }

    fn serialize_none(self) -> Result<Key, Error> {
        Err(not_a_key())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Key, Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Key, Error> {
        Err(not_a_key())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Key, Error> {
        Err(not_a_key())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Key, Error> {
        Ok(Key::from_name(variant))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Key, Error> {
        if name == embed::TOKEN {
            return Err(not_a_key());
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Key, Error> {
        Err(not_a_key())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Impossible<Key, Error>, Error> {
        Err(not_a_key())
    }

    fn serialize_tuple(self, _len: usize) -> Result<Impossible<Key, Error>, Error> {
        Err(not_a_key())
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Impossible<Key, Error>, Error> {
        Err(not_a_key())
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Impossible<Key, Error>, Error> {
        Err(not_a_key())
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Impossible<Key, Error>, Error> {
        Err(not_a_key())
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Impossible<Key, Error>, Error> {
        Err(not_a_key())
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Impossible<Key, Error>, Error> {
        Err(not_a_key())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{decode, encode, to_vec, Value};
    use serde::Serialize;
    use std::collections::{BTreeMap, HashMap};

    #[derive(Serialize)]
    struct Envelope<'a> {
        id: u64,
        #[serde(rename = "type")]
        kind: &'a str,
        data: Option<Vec<i32>>,
    }

    #[test]
    fn matches_node_for_an_envelope() {
        // Node: ({id:1,type:"compute",data:{n:21}}) with data replaced.
        let bytes = to_vec(&Envelope {
            id: 1,
            kind: "compute",
            data: None,
        })
        .unwrap();
        assert_eq!(
            bytes,
            b"\xff\x0fo\"\x02idI\x02\"\x04type\"\x07compute\"\x04data0{\x03"
        );
    }

    #[test]
    fn integers_and_floats() {
        assert_eq!(to_vec(&3.0f64).unwrap(), b"\xff\x0fI\x06");
        assert_eq!(
            to_vec(&-0.0f64).unwrap(),
            b"\xff\x0fN\x00\x00\x00\x00\x00\x00\x00\x80"
        );
        assert!(matches!(
            decode(&to_vec(&(1u64 << 40)).unwrap()),
            Ok(Value::Double(_))
        ));
        assert!(matches!(
            decode(&to_vec(&u64::MAX).unwrap()),
            Ok(Value::BigInt(_))
        ));
    }

    #[test]
    fn maps_become_objects_or_maps() {
        let mut m = BTreeMap::new();
        m.insert("b", 1);
        m.insert("1", 2);
        let v = decode(&to_vec(&m).unwrap()).unwrap();
        assert_eq!(v.as_object().map(|o| o.properties.len()), Some(2));
        assert_eq!(v.get("1").and_then(Value::as_f64), Some(2.0));
        let mut by_tuple = HashMap::new();
        by_tuple.insert((1, 2), "x");
        assert!(matches!(
            decode(&to_vec(&by_tuple).unwrap()),
            Ok(Value::Map(_))
        ));
        let empty: HashMap<String, i32> = HashMap::new();
        assert_eq!(to_vec(&empty).unwrap(), b"\xff\x0fo{\x00");
    }

    #[test]
    fn unknown_length_sequences_stay_aligned() {
        struct Unsized(usize);
        impl Serialize for Unsized {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq((0..self.0).map(|i| if i % 2 == 0 { "\u{20ac}" } else { "a" }))
            }
        }
        for n in [0, 1, 5, 200, 20_000] {
            let bytes = to_vec(&Unsized(n)).unwrap();
            let expected = Value::array((0..n).map(|i| if i % 2 == 0 { "\u{20ac}" } else { "a" }));
            assert_eq!(decode(&bytes).unwrap(), expected, "n={n}");
            // With a 1- or 3-byte length nothing is left over: canonical bytes.
            if !(128..16384).contains(&n) {
                assert_eq!(bytes, encode(&expected).unwrap(), "n={n}");
            }
        }
    }

    #[test]
    fn values_inside_are_written_unchanged() {
        let shared = Value::object([("k", 1)]);
        let payload = Value::array([shared.clone(), shared, Value::Double(2.0)]);
        #[derive(Serialize)]
        struct Msg {
            id: u32,
            data: Value,
        }
        let bytes = to_vec(&Msg {
            id: 7,
            data: payload.clone(),
        })
        .unwrap();
        let v = decode(&bytes).unwrap();
        assert_eq!(v.get("data"), Some(&payload));
    }

    #[test]
    fn bytes_are_buffers() {
        struct B;
        impl Serialize for B {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&[1, 2, 3])
            }
        }
        assert_eq!(to_vec(&B).unwrap(), b"\xff\x0f\\\x00\x0a\x03\x01\x02\x03");
    }
}
