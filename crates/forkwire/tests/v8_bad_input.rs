//! Malformed payloads: every one ends in an `Err` naming the problem, never
//! a panic, a stack overflow or an allocation sized by a length the input
//! cannot back. Also the values the encoder must refuse because Node's
//! deserializer would reject them (and crash the Node peer).

mod alloc_count;
mod v8_support;

use std::sync::Arc;

use alloc_count::measure;
use forkwire::codec::v8::{
    decode, decode_with, encode, encode_into, encode_with, Anchor, Error, ErrorKind, HostObject,
    JsError, Key, Limits, Object, RegExp, Value,
};
use v8_support::*;

/// Records the largest single allocation, so that a test can prove that
/// no length field drove an allocation.
#[global_allocator]
static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;

/// Decodes and returns the error and the largest allocation made meanwhile.
fn decode_err(payload: &[u8]) -> (Error, usize) {
    let (result, usage) = measure(|| decode(payload));
    match result {
        Err(e) => (e, usage.largest),
        Ok(v) => panic!("{} decoded to {v:?}", to_hex(payload)),
    }
}

/// Checks that each payload fails to decode as its check says, with an
/// error that has something to say.
fn rejected(cases: &[BadPayload]) {
    for (h, ok) in cases {
        let (e, _) = decode_err(&hex(h));
        assert!(ok(&e), "{h}: {e:?}");
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn every_truncation_of_every_vector_is_an_error() {
    let mut checked = 0usize;
    for v in all_advanced() {
        let p = v.payload();
        if decode(p).is_err() {
            continue; // rejected whole (see v8_vectors)
        }
        for n in 0..p.len() {
            match decode(&p[..n]) {
                Err(Error::Truncated { .. } | Error::LengthPastEnd { .. }) => {}
                Err(Error::BadVersion { .. }) if n < 2 => {}
                other => panic!("{} cut at {n}: {other:?}", v.name),
            }
            checked += 1;
        }
    }
    assert!(checked > 80_000, "{checked}");
}

#[test]
fn header_problems() {
    rejected(BAD_HEADERS);
    // Versions 13 and 14 read the same for everything Node's channel carries.
    assert!(matches!(decode(b"\xff\x0dI\x02"), Ok(Value::Int32(1))));
    assert!(matches!(decode(b"\xff\x0eI\x02"), Ok(Value::Int32(1))));
}

#[test]
fn unknown_and_unsupported_tags() {
    for (payload, want) in bad_tags() {
        let (e, _) = decode_err(&payload);
        assert_eq!(e, want, "{}", to_hex(&payload));
    }
}

#[test]
fn huge_declared_lengths_allocate_nothing_big() {
    for (h, ok) in HUGE_LENGTHS {
        let (e, largest) = decode_err(&hex(h));
        assert!(ok(&e), "{h}: {e:?}");
        assert!(largest < 4096, "{h}: allocated {largest} bytes");
    }
    // A sparse array of length 2^32 - 1 with one element is valid and small.
    let payload = hex("ff0f 61 ffffffff0f 4900 4902 40 01 ffffffff0f");
    let (v, usage) = measure(|| decode(&payload));
    let v = v.expect("valid");
    assert!(usage.largest < 4096);
    assert_eq!(v.get_index(0).and_then(Value::as_f64), Some(1.0));
}

#[test]
fn bad_references() {
    rejected(BAD_REFERENCES);
}

#[test]
fn bad_varints() {
    rejected(BAD_VARINTS);
    // Not minimal, but within 5 bytes: V8 reads it, so do we.
    assert!(matches!(
        decode(&hex("ff0f 49 8280808000")),
        Ok(Value::Int32(1))
    ));
}

/// Runs `f` on a thread with a 256 KiB stack.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .name("v8-small-stack".into())
        .stack_size(256 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow or panic")
}

#[test]
fn nesting_100_000_deep_is_too_deep_even_on_a_small_stack() {
    for open in ["4101", "6f220161", "3b30", "27", "7263", "5c01", "61014900"] {
        let payload = deep(open, 100_000);
        let e = on_small_stack(move || decode(&payload).expect_err("too deep"));
        match e {
            Error::TooDeep {
                max_depth: 1000,
                offset,
            } => assert!(offset > 1000, "{open}: {offset}"),
            other => panic!("{open}: {other:?}"),
        }
    }
}

#[test]
fn deep_values_within_a_raised_limit_need_no_stack() {
    // 100 000 nested arrays, closed: decode, compare, encode and drop all
    // run on a 256 KiB stack.
    on_small_stack(|| {
        let n = 100_000;
        let mut p = deep("4101", n);
        for _ in 0..n {
            p.extend_from_slice(&hex("240001"));
        }
        let limits = Limits { max_depth: n };
        let v = decode_with(&p, &limits).expect("decodes");
        assert!(matches!(
            decode_with(&p, &Limits { max_depth: n - 1 }),
            Err(Error::TooDeep { .. })
        ));
        assert_eq!(encode_with(&v, &limits).expect("encodes"), p);
        assert!(matches!(
            encode(&v),
            Err(Error::TooDeep {
                max_depth: 1000,
                ..
            })
        ));
        assert!(v == v.clone());
        drop(v);
    });
}

#[test]
fn v8_rejections_are_ours_too() {
    rejected(V8_REJECTIONS);
}

#[test]
fn encoder_refuses_what_node_cannot_read() {
    let refused = |v: Value, ok: fn(&Error) -> bool| {
        let mut out = b"keep".to_vec();
        let e = encode_into(&v, &mut out).expect_err("refused");
        assert!(ok(&e), "{e:?}");
        assert_eq!(out, b"keep", "output left as it was");
    };
    // A reference to nothing.
    refused(Value::Ref(Anchor::new()), |e| {
        matches!(e, Error::Unsupported(_))
    });
    // The same property twice, in any spelling.
    refused(ok(vec![(Key::Int32(1), i(1)), (k("1"), i(2))]), |e| {
        matches!(e, Error::DuplicateKey { .. })
    });
    refused(arr_with(vec![Some(i(0))], vec![(k("length"), i(1))]), |e| {
        matches!(e, Error::DuplicateKey { .. })
    });
    // An error whose cause is itself: Node 20 writes it but cannot read it.
    let a = Anchor::new();
    let mut e = JsError::new(ErrorKind::Error, "loop");
    e.anchor = Some(a);
    e.cause = Some(Value::Ref(a));
    refused(Value::from(e), |e| matches!(e, Error::Unsupported(_)));
    // Flags V8 rejects.
    refused(
        Value::from(RegExp {
            anchor: None,
            source: "a".into(),
            flags: 64,
        }),
        |e| matches!(e, Error::InvalidRegExpFlags { .. }),
    );
    // A host object must carry an object.
    refused(
        Value::from(HostObject {
            anchor: None,
            value: i(1),
        }),
        |e| matches!(e, Error::BadHostObject { .. }),
    );
    // Deeper than the limit.
    refused(nest(1001, Value::Null, |_, v| arr(vec![v])), |e| {
        matches!(e, Error::TooDeep { .. })
    });
    // A resizable buffer longer than its maximum.
    refused(
        Value::from(forkwire::codec::v8::ArrayBuffer {
            anchor: None,
            bytes: vec![0; 4],
            max_byte_length: Some(2),
        }),
        |e| matches!(e, Error::Unsupported(_)),
    );
    // A reference from inside a host object to itself.
    let h = Anchor::new();
    let inner = Value::from(Object::new(vec![(k("me"), Value::Ref(h))]));
    refused(
        Value::Host(Arc::new(HostObject {
            anchor: Some(h),
            value: inner,
        })),
        |e| matches!(e, Error::Unsupported(_)),
    );
}

#[test]
fn single_byte_corruptions_never_panic() {
    // Every byte of every small vector replaced by a few interesting values.
    each_single_byte_corruption(|v, _, _, q| {
        if let Ok(value) = decode(q) {
            // Whatever decodes re-encodes and decodes to the same.
            let again = encode(&value).expect("decoded values encode");
            assert!(
                decode(&again).expect("re-decodes") == value,
                "{}: {}",
                v.name,
                to_hex(q)
            );
        }
    });
}
