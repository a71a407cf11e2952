//! Round trip through a real Node: values built in Rust are encoded, sent as
//! frames over a real fork() channel (a socket pair at fd 3 with
//! `NODE_CHANNEL_FD`, exactly as `child_process.fork` sets it up) to a Node
//! child, which checks each against the JS expression it stands for with
//! `assert.deepStrictEqual` (plus an identity check where sharing matters),
//! then sends the expression's own value back through `process.send`, which
//! must decode to the value we built. Skipped, loudly, when `node` is not on
//! the PATH.

mod v8_support;

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use forkwire::codec::v8::{
    decode, encode, to_vec, Anchor, Array, ArrayBuffer, Boxed, Date, ErrorKind, HostObject, JsMap,
    JsSet, JsString, Key, Primitive, RegExp, StringForm, Value, ViewKind,
};
use serde::Serialize;
use v8_support::*;

/// The Node side: checks each message against its case and answers.
const CHILD: &str = r#"'use strict';
const assert = require('assert');
const cases = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
let i = 0;
process.on('message', (got) => {
  const c = cases[i];
  const reply = { i, ok: true, err: '' };
  let expected;
  try {
    expected = (0, eval)(c.js);
    if (c.deep) assert.deepStrictEqual(got, expected);
    if (c.check && !(0, eval)(c.check)(got)) throw new Error('check failed: ' + c.check);
  } catch (e) {
    reply.ok = false;
    reply.err = String((e && e.message) || e).slice(0, 3000);
  }
  process.send(reply);
  if (c.echo) process.send(expected);
  i++;
});
"#;

struct Case {
    name: &'static str,
    /// The JS expression the payload stands for.
    js: &'static str,
    /// A JS function source run on the received value (identity checks).
    check: Option<&'static str>,
    /// Compare with `assert.deepStrictEqual` (which cannot, for one, see
    /// two invalid dates as equal).
    deep: bool,
    payload: Vec<u8>,
    /// What Node's own encoding of `js` must decode to, when Node writes
    /// the same wire forms.
    echo: Option<Value>,
}

fn case(name: &'static str, js: &'static str, v: Value) -> Case {
    let payload = encode(&v).unwrap_or_else(|e| panic!("{name}: {e}"));
    Case {
        name,
        js,
        check: None,
        deep: true,
        payload,
        echo: Some(v),
    }
}

/// A case whose value uses a wire form Node does not write itself.
fn one_way(name: &'static str, js: &'static str, v: Value) -> Case {
    Case {
        echo: None,
        ..case(name, js, v)
    }
}

fn checked(mut c: Case, check: &'static str) -> Case {
    c.check = Some(check);
    c
}

fn boxed(p: Primitive) -> Value {
    Value::from(Boxed {
        anchor: None,
        value: p,
    })
}

