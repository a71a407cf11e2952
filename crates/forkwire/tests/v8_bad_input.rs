//! Malformed payloads: every one ends in an `Err` naming the problem, never
//! a panic, a stack overflow or an allocation sized by a length the input
//! cannot back. Also the values the encoder must refuse because Node's
//! deserializer would reject them (and crash the Node peer).

mod v8_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use forkwire::codec::v8::{
    decode, decode_with, encode, encode_into, encode_with, Anchor, Error, ErrorKind, HostObject,
    JsError, Key, Limits, Object, RegExp, Value,
};
use v8_support::*;

/// Records the largest single allocation made by the current thread, so a
/// test can prove that no length field drove an allocation.
struct PeakAlloc;

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = PEAK.try_with(|p| p.set(p.get().max(layout.size())));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = PEAK.try_with(|p| p.set(p.get().max(new_size)));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// A hex payload's expected error.
type ErrorCheck = fn(&Error) -> bool;

/// Decodes and returns the error and the largest allocation made meanwhile.
fn decode_err(payload: &[u8]) -> (Error, usize) {
    PEAK.with(|p| p.set(0));
    let result = decode(payload);
    let peak = PEAK.with(Cell::get);
    match result {
        Err(e) => (e, peak),
        Ok(v) => panic!("{} decoded to {v:?}", to_hex(payload)),
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
    assert!(matches!(
        decode(b""),
        Err(Error::BadVersion { version: None, .. })
    ));
    assert!(matches!(
        decode(b"\xfe\x0fI\x02"),
        Err(Error::BadVersion { version: None, .. })
    ));
    assert!(matches!(
        decode(b"\xff\x10I\x02"),
        Err(Error::BadVersion {
            version: Some(16),
            ..
        })
    ));
    assert!(matches!(
        decode(b"\xff\x0cI\x02"),
        Err(Error::BadVersion {
            version: Some(12),
            ..
        })
    ));
    assert!(matches!(
        decode(b"\xff"),
        Err(Error::Truncated { offset: 1 })
    ));
    // Versions 13 and 14 read the same for everything Node's channel carries.
    assert!(matches!(decode(b"\xff\x0dI\x02"), Ok(Value::Int32(1))));
    assert!(matches!(decode(b"\xff\x0eI\x02"), Ok(Value::Int32(1))));
}

#[test]
fn unknown_and_unsupported_tags() {
    for t in [
        0x01u8, b'-', b'{', b'$', b'@', b':', b',', b'.', b'M', 0x80, 0xfe,
    ] {
        let (e, _) = decode_err(&[0xff, 0x0f, t]);
        assert_eq!(e, Error::UnknownTag { offset: 2, tag: t }, "tag {t:#x}");
    }
    for t in *b"Vtupwm" {
        let (e, _) = decode_err(&[0xff, 0x0f, t, 0]);
        assert_eq!(e, Error::UnsupportedTag { offset: 2, tag: t });
    }
    // A V8 ArrayBufferView after an ArrayBuffer: Node never writes this form.
    let (e, _) = decode_err(&hex("ff0f 41 01 42 02 0000 56 42 00 02 00 240001"));
    assert!(
        matches!(e, Error::UnsupportedTag { tag: b'V', .. }),
        "{e:?}"
    );
    let (e, _) = decode_err(&hex("ff0f 42 02 0000 00 56 42 00 02 00"));
    assert!(
        matches!(e, Error::UnsupportedTag { tag: b'V', .. }),
        "{e:?}"
    );
}

#[test]
fn huge_declared_lengths_allocate_nothing_big() {
    let cases: &[(&str, ErrorCheck)] = &[
        ("ff0f 22 ffffffff0f 61", |e| {
            matches!(
                e,
                Error::LengthPastEnd {
                    offset: 3,
                    length: 4294967295
                }
            )
        }),
        ("ff0f 63 ffffffff0f 6100", |e| {
            matches!(e, Error::LengthPastEnd { .. })
        }),
        ("ff0f 53 ffffffff0f 61", |e| {
            matches!(e, Error::LengthPastEnd { .. })
        }),
        ("ff0f 41 ffffffff0f 30", |e| {
            matches!(e, Error::LengthPastEnd { offset: 3, .. })
        }),
        ("ff0f 61 ffffffff0f", |e| {
            matches!(e, Error::Truncated { .. })
        }),
        ("ff0f 61 ffffffff0f 40 00 ffffffff0f 00", |e| {
            matches!(e, Error::TrailingBytes { .. })
        }),
        ("ff0f 3b 3a ffffffff0f", |e| {
            matches!(
                e,
                Error::CountMismatch {
                    declared: 4294967295,
                    actual: 0,
                    ..
                }
            )
        }),
        ("ff0f 27 2c ffffffff0f", |e| {
            matches!(
                e,
                Error::CountMismatch {
                    declared: 4294967295,
                    ..
                }
            )
        }),
        ("ff0f 6f 7b ffffffff0f", |e| {
            matches!(e, Error::CountMismatch { .. })
        }),
        ("ff0f 42 ffffffff0f 00", |e| {
            matches!(e, Error::LengthPastEnd { .. })
        }),
        ("ff0f 7e ffffffff0f ffffffff0f 00", |e| {
            matches!(e, Error::LengthPastEnd { .. })
        }),
        ("ff0f 5a feffffff07 00", |e| {
            matches!(e, Error::LengthPastEnd { .. })
        }),
        ("ff0f 5c 00 0a ffffffff0f 00", |e| {
            matches!(e, Error::LengthPastEnd { .. })
        }),
        ("ff0f 52 22 ffffffff0f", |e| {
            matches!(e, Error::LengthPastEnd { .. })
        }),
    ];
    for (h, ok) in cases {
        let (e, peak) = decode_err(&hex(h));
        assert!(ok(&e), "{h}: {e:?}");
        assert!(peak < 4096, "{h}: allocated {peak} bytes");
    }
    // A sparse array of length 2^32 - 1 with one element is valid and small.
    PEAK.with(|p| p.set(0));
    let v = decode(&hex("ff0f 61 ffffffff0f 4900 4902 40 01 ffffffff0f")).expect("valid");
    assert!(PEAK.with(Cell::get) < 4096);
    assert_eq!(v.get_index(0).and_then(Value::as_f64), Some(1.0));
}

#[test]
fn bad_references() {
    let (e, _) = decode_err(&hex("ff0f 5e 00"));
    assert_eq!(e, Error::BadReference { offset: 2, id: 0 });
    let (e, _) = decode_err(&hex("ff0f 41 02 6f7b00 5e 05 240002"));
    assert!(matches!(e, Error::BadReference { id: 5, .. }));
    // An Error or host object is registered only once complete (Node 20).
    let (e, _) = decode_err(&hex("ff0f 72 63 5e00 2e"));
    assert!(matches!(e, Error::BadReference { id: 0, .. }));
    let (e, _) = decode_err(&hex("ff0f 5c 01 5e00"));
    assert!(matches!(e, Error::BadReference { id: 0, .. }));
    let (e, _) = decode_err(&hex("ff0f 5e ffffffff0f"));
    assert!(matches!(e, Error::BadReference { id: u32::MAX, .. }));
}

#[test]
fn bad_varints() {
    let (e, _) = decode_err(&hex("ff0f 49 80808080808080808080 01"));
    assert_eq!(e, Error::BadVarint { offset: 3 });
    // Fits a u64 but not the u32 V8 reads.
    let (e, _) = decode_err(&hex("ff0f 49 8080808010"));
    assert_eq!(e, Error::BadVarint { offset: 3 });
    let (e, _) = decode_err(&hex("ff0f 22 ffffffffffffffffff01"));
    assert!(matches!(e, Error::BadVarint { .. }));
    // Not minimal, but within 5 bytes: V8 reads it, so do we.
    assert!(matches!(
        decode(&hex("ff0f 49 8280808000")),
        Ok(Value::Int32(1))
    ));
}

/// `n` nested containers opened by `open` and never closed.
fn deep(open: &str, n: usize) -> Vec<u8> {
    let mut p = vec![0xff, 0x0f];
    let unit = hex(open);
    for _ in 0..n {
        p.extend_from_slice(&unit);
    }
    p.push(b'0');
    p
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
    let cases: &[(&str, ErrorCheck)] = &[
        ("ff0f 6f 220161 4902 220161 4904 7b02", |e| {
            matches!(e, Error::DuplicateKey { .. })
        }),
        ("ff0f 6f 4902 4902 220131 4904 7b02", |e| {
            matches!(e, Error::DuplicateKey { .. })
        }),
        ("ff0f 6f 4e0000000000000080 4902 220130 4904 7b02", |e| {
            matches!(e, Error::DuplicateKey { .. })
        }),
        ("ff0f 41 01 4902 4900 4904 2401 01", |e| {
            matches!(e, Error::DuplicateKey { .. })
        }),
        ("ff0f 61 00 2206 6c656e677468 4900 4001 00", |e| {
            matches!(e, Error::DuplicateKey { .. })
        }),
        ("ff0f 6f 54 4902 7b01", |e| {
            matches!(e, Error::InvalidKey { tag: b'T', .. })
        }),
        ("ff0f 6f 6f7b00 4902 7b01", |e| {
            matches!(e, Error::InvalidKey { tag: b'o', .. })
        }),
        ("ff0f 6f 220161 4902 7b02", |e| {
            matches!(
                e,
                Error::CountMismatch {
                    declared: 2,
                    actual: 1,
                    ..
                }
            )
        }),
        ("ff0f 41 01 4902 2400", |e| {
            matches!(e, Error::Truncated { .. })
        }),
        ("ff0f 41 01 4902 2400 02", |e| {
            matches!(e, Error::CountMismatch { .. })
        }),
        ("ff0f 61 02 4002 02", |e| {
            matches!(e, Error::CountMismatch { .. })
        }),
        ("ff0f 3b 4902 3a02", |e| {
            matches!(e, Error::UnknownTag { tag: b':', .. })
        }),
        ("ff0f 63 03 616263", |e| {
            matches!(e, Error::OddTwoByteLength { length: 3, .. })
        }),
        ("ff0f 53 02 c328", |e| {
            matches!(e, Error::InvalidUtf8 { .. })
        }),
        ("ff0f 5a 01", |e| matches!(e, Error::BadBigInt { .. })),
        ("ff0f 52 220161 40", |e| {
            matches!(e, Error::InvalidRegExpFlags { flags: 64, .. })
        }),
        ("ff0f 52 220161 8004", |e| {
            matches!(e, Error::InvalidRegExpFlags { .. })
        }),
        ("ff0f 52 4902 00", |e| {
            matches!(e, Error::ExpectedString { tag: b'I', .. })
        }),
        ("ff0f 73 6f7b00", |e| {
            matches!(e, Error::ExpectedString { .. })
        }),
        ("ff0f 72 51 2e", |e| {
            matches!(e, Error::BadErrorTag { tag: 0x51, .. })
        }),
        ("ff0f 72 54 52 2e", |e| {
            matches!(e, Error::BadErrorTag { .. })
        }),
        ("ff0f 72 6d 220161 6d 220162 2e", |e| {
            matches!(e, Error::BadErrorTag { .. })
        }),
        ("ff0f 72 6d 4902 2e", |e| {
            matches!(e, Error::ExpectedString { .. })
        }),
        ("ff0f 5c 02", |e| matches!(e, Error::BadHostObject { .. })),
        ("ff0f 5c 00 0d 00", |e| {
            matches!(e, Error::BadHostObject { .. })
        }),
        ("ff0f 5c 01 4902", |e| {
            matches!(e, Error::BadHostObject { .. })
        }),
        ("ff0f 7e 04 02 01020304", |e| {
            matches!(e, Error::CountMismatch { .. })
        }),
        ("ff0f 49 02 00", |e| {
            matches!(e, Error::TrailingBytes { offset: 4 })
        }),
        ("ff0f 49 02 49 02", |e| {
            matches!(e, Error::TrailingBytes { offset: 4 })
        }),
    ];
    for (h, ok) in cases {
        let (e, _) = decode_err(&hex(h));
        assert!(ok(&e), "{h}: {e:?}");
        assert!(!e.to_string().is_empty());
    }
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
    for v in all_advanced().iter().filter(|v| v.payload().len() <= 512) {
        let p = v.payload().to_vec();
        for at in 0..p.len() {
            for b in [
                0x00u8,
                0x01,
                0x7f,
                0x80,
                0xff,
                b'^',
                b'o',
                b'A',
                b'{',
                p[at] ^ 0x40,
            ] {
                let mut q = p.clone();
                q[at] = b;
                if let Ok(value) = decode(&q) {
                    // Whatever decodes re-encodes and decodes to the same.
                    let again = encode(&value).expect("decoded values encode");
                    assert!(
                        decode(&again).expect("re-decodes") == value,
                        "{}: {}",
                        v.name,
                        to_hex(&q)
                    );
                }
            }
        }
    }
}
