//! Values that are small on the wire but huge as trees: shared references
//! (`x = [x, x]` forty times is 287 bytes and 2^41 - 1 nodes) and sparse
//! arrays of length 2^32 - 1. Decoding them is cheap; expanding them (serde,
//! JSON) stops at the expansion budget with `Error::ExpansionLimit`, quickly
//! and without allocating for the expansion; legitimate values pass.

mod alloc_count;
mod v8_support;

use std::time::Duration;

use forkwire::codec::v8::{
    decode, encode, from_slice, from_slice_with, from_value, to_vec, Error, Limits, Value,
    DEFAULT_MAX_EXPANSION,
};
use forkwire::codec::{decode_frame, CodecError, Mode};
use serde::Deserialize;
use serde_json::json;

use alloc_count::{measure, Usage};
use v8_support::{bomb, bomb_member, hex};

#[global_allocator]
static ALLOCATOR: alloc_count::Counting = alloc_count::Counting;

/// What Node 20 writes for the 40-level bomb.
const NODE_BOMB_40: &str = "ff0f410241024102410241024102410241024102410241024102410241024102410241024102410241024102410241024102410241024102410241024102410241024102410241024102410241024102410241002400005e282400025e272400025e262400025e252400025e242400025e232400025e222400025e212400025e202400025e1f2400025e1e2400025e1d2400025e1c2400025e1b2400025e1a2400025e192400025e182400025e172400025e162400025e152400025e142400025e132400025e122400025e112400025e102400025e0f2400025e0e2400025e0d2400025e0c2400025e0b2400025e0a2400025e092400025e082400025e072400025e062400025e052400025e042400025e032400025e022400025e01240002";

/// `const a = []; a.length = 2 ** 32 - 1; v8.serialize(a)`.
const SPARSE_MAX: &str = "ff0f 61 ffffffff0f 40 00 ffffffff0f";

#[test]
fn bomb_bytes_are_nodes() {
    assert_eq!(bomb(40), hex(NODE_BOMB_40));
    assert_eq!(bomb(40).len(), 287);
    assert_eq!(
        bomb(3),
        hex("ff0f410241024102410024 00005e032400025e022400025e01240002")
    );
    assert_eq!(
        bomb_member(3),
        hex("ff0f6f2202696449022206726573756c7441024102410241002400005e042400025e032400025e022400027b02")
    );
}

#[test]
fn bomb_decodes_cheaply() {
    let payload = bomb(40);
    let (value, Usage { took, peak, .. }) = measure(|| decode(&payload).expect("decodes"));
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(peak < 64 * 1024, "decoding held {peak} bytes");
    // Each level is an array whose two elements are one object.
    let mut x = &value;
    for _ in 0..40 {
        let a = x.get_index(0).expect("element 0");
        let b = x.get_index(1).expect("element 1");
        assert!(a.same_object(b));
        x = a;
    }
    assert_eq!(x.as_array().map(|a| a.elements.len()), Some(0));
    // Re-encoding writes the references again, not the tree.
    assert_eq!(encode(&value).expect("encodes"), payload);
}

#[test]
fn bomb_from_slice_fails_fast() {
    let payload = bomb(40);
    let limit = 287 * 16 + 65_536;
    assert_eq!(Limits::default().max_expansion(payload.len()), limit);
    let (r, Usage { took, peak, .. }) = measure(|| from_slice::<serde_json::Value>(&payload));
    eprintln!("from_slice of the 40-level bomb: {took:?}, {peak} bytes at most");
    assert_eq!(r, Err(Error::ExpansionLimit { limit }));
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(peak < 32 << 20, "held {peak} bytes");
    assert_eq!(
        r.unwrap_err().to_string(),
        format!("value expands past {limit} nodes (shared references or sparse arrays)")
    );
    // The channel's decoding goes through the same path.
    let r = decode_frame::<serde_json::Value>(Mode::Advanced, &payload);
    assert!(
        matches!(r, Err(CodecError::V8(Error::ExpansionLimit { limit: l })) if l == limit),
        "{r:?}"
    );
    // Other target types stop the same way.
    assert_eq!(
        from_slice::<Vec<Vec<Vec<Vec<serde_json::Value>>>>>(&payload),
        Err(Error::ExpansionLimit { limit })
    );
}

