//! `probe`: reading a few top-level members of a payload without building
//! it. It must agree with `decode` + `Value::get` on every member asked,
//! reject what `decode` rejects (with the same error), and hold no memory in
//! proportion to the payload.

mod alloc_count;
mod v8_support;

use std::sync::Arc;
use std::time::Duration;

use alloc_count::{measure, Usage};
use forkwire::codec::v8::{
    decode, decode_with, encode, encode_with, probe, probe_with, Error, Field, HostObject, Key,
    Limits, Member, Shape, Value,
};
use v8_support::*;

#[global_allocator]
static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;

/// Names asked of every value besides its own keys.
const EXTRA: &[&str] = &["id", "result", "length", "x", "0", "1", "a", "self"];

/// What `Value::get` reads members of (a host object answers for what it
/// carries).
fn holder(v: &Value) -> &Value {
    match v {
        Value::Host(h) => holder(&h.value),
        _ => v,
    }
}

/// The names to ask of `v`: its property names, its first elements, and
/// [`EXTRA`].
fn names_of(v: &Value) -> Vec<String> {
    let mut names: Vec<String> = EXTRA.iter().map(|s| s.to_string()).collect();
    let props = |p: &[(Key, Value)]| {
        p.iter()
            .map(|(k, _)| k.name().into_owned())
            .collect::<Vec<_>>()
    };
    match holder(v) {
        Value::Object(o) => names.extend(props(&o.properties)),
        Value::Array(a) => {
            names.extend((0..a.elements.len().min(5)).map(|i| i.to_string()));
            names.extend(props(&a.properties));
        }
        Value::SparseArray(a) => names.extend(props(&a.properties)),
        _ => {}
    }
    names
}

fn shape_of(v: &Value) -> Shape {
    match v {
        Value::Object(_) => Shape::Object,
        Value::Array(_) | Value::SparseArray(_) => Shape::Array,
        Value::Ref(_) => Shape::Reference,
        Value::Host(h) => shape_of(&h.value),
        v if !v.is_object() => Shape::Primitive,
        _ => Shape::Other,
    }
}

/// Asserts that a probed member is what `Value::get` found; returns 1.
fn same(what: &str, m: &Member, v: Option<&Value>) -> usize {
    match v {
        None => assert!(!m.is_present(), "{what}: probe found {m:?}"),
        Some(v) if v.is_object() => {
            let shape = m
                .shape()
                .unwrap_or_else(|| panic!("{what}: probe found nothing"));
            // A back-reference is not followed; `decode` resolves it.
            assert!(
                shape == shape_of(v) || shape == Shape::Reference,
                "{what}: {shape:?} for {}",
                v.type_name()
            );
        }
        Some(v) => assert!(m.value() == Some(v), "{what}: {m:?} for {v:?}"),
    }
    1
}

/// Probes `payload` for every name of `value` (its decoding), each with
/// every name of its member nested, and compares with `Value::get`.
/// Returns how many members were compared.
fn agrees(what: &str, payload: &[u8], value: &Value, limits: &Limits) -> usize {
    let names = names_of(value);
    let nested: Vec<Vec<String>> = names
        .iter()
        .map(|n| value.get(n).map(names_of).unwrap_or_default())
        .collect();
    let nested_refs: Vec<Vec<&str>> = nested
        .iter()
        .map(|ns| ns.iter().map(String::as_str).collect())
        .collect();
    let fields: Vec<Field<'_>> = names
        .iter()
        .zip(&nested_refs)
        .map(|(n, ns)| Field::nested(n, ns))
        .collect();
    let p = probe_with(payload, &fields, limits)
        .unwrap_or_else(|e| panic!("{what}: probe failed: {e:?}"));
    assert_eq!(p.shape(), shape_of(value), "{what}");
    let mut compared = 0;
    for (n, ns) in names.iter().zip(&nested) {
        let member = p.get(n);
        let got = value.get(n);
        compared += same(&format!("{what} .{n}"), member, got);
        if member.shape() == Some(Shape::Reference) {
            continue;
        }
        for inner in ns {
            let want = got.and_then(|g| g.get(inner));
            compared += same(&format!("{what} .{n}.{inner}"), member.get(inner), want);
        }
    }
    // Names not asked for read as absent.
    assert!(!p.get("never asked").is_present());
    compared
}

/// Room for the vectors nested as deep as `decode` allows, plus one.
const DEEPER: Limits = Limits { max_depth: 1001 };

/// `{id: 1, result: v}`.
fn envelope(v: &Value) -> Vec<u8> {
    let whole = Value::object([("id", Value::from(1)), ("result", v.clone())]);
    encode_with(&whole, &DEEPER).expect("encodes")
}