fn cases() -> Vec<Case> {
    let shared = o(vec![("x", i(1))]);
    let key = o(vec![("x", i(1))]);
    let cyclic = {
        let a = Anchor::new();
        anchored_object(a, vec![("self", Value::Ref(a)), ("n", i(1))])
    };
    let array_cycle = {
        let a = Anchor::new();
        let mut arr = Array::new([i(1), Value::Ref(a)]);
        arr.anchor = Some(a);
        Value::from(arr)
    };
    let map_cycle = {
        let a = Anchor::new();
        Value::from(JsMap {
            anchor: Some(a),
            entries: vec![(s("me"), Value::Ref(a))],
        })
    };
    let mut type_error = error(ErrorKind::TypeError, Some("t"), Some("S"));
    type_error.cause = None;
    let node_order = with_cause(
        error(ErrorKind::Error, Some("a"), Some("S")),
        s("why"),
        true,
    );
    let new_order = with_cause(
        error(ErrorKind::RangeError, Some("r"), Some("S2")),
        o(vec![("code", i(1))]),
        false,
    );

    #[derive(Serialize)]
    struct Msg {
        id: u64,
        big: u64,
        tags: Vec<&'static str>,
        pairs: std::collections::BTreeMap<(i32, i32), bool>,
        #[serde(with = "bytes")]
        blob: Vec<u8>,
        nothing: Option<u8>,
        kind: Kind,
    }
    #[derive(Serialize)]
    enum Kind {
        Point { x: f64 },
    }
    mod bytes {
        pub fn serialize<S: serde::Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(v)
        }
    }
    struct Unsized(usize);
    impl Serialize for Unsized {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq((0..self.0).map(|i| if i % 2 == 0 { "\u{20ac}" } else { "a" }))
        }
    }
    let msg = Msg {
        id: 7,
        big: u64::MAX,
        tags: vec!["a", "\u{20ac}"],
        pairs: [((1, 2), true)].into_iter().collect(),
        blob: vec![1, 2, 3],
        nothing: None,
        kind: Kind::Point { x: 0.5 },
    };
    let serde_case = |name, js, payload: Vec<u8>| {
        let echo = decode(&payload).expect("our own payload decodes");
        Case {
            name,
            js,
            check: None,
            deep: true,
            payload,
            echo: Some(echo),
        }
    };

    vec![
        case("envelope", r#"({id:1,type:"compute",data:{n:21}})"#,
            o(vec![("id", i(1)), ("type", s("compute")), ("data", o(vec![("n", i(21))]))])),
        case("numbers", "({a:0, b:-5, c:2**31, d:-0, e:NaN, f:Infinity, g:0.1, h:2**31-1})", o(vec![
            ("a", i(0)), ("b", i(-5)), ("c", d(2147483648.0)), ("d", d(-0.0)), ("e", d(f64::NAN)),
            ("f", d(f64::INFINITY)), ("g", d(0.1)), ("h", i(i32::MAX)),
        ])),
        one_way("uint32 form", "({u: 4294967295, v: 7})", o(vec![("u", Value::Uint32(u32::MAX)), ("v", Value::Uint32(7))])),
        case("strings", r#"({a:"h\u20acllo", b:"\ud800x", c:"x".repeat(300), d:"\u4e2d".repeat(20000), e:"\u00e9".repeat(200), f:"", g:"\ud83d\ude00"})"#, o(vec![
            ("a", s("h\u{20ac}llo")), ("b", utf16(&[0xd800, 0x78])), ("c", s(&"x".repeat(300))),
            ("d", s(&"\u{4e2d}".repeat(20000))), ("e", s(&"\u{e9}".repeat(200))), ("f", s("")), ("g", s("\u{1f600}")),
        ])),
        one_way("non-canonical string forms", r#"({a:"abc", b:"h\u20ac", c:"\u00e9"})"#, o(vec![
            ("a", two_byte("abc")),
            ("b", Value::String(JsString::from("h\u{20ac}").with_form(StringForm::Utf8).expect("utf-8"))),
            ("c", two_byte("\u{e9}")),
        ])),
        case("bigints", "({a:2n**64n, b:-1n, c:0n, d:-(2n**200n), e:2n**63n-1n})", o(vec![
            ("a", big(1 << 64)), ("b", big(-1)), ("c", big(0)), ("d", big_pow2(200, true, false)), ("e", big(i64::MAX.into())),
        ])),
        case("undefined and null", "({u:undefined, a:[undefined, null]})",
            o(vec![("u", Value::Undefined), ("a", arr(vec![Value::Undefined, Value::Null]))])),
        one_way("dense array with a hole", "[1,,3]", arr_with(vec![Some(i(1)), None, Some(i(3))], vec![])),
        case("sparse array", r#"(()=>{const a=new Array(5); a[2]="x"; return a})()"#, sparse(5, vec![(Key::Int32(2), s("x"))])),
        case("array with a property", r#"Object.assign([1,2], {x:"y"})"#,
            arr_with(vec![Some(i(1)), Some(i(2))], vec![(k("x"), s("y"))])),
        case("date", "({d:new Date(1582979696789)})", o(vec![
            ("d", Value::from(Date { anchor: None, time: 1582979696789.0 })),
        ])),
        Case {
            deep: false,
            ..checked(
                case("invalid date", "new Date(NaN)", Value::from(Date { anchor: None, time: f64::NAN })),
                "v => v instanceof Date && Number.isNaN(v.getTime())",
            )
        },
        case("regexps", r#"({a:/ab+c/gi, b:/[a]/v, c:new RegExp("a/b"), d:/x/dgimsy})"#, o(vec![
            ("a", Value::regexp("ab+c", "gi").expect("flags")),
            ("b", Value::regexp("[a]", "v").expect("flags")),
            ("c", Value::from(RegExp { anchor: None, source: "a\\/b".into(), flags: 0 })),
            ("d", Value::regexp("x", "dgimsy").expect("flags")),
        ])),
        checked(
            case("Map with shared object keys", r#"(()=>{const k={x:1}; return new Map([[k,1],["s",k]])})()"#,
                Value::map([(key.clone(), i(1)), (s("s"), key)])),
            r#"v => [...v.keys()][0] === v.get("s")"#,
        ),
        case("Set", r#"new Set([1, "a", null])"#, Value::from(JsSet { anchor: None, values: vec![i(1), s("a"), Value::Null] })),
        case("Map 1000", r#"new Map(Array.from({length:1000}, (_, i) => [i, "v"+i]))"#,
            Value::map((0..1000).map(|n| (i(n), s(&format!("v{n}")))))),
        case("ArrayBuffer", "new Uint8Array([1,2,3]).buffer", Value::array_buffer(vec![1, 2, 3])),
        checked(
            case("resizable ArrayBuffer", "(()=>{const b=new ArrayBuffer(2,{maxByteLength:8}); new Uint8Array(b).set([1,2]); return b})()",
                Value::from(ArrayBuffer { anchor: None, bytes: vec![1, 2], max_byte_length: Some(8) })),
            "v => v.resizable && v.maxByteLength === 8",
        ),
        case("views", "({a:new Int8Array([-1,2]), b:new Uint8Array([255]), c:new Uint8ClampedArray([9]), d:new Int16Array([-2]), e:new Uint16Array([65535]), f:new Int32Array([-3]), g:new Uint32Array([4294967295]), h:new Float32Array([1.5]), i:new Float64Array([-0.5]), j:new DataView(new Uint8Array([1,2]).buffer), k:Buffer.from('hi'), l:new BigInt64Array([-1n]), m:new BigUint64Array([2n**64n-1n])})", o(vec![
            ("a", view(ViewKind::Int8Array, &[0xff, 2])),
            ("b", view(ViewKind::Uint8Array, &[255])),
            ("c", view(ViewKind::Uint8ClampedArray, &[9])),
            ("d", view(ViewKind::Int16Array, &(-2i16).to_le_bytes())),
            ("e", view(ViewKind::Uint16Array, &[0xff, 0xff])),
            ("f", view(ViewKind::Int32Array, &(-3i32).to_le_bytes())),
            ("g", view(ViewKind::Uint32Array, &[0xff; 4])),
            ("h", view(ViewKind::Float32Array, &1.5f32.to_le_bytes())),
            ("i", view(ViewKind::Float64Array, &(-0.5f64).to_le_bytes())),
            ("j", view(ViewKind::DataView, &[1, 2])),
            ("k", Value::buffer(b"hi".to_vec())),
            ("l", view(ViewKind::BigInt64Array, &[0xff; 8])),
            ("m", view(ViewKind::BigUint64Array, &[0xff; 8])),
        ])),
        case("boxed primitives", r#"({n:new Number(3), s:new String("\u20ac"), b:new Boolean(false), z:Object(5n)})"#, o(vec![
            ("n", boxed(Primitive::Number(3.0))),
            ("s", boxed(Primitive::String("\u{20ac}".into()))),
            ("b", boxed(Primitive::Bool(false))),
            ("z", boxed(Primitive::BigInt(5.into()))),
        ])),
        checked(
            case("TypeError", r#"(()=>{const e=new TypeError("t"); e.stack="S"; return e})()"#, Value::from(type_error)),
            r#"v => v instanceof TypeError && v.stack === "S""#,
        ),
        checked(
            case("error with cause, Node 20 order", r#"(()=>{const e=new Error("a", {cause:"why"}); e.stack="S"; return e})()"#, Value::from(node_order)),
            r#"v => v.cause === "why" && v.stack === "S""#,
        ),
        checked(
            one_way("error with cause, stack first", r#"(()=>{const e=new RangeError("r", {cause:{code:1}}); e.stack="S2"; return e})()"#, Value::from(new_order)),
            r#"v => v instanceof RangeError && v.cause.code === 1 && v.stack === "S2""#,
        ),
        one_way("host object", "({x:1})", Value::from(HostObject { anchor: None, value: o(vec![("x", i(1))]) })),
        checked(case("shared reference", "(()=>{const x={x:1}; return {a:x, b:x}})()", o(vec![("a", shared.clone()), ("b", shared)])),
            "v => v.a === v.b"),
        checked(case("cycle", "(()=>{const o={}; o.self=o; o.n=1; return o})()", cyclic), "v => v.self === v"),
        checked(case("array cycle", "(()=>{const a=[1]; a.push(a); return a})()", array_cycle), "v => v[1] === v"),
        checked(case("Map cycle", r#"(()=>{const m=new Map(); m.set("me", m); return m})()"#, map_cycle), r#"v => v.get("me") === v"#),
        case("number keys", r#"({1:"a", b:2, 4294967294:3})"#,
            ok(vec![(Key::Int32(1), s("a")), (Key::Double(4294967294.0), i(3)), (k("b"), i(2))])),
        one_way("other key forms", r#"({"1.5":1, 7:2, "4294967295":3})"#,
            ok(vec![(Key::Double(1.5), i(1)), (Key::Uint32(7), i(2)), (Key::Double(4294967295.0), i(3))])),
        case("nested arrays 1000", "(()=>{let v=null; for(let i=0;i<1000;i++) v=[v]; return v})()",
            nest(1000, Value::Null, |_, v| arr(vec![v]))),
        case("nested objects 1000", "(()=>{let v=null; for(let i=0;i<1000;i++) v={v}; return v})()",
            nest(1000, Value::Null, |_, v| o(vec![("v", v)]))),
        serde_case("serde struct", r#"({id:7, big:2n**64n-1n, tags:["a","\u20ac"], pairs:new Map([[[1,2],true]]), blob:Buffer.from([1,2,3]), nothing:null, kind:{Point:{x:0.5}}})"#,
            to_vec(&msg).expect("serializes")),
        serde_case("serde sequence of unknown length", r#"Array.from({length:200}, (_, i) => i % 2 ? "a" : "\u20ac")"#,
            to_vec(&Unsized(200)).expect("serializes")),
        serde_case("serde sequence of unknown length, 20000", r#"Array.from({length:20000}, (_, i) => i % 2 ? "a" : "\u20ac")"#,
            to_vec(&Unsized(20000)).expect("serializes")),
    ]
}

fn read_frame(sock: &mut UnixStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    sock.read_exact(&mut len)?;
    let mut payload = vec![0u8; u32::from_be_bytes(len) as usize];
    sock.read_exact(&mut payload)?;
    Ok(payload)
}

#[test]
fn node_reads_what_we_write_and_we_read_what_node_writes() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("SKIPPED: `node` is not on the PATH");
        return;
    }
    let cases = cases();
    let dir = std::env::temp_dir().join(format!("forkwire-v8-node-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = dir.join("child.js");
    let list = dir.join("cases.json");
    std::fs::write(&script, CHILD).expect("write child");
    let meta: Vec<_> = cases
        .iter()
        .map(|c| serde_json::json!({"name": c.name, "js": c.js, "check": c.check, "deep": c.deep, "echo": c.echo.is_some()}))
        .collect();
    std::fs::write(&list, serde_json::to_vec(&meta).expect("json")).expect("write cases");

    let (mut ours, theirs) = UnixStream::pair().expect("socketpair");
    ours.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    // The shell moves the socket from stdin to fd 3, where fork() puts it.
    let mut child = Command::new("sh")
        .args(["-c", r#"exec node "$0" "$1" 3<&0 </dev/null"#])
        .arg(&script)
        .arg(&list)
        .env("NODE_CHANNEL_FD", "3")
        .env("NODE_CHANNEL_SERIALIZATION_MODE", "advanced")
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .spawn()
        .expect("spawn node");

    let mut failures = Vec::new();
    for (n, c) in cases.iter().enumerate() {
        let mut frame = (c.payload.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&c.payload);
        ours.write_all(&frame).expect("send");
        let reply = decode(&read_frame(&mut ours).expect("reply")).expect("reply decodes");
        assert_eq!(
            reply.get("i").and_then(Value::as_f64),
            Some(n as f64),
            "replies in order"
        );
        if reply.get("ok").and_then(Value::as_bool) != Some(true) {
            let err = reply.get("err").and_then(Value::as_str).unwrap_or("?");
            failures.push(format!("{}: node says {err}", c.name));
        }
        if let Some(want) = &c.echo {
            let node_bytes = read_frame(&mut ours).expect("echo");
            match decode(&node_bytes) {
                Ok(got) if &got == want => {}
                Ok(got) => failures.push(format!(
                    "{}: node's own encoding decodes differently\n  node {}\n  ours {}\n  {got:?}",
                    c.name,
                    to_hex(&node_bytes),
                    to_hex(&c.payload)
                )),
                Err(e) => failures.push(format!("{}: cannot decode node's encoding: {e}", c.name)),
            }
        }
    }
    drop(ours); // disconnect: the child exits
    let status = child.wait().expect("wait");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(status.success(), "node exited with {status}");
    eprintln!("{} cases checked by node", cases.len());
}