#[test]
fn bomb_to_json_is_bounded() {
    let value = decode(&bomb(40)).expect("decodes");
    let (r, Usage { took, peak, .. }) = measure(|| value.try_to_json());
    assert_eq!(
        r,
        Err(Error::ExpansionLimit {
            limit: DEFAULT_MAX_EXPANSION
        })
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(peak < 1 << 20, "held {peak} bytes");
    let (j, Usage { took, .. }) = measure(|| value.to_json());
    assert_eq!(j, serde_json::Value::Null);
    assert!(took < Duration::from_secs(1), "{took:?}");
    let (r, Usage { took, .. }) = measure(|| serde_json::to_string(&value));
    assert!(r.unwrap_err().to_string().contains("expands past"));
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(
        value.try_to_json_with(1000),
        Err(Error::ExpansionLimit { limit: 1000 })
    );
}

#[test]
fn bomb_in_an_ignored_member() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Reply {
        id: u64,
    }
    let payload = bomb_member(40);
    let (r, Usage { took, .. }) = measure(|| from_slice::<Reply>(&payload));
    assert_eq!(r, Ok(Reply { id: 1 }));
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(
        decode_frame::<Reply>(Mode::Advanced, &payload).ok(),
        Some(Reply { id: 1 })
    );
    assert_eq!(
        from_slice_with::<Reply>(&payload, &Limits::default()),
        Ok(Reply { id: 1 })
    );
    assert_eq!(
        from_value::<Reply>(decode(&payload).expect("decodes")),
        Ok(Reply { id: 1 })
    );
    // A field of type Value receives the bomb as it is.
    #[derive(Deserialize)]
    struct Raw {
        result: Value,
    }
    let raw: Raw = from_slice(&payload).expect("deserializes");
    assert_eq!(encode(&raw.result).expect("encodes"), bomb(40));
    // and this codec's serializer writes it back without expanding it.
    let (bytes, Usage { took, .. }) = measure(|| to_vec(&raw.result).expect("serializes"));
    assert_eq!(bytes, bomb(40));
    assert!(took < Duration::from_secs(1), "{took:?}");
    // Reading the member itself stops at the budget.
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Full {
        id: u64,
        result: serde_json::Value,
    }
    assert!(matches!(
        from_slice::<Full>(&payload),
        Err(Error::ExpansionLimit { .. })
    ));
}

#[test]
fn sparse_array_of_length_u32_max() {
    let payload = hex(SPARSE_MAX);
    let value = decode(&payload).expect("decodes");
    let limit = Limits::default().max_expansion(payload.len());
    let (r, Usage { took, peak, .. }) = measure(|| from_slice::<serde_json::Value>(&payload));
    assert_eq!(r, Err(Error::ExpansionLimit { limit }));
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(peak < 1 << 20, "held {peak} bytes");
    assert!(matches!(
        from_slice::<Vec<Option<u8>>>(&payload),
        Err(Error::ExpansionLimit { .. })
    ));
    assert!(matches!(
        from_value::<Vec<()>>(value.clone()),
        Err(Error::ExpansionLimit { .. })
    ));
    let (j, Usage { took, .. }) = measure(|| value.to_json());
    assert_eq!(j, serde_json::Value::Null);
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(matches!(
        value.try_to_json(),
        Err(Error::ExpansionLimit { .. })
    ));
    // Shorter sparse arrays still expand when the budget allows: [ , 5, ].
    let v: Vec<Option<u8>> =
        from_slice(&hex("ff0f 61 03 4902 490a 40 01 03")).expect("deserializes");
    assert_eq!(v, [None, Some(5), None]);
}

#[test]
fn legitimate_values_pass() {
    // An array of 100 000 numbers (half of them doubles).
    let numbers: Vec<f64> = (0..100_000).map(|i| f64::from(i) * 1.5).collect();
    let payload = to_vec(&numbers).expect("serializes");
    assert_eq!(
        from_slice::<Vec<f64>>(&payload).expect("deserializes"),
        numbers
    );
    let j: serde_json::Value = from_slice(&payload).expect("deserializes");
    assert_eq!(j.as_array().map(Vec::len), Some(100_000));
    assert_eq!(decode(&payload).expect("decodes").to_json(), j);
    // 100 000 small integers: 3 bytes each, well within 16 nodes a byte.
    let ints: Vec<u32> = (0..100_000).collect();
    assert_eq!(
        from_slice::<Vec<u32>>(&to_vec(&ints).expect("serializes")).expect("deserializes"),
        ints
    );
    // `const s = {n: 1, t: 'abc'}; v8.serialize({a: s, b: [s, s]})`
    let shared = hex("ff0f6f2201616f22016e490222017422036162637b0222016241025e015e012400027b02");
    let expected =
        json!({"a": {"n": 1, "t": "abc"}, "b": [{"n": 1, "t": "abc"}, {"n": 1, "t": "abc"}]});
    assert_eq!(
        from_slice::<serde_json::Value>(&shared).expect("deserializes"),
        expected
    );
    let value = decode(&shared).expect("decodes");
    assert!(value
        .get("a")
        .expect("a")
        .same_object(value.get("b").and_then(|b| b.get_index(1)).expect("b[1]")));
    assert_eq!(value.to_json(), expected);
    assert_eq!(value.try_to_json(), Ok(expected));
    // Moderate sharing passes: ten levels of [x, x] (2047 nodes).
    let j: serde_json::Value = from_slice(&bomb(10)).expect("deserializes");
    assert_eq!(j[1][0][1][0][1][0][1][0][1][0], json!([]));
}