#[test]
fn every_vector_probes_as_it_decodes() {
    let mut compared = 0;
    let mut objects = 0;
    for v in all_advanced() {
        let Ok(value) = decode(v.payload()) else {
            assert_eq!(
                probe(v.payload(), EXTRA).err(),
                decode(v.payload()).err(),
                "{}",
                v.name
            );
            continue;
        };
        compared += agrees(&v.name, v.payload(), &value, &Limits::default());
        if shape_of(&value) == Shape::Object {
            objects += 1;
        }
        // The same value as a reply's result.
        let wrapped = envelope(&value);
        let whole = decode_with(&wrapped, &DEEPER).expect("the envelope decodes");
        compared += agrees(
            &format!("{{result: {}}}", v.name),
            &wrapped,
            &whole,
            &DEEPER,
        );
        let fields = [Field::new("id"), Field::new("result")];
        let p = probe_with(&wrapped, &fields, &DEEPER).expect("probes");
        assert!(matches!(p.get("id").value(), Some(Value::Int32(1))));
        assert_eq!(
            p.get("result").shape(),
            Some(shape_of(&value)),
            "{}",
            v.name
        );
    }
    assert!(objects > 20, "{objects}");
    assert!(compared > 10_000, "{compared}");
}

#[test]
fn every_truncation_fails_as_decode_fails() {
    let mut checked = 0;
    for v in all_advanced() {
        let p = v.payload();
        for n in 0..p.len() {
            let want = decode(&p[..n]).expect_err("a truncation");
            assert_eq!(
                probe(&p[..n], EXTRA).expect_err("a truncation"),
                want,
                "{} cut at {n}",
                v.name
            );
            checked += 1;
        }
    }
    assert!(checked > 80_000, "{checked}");
}

/// Asserts that the probe fails where `decode` fails, with the same error,
/// except for a repeated property the probe did not ask about: `decode`
/// reports it when the container closes, the probe does not see it.
fn fails_alike(what: &str, payload: &[u8], names: &[&str]) {
    let probed = probe(payload, names);
    match decode(payload) {
        Ok(value) => {
            let p = probed.unwrap_or_else(|e| panic!("{what}: decodes, probe says {e:?}"));
            for n in names {
                same(what, p.get(n), value.get(n));
            }
        }
        Err(Error::DuplicateKey { .. }) => {}
        Err(e) => assert_eq!(probed.err(), Some(e), "{what}"),
    }
}

#[test]
fn single_byte_corruptions_fail_as_decode_fails() {
    each_single_byte_corruption(|v, at, b, q| {
        fails_alike(&format!("{} [{at}] = {b:#x}", v.name), q, EXTRA);
    });
}

/// Malformed payloads besides [`bad_payloads`]: from decode.rs's own
/// tests, and a repeated property inside a member.
const MORE_BAD: &[&str] = &[
    "ff0f 41 01 4902 2206 6c656e677468 4904 2401 01",
    "ff0f 3b 4902 3a 01",
    "ff0f 42 02 00 00 00",
    "ff0f 7e 04 02 0102",
    "ff0f 56",
    "ff0f 72 6d 220162 6d 220161 2e",
    "ff0f 72 63 5f 63 5f 2e",
    // A repeated property inside a member.
    "ff0f 6f 220161 6f 220162 4902 220162 4904 7b02 7b01",
];

#[test]
fn what_decode_rejects_the_probe_rejects() {
    let more = MORE_BAD.iter().map(|h| hex(h));
    for payload in bad_payloads().into_iter().chain(more) {
        let h = &to_hex(&payload);
        let want = decode(&payload).expect_err(h);
        // Asking for the repeated names is what lets the probe see them.
        let fields = [
            Field::nested("a", &["b"]),
            Field::new("0"),
            Field::new("1"),
            Field::new("id"),
        ];
        let got = probe_with(&payload, &fields, &Limits::default()).expect_err(h);
        match want {
            Error::DuplicateKey { offset, .. } => {
                assert!(
                    matches!(got, Error::DuplicateKey { offset: o, .. } if o == offset),
                    "{h}: {got:?}"
                );
            }
            want => assert_eq!(got, want, "{h}"),
        }
    }
}

#[test]
fn huge_declared_lengths_cost_nothing() {
    for (h, _) in HUGE_LENGTHS {
        let payload = hex(h);
        let (r, Usage { peak, total, .. }) = measure(|| probe(&payload, &["id"]));
        assert!(r.is_err(), "{h}");
        assert!(
            peak < 4096 && total < 4096,
            "{h}: {peak} held, {total} allocated"
        );
    }
}

#[test]
fn repeated_members_asked_for_are_refused() {
    // `{a: 1, a: 2}`: V8 refuses it, so `decode` does; `Value::get` on a
    // value built by hand would take the last.
    let twice = hex("ff0f 6f 220161 4902 220161 4904 7b02");
    assert!(matches!(
        probe(&twice, &["a"]),
        Err(Error::DuplicateKey { offset: 2, ref key }) if key == "a"
    ));
    // Not asked for, the repetition goes unseen (it would take memory in
    // proportion to the payload to see every one).
    assert!(probe(&twice, &["b"]).is_ok());
    let built = Value::object([("a", 1), ("a", 2)]);
    assert_eq!(built.get("a").and_then(Value::as_f64), Some(2.0));
    // The same property in another spelling: `1` and `"1"`, `-0` and `"0"`.
    for h in [
        "ff0f 6f 4902 4902 220131 4904 7b02",
        "ff0f 6f 4e0000000000000080 4902 220130 4904 7b02",
    ] {
        assert!(matches!(
            probe(&hex(h), &["1", "0"]),
            Err(Error::DuplicateKey { .. })
        ));
    }
}

#[test]
fn keys_match_in_every_spelling() {
    // `id` as a one-byte, two-byte and UTF-8 string; `7` as int32, uint32,
    // double and string keys.
    for h in [
        "ff0f 6f 22 02 6964 4902 7b01",
        "ff0f 6f 63 04 69006400 4902 7b01",
        "ff0f 6f 00 63 04 69006400 4902 7b01",
        "ff0f 6f 53 02 6964 4902 7b01",
    ] {
        let p = probe(&hex(h), &["id", "i"]).expect(h);
        assert!(matches!(p.get("id").value(), Some(Value::Int32(1))), "{h}");
        assert!(!p.get("i").is_present());
    }
    for h in [
        "ff0f 6f 49 0e 4902 7b01",
        "ff0f 6f 55 07 4902 7b01",
        "ff0f 6f 4e 0000000000001c40 4902 7b01",
        "ff0f 6f 22 01 37 4902 7b01",
    ] {
        let p = probe(&hex(h), &["7", "07", "7.0"]).expect(h);
        let value = decode(&hex(h)).expect(h);
        assert_eq!(value.get("7").and_then(Value::as_f64), Some(1.0));
        assert!(matches!(p.get("7").value(), Some(Value::Int32(1))), "{h}");
        assert!(!p.get("07").is_present() && !p.get("7.0").is_present());
    }
    // Non-integer number keys are named as JavaScript names them.
    let p = probe(
        &hex("ff0f 6f 4e 000000000000f87f 4902 4e 000000000000f8bf 4904 7b02"),
        &["NaN", "-1.5"],
    )
    .expect("probes");
    assert!(p.get("NaN").is_present() && p.get("-1.5").is_present());
}

#[test]
fn arrays_and_host_objects_answer_as_value_get_does() {
    let mut a = forkwire::codec::v8::Array {
        anchor: None,
        elements: vec![Some(i(1)), None, Some(s("two"))],
        properties: vec![(k("id"), i(9)), (Key::Int32(1), s("one"))],
    };
    let dense = Value::from(a.clone());
    let host = Value::Host(Arc::new(HostObject {
        anchor: None,
        value: o(vec![("id", i(3)), ("msg", o(vec![("cmd", s("NODE_X"))]))]),
    }));
    a.elements.push(Some(host.clone()));
    let nested = Value::object([("msg", host.clone()), ("list", Value::from(a))]);
    for v in [dense, host, nested] {
        let payload = encode(&v).expect("encodes");
        assert!(agrees("hand-made", &payload, &v, &Limits::default()) > 0);
    }
    // A property `length`, or one repeating an element, is refused.
    let (mut with_length, mut with_index) = (b"\xff\x0fA\x01I\x02".to_vec(), Vec::new());
    with_index.extend_from_slice(&with_length);
    with_length.extend_from_slice(b"\"\x06lengthI\x02$\x01\x01");
    with_index.extend_from_slice(b"\"\x010I\x02$\x01\x01");
    for p in [with_length, with_index] {
        assert!(matches!(decode(&p), Err(Error::DuplicateKey { .. })));
        assert!(matches!(probe(&p, &[]), Err(Error::DuplicateKey { .. })));
    }
}

#[test]
fn top_level_values_that_are_not_objects() {
    for (h, shape) in [
        ("ff0f 4902", Shape::Primitive),
        ("ff0f 220269 64", Shape::Primitive),
        ("ff0f 41 00 2400 00", Shape::Array),
        ("ff0f 44 0000000000000000", Shape::Other),
        ("ff0f 3b 3a 00", Shape::Other),
        ("ff0f 72 6d 220164 2e", Shape::Other),
    ] {
        let p = probe(&hex(h), &["id", "0"]).expect(h);
        assert_eq!(p.shape(), shape, "{h}");
        assert!(p.members().all(|(_, m)| !m.is_present()), "{h}");
    }
}

#[test]
fn depth_is_limited_as_in_decode_without_using_the_stack() {
    let outcome = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            for open in ["4101", "6f220161", "3b30", "27", "7263", "5c01", "61014900"] {
                let payload = deep(open, 100_000);
                let want = decode(&payload).expect_err("too deep");
                assert!(matches!(want, Error::TooDeep { .. }));
                assert_eq!(probe(&payload, &["a"]).expect_err(open), want, "{open}");
            }
            // Closed, and within a raised limit: fine; one less: too deep.
            let n = 10_000;
            let mut p = deep("4101", n);
            for _ in 0..n {
                p.extend_from_slice(&hex("240001"));
            }
            let limits = Limits { max_depth: n };
            assert!(decode_with(&p, &limits).is_ok());
            assert_eq!(
                probe_with(&p, &[Field::new("0")], &limits).map(|p| p.shape()),
                Ok(Shape::Array)
            );
            let tight = Limits { max_depth: n - 1 };
            assert_eq!(
                probe_with(&p, &[], &tight).err(),
                decode_with(&p, &tight).err()
            );
        })
        .expect("spawn")
        .join();
    assert!(outcome.is_ok(), "no stack overflow or panic");
}

#[test]
fn a_16_mib_reply_is_probed_in_little_memory() {
    // `{id: 1, result: new Array(n).fill(null)}`.
    let n: usize = 16 << 20;
    let mut payload = b"\xff\x0fo\"\x02idI\x02\"\x06resultA".to_vec();
    let varint = |out: &mut Vec<u8>, mut v: usize| loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    };
    varint(&mut payload, n);
    payload.resize(payload.len() + n, b'0');
    payload.extend_from_slice(b"$\x00");
    varint(&mut payload, n);
    payload.extend_from_slice(b"{\x02");
    let fields = [
        Field::new("id"),
        Field::nested("result", &["0", "1", "length"]),
        Field::new("error"),
    ];
    let (
        p,
        Usage {
            took, peak, total, ..
        },
    ) = measure(|| probe_with(&payload, &fields, &Limits::default()));
    let p = p.expect("probes");
    assert!(matches!(p.get("id").value(), Some(Value::Int32(1))));
    assert_eq!(p.get("result").shape(), Some(Shape::Array));
    assert!(matches!(
        p.get("result").get("0").value(),
        Some(Value::Null)
    ));
    assert!(!p.get("result").get("length").is_present());
    assert!(!p.get("error").is_present());
    assert!(peak < 1 << 20, "held {peak} bytes");
    assert!(total < 1 << 20, "allocated {total} bytes");
    eprintln!("16 MiB probed in {took:?}: {peak} bytes held, {total} allocated");
    // A byte short, it fails as `decode` would (checked cheaply here: the
    // trailer's count is read against the elements).
    let short = &payload[..payload.len() - 1];
    assert!(matches!(
        probe(short, &["id"]),
        Err(Error::Truncated { .. })
    ));
}

#[test]
fn a_reference_bomb_is_an_object_probed_fast() {
    // `{id: 1, result: x}` and `{id: 1, result: 0, version: x}`.
    let in_result = bomb_member(40);
    let mut in_version = b"\xff\x0fo\"\x02idI\x02\"\x06resultI\x00\"\x07version".to_vec();
    in_version.extend(bomb_body(40, 1));
    in_version.extend(b"{\x03");
    for (payload, member) in [(&in_result, "result"), (&in_version, "version")] {
        assert!(decode(payload).is_ok());
        let fields = [
            Field::new("id"),
            Field::nested("result", &["0", "1"]),
            Field::new("version"),
        ];
        let (p, Usage { took, peak, .. }) =
            measure(|| probe_with(payload, &fields, &Limits::default()));
        let p = p.expect("probes");
        assert!(took < Duration::from_millis(200), "{member}: {took:?}");
        assert!(peak < 16 * 1024, "{member}: held {peak} bytes");
        assert!(matches!(p.get("id").value(), Some(Value::Int32(1))));
        assert!(p.get(member).is_object(), "{member}");
        assert_eq!(p.get(member).shape(), Some(Shape::Array));
    }
    let p = probe(&in_result, &["result"]).expect("probes");
    // Element 1 of the outer array is a back-reference: an object, not followed.
    let nested = [Field::nested("result", &["0", "1"])];
    let p2 = probe_with(&in_result, &nested, &Limits::default()).expect("probes");
    assert_eq!(p2.get("result").get("0").shape(), Some(Shape::Array));
    assert_eq!(p2.get("result").get("1").shape(), Some(Shape::Reference));
    assert!(p.get("result").get("0").shape().is_none(), "not asked");
}
