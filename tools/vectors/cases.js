'use strict';
// The values that capture.js sends over a real fork() channel. Each case is
// [name, js]: `js` is evaluated in the capturing Node process and the result
// is passed to `child.send()`. Keep every expression deterministic (no
// Date.now(), no random, no real stack traces: set `e.stack` by hand) so that
// re-capturing on the same Node version gives the same bytes.
//
// The first block is the shared list (docs/vectors/node20-*.json) verbatim, so
// the extended files are a superset of it.

const SHARED = [
  ['int 0', '0'], ['int -1', '-1'], ['int 2^30', '2**30'], ['int 2^31 (double)', '2**31'], ['int -2^31', '-(2**31)'],
  ['double 1.5', '1.5'], ['NaN', 'NaN'], ['-0', '-0'], ['Infinity', 'Infinity'], ['MAX_SAFE_INTEGER', 'Number.MAX_SAFE_INTEGER'],
  ['1e21', '1e21'], ['5e-324', '5e-324'],
  ['true', 'true'], ['false', 'false'], ['null', 'null'], ['undefined', 'undefined'],
  ['empty string', '""'], ['latin1 string', '"h\\u00e9llo"'], ['two-byte string', '"h\\u20acllo"'], ['emoji', '"\\ud83d\\ude00"'],
  ['lone surrogate', '"\\ud800"'], ['U+2028 and newline', '"a\\u2028b\\nc"'], ['long latin1 string (300)', '"x".repeat(300)'],
  ['empty object', '({})'], ['object', '({a:1,b:"x",c:[true,null]})'], ['integer keys', '({1:"a", b:2})'],
  ['dense array', '[1,2,3]'], ['sparse array', '(()=>{const a=[];a[5]=1;return a})()'], ['array with hole', '[1,,3]'],
  ['array of 200 ints', 'Array.from({length:200},(_, i)=>i)'],
  ['nested', '({a:{b:{c:[{d:1}]}}})'],
  ['two-byte value after odd offset (padding)', '({ab:"\\u20ac"})'], ['two-byte in array', '["\\u20ac"]'],
  ['Date', 'new Date(0)'], ['RegExp', '/ab+c/gi'], ['Map', 'new Map([[1,"a"],["k",{x:1}]])'], ['Set', 'new Set([1,"a"])'],
  ['BigInt 0', '0n'], ['nested BigInt 0', '({b:0n})'], ['nested BigInt -1', '({b:-1n})'], ['nested BigInt 2^64', '({b:2n**64n})'],
  ['nested undefined', '({u:undefined, a:[undefined]})'],
  ['Buffer', 'Buffer.from([1,2,3])'], ['Uint8Array', 'new Uint8Array([1,2,3])'], ['Float64Array', 'new Float64Array([1.5])'],
  ['Int32Array', 'new Int32Array([-1])'], ['DataView', 'new DataView(new ArrayBuffer(2))'], ['ArrayBuffer', 'new Uint8Array([9,8]).buffer'],
  ['Error', '(()=>{const e=new Error("boom"); e.stack="S"; return e})()'],
  ['TypeError', '(()=>{const e=new TypeError("t"); e.stack="S"; return e})()'],
  ['String object', 'new String("s")'], ['Number object', 'new Number(3)'], ['Boolean object', 'new Boolean(true)'],
  ['shared reference', '(()=>{const o={x:1}; return {a:o,b:o}})()'], ['cycle', '(()=>{const o={}; o.self=o; return o})()'],
  ['envelope', '({id:1,type:"compute",data:{n:21}})'],
];

// Builds `depth` nested containers around `leaf` without recursion.
const nest = (depth, kind) => `(()=>{let v=null; for(let i=0;i<${depth};i++) v=${kind}; return v})()`;
// An error with a fixed stack (real stacks contain paths and line numbers).
const err = (ctor, msg, extra = '') => `(()=>{const e=new ${ctor}(${JSON.stringify(msg)}${extra}); e.stack="S:"+e.name; return e})()`;

const EXTENDED = [
  // numbers: what V8 writes as int32 (Smi) and what as double
  ['int32 max', '2**31-1'], ['int32 min - 1 (double)', '-(2**31)-1'], ['0.1', '0.1'], ['-Infinity', '-Infinity'],
  ['MIN_VALUE', 'Number.MIN_VALUE'], ['MAX_VALUE', 'Number.MAX_VALUE'], ['-MAX_SAFE_INTEGER', '-Number.MAX_SAFE_INTEGER'],
  ['computed integral double', '(()=>{const a=[0.5]; return a[0]*4})()'],
  ['double array (packed doubles)', '[1.5, 2, -0]'], ['negative zero in object', '({z:-0, n:0})'],
  ['numbers in array', '[0, -1, 2**31-1, -(2**31), 2**31, 2**32, 0.5, NaN, -Infinity]'],

  // strings and two-byte padding at every parity
  ['NUL string', '"\\u0000"'], ['all latin1 code points', 'String.fromCharCode(...Array.from({length:256},(_, i)=>i))'],
  ['U+0100 (first two-byte)', '"\\u0100"'], ['one-byte 127', '"a".repeat(127)'], ['one-byte 128', '"a".repeat(128)'],
  ['one-byte 16384', '"b".repeat(16384)'], ['one-byte 20000 latin1', '"\\u00e9".repeat(20000)'],
  ['two-byte 63 units (126 bytes)', '"\\u20ac".repeat(63)'], ['two-byte 64 units (128 bytes)', '"\\u20ac".repeat(64)'],
  ['two-byte 10000 units', '"\\u4e2d".repeat(10000)'], ['lone low surrogate then text', '"\\udc00abc"'],
  ['surrogates reversed', '"\\ude00\\ud83d"'],
  ['two-byte key', '({"\\u20ac":1})'], ['two-byte keys at each parity', '({a:"\\u20ac", bb:"\\u20ac\\u20ac", ccc:"x\\u20ac", dddd:"\\u0101"})'],
  ['two-byte strings in array', '["\\u20ac","a","\\u20ac\\u20ac","bb","\\u20ac"]'],
  ['empty key', '({"":1})'], ['long key', '({["k".repeat(200)]: 1})'],

  // object keys: indexes, non-index numerics, order
  ['non-index numeric keys', '({"-1":1, "1.5":2, 4294967295:3})'], ['max array index key', '({4294967294:1})'],
  ['index key 2^31 - 1', '({2147483647:1})'], ['index key 2^31', '({2147483648:1})'], ['non-canonical index "01"', '({"01":1, "1":2})'],
  ['keys ordered indexes first', '({b:1, 2:2, a:3, 1:4})'], ['key "__proto__"', 'JSON.parse(\'{"__proto__":1}\')'],
  ['null-prototype object', '(()=>{const o=Object.create(null); o.x=1; return o})()'],
  ['class instance', '(()=>{class P{constructor(){this.x=1; this.y=2}} return new P()})()'],
  ['getter is read', '({get g(){return 42}})'], ['non-enumerable skipped', '(()=>{const o={a:1}; Object.defineProperty(o,"h",{value:2}); return o})()'],
  ['symbol key skipped', '({[Symbol("s")]:1, a:2})'],
  ['object with many keys', 'Object.fromEntries(Array.from({length:100},(_, i)=>["k"+i, i]))'],

  // arrays
  ['empty array', '[]'], ['array of undefined and null', '[undefined, null]'],
  ['array with extra properties', '(()=>{const a=[1,2]; a.x="y"; a[-1]=0; return a})()'],
  ['holey array with extra property', '(()=>{const a=[1,,3]; a.p=true; return a})()'],
  ['new Array(5)', 'new Array(5)'], ['deleted element', '(()=>{const a=[1,2,3]; delete a[1]; return a})()'],
  ['sparse array length 2^32-1', '(()=>{const a=[]; a.length=2**32-1; a[7]=7; return a})()'],
  ['sparse element at 20000', '(()=>{const a=[]; a[20000]="x"; return a})()'],
  ['mixed array', '[1, "two", {three:3}, [4], null, undefined, true, 1.5]'],

  // nesting
  ['nested arrays 100', nest(100, '[v]')], ['nested objects 100', nest(100, '({v})')],
  ['nested arrays 1000', nest(1000, '[v]')], ['nested maps 50', nest(50, 'new Map([["v", v]])')],
  ['nested mixed 300', nest(300, '(i%3===0?[v]:i%3===1?{v}:new Set([v]))')],

  // references and cycles
  ['array cycle', '(()=>{const a=[]; a.push(a); return a})()'],
  ['map cycle', '(()=>{const m=new Map(); m.set("self", m); m.set(m, 1); return m})()'],
  ['set cycle', '(()=>{const s=new Set(); s.add(s); return s})()'],
  ['shared refs in Map', '(()=>{const o={k:1}; return new Map([[o, o], ["o", o]])})()'],
  ['shared refs in Set', '(()=>{const o={k:1}; return new Set([o, [o]])})()'],
  ['shared Map and object', '(()=>{const o={}; const m=new Map([["k", o]]); return {m, o, again: m}})()'],
  ['shared Date', '(()=>{const d=new Date(5); return [d, d]})()'],
  ['shared typed array', '(()=>{const t=new Uint8Array([1]); return [t, t]})()'],
  ['shared buffer', '(()=>{const b=Buffer.from("ab"); return {x:b, y:b}})()'],
  ['shared error', '(()=>{const e=new Error("e"); e.stack="S"; return [e, e]})()'],
  ['shared string object', '(()=>{const s=new String("s"); return [s, s]})()'],
  ['cycle through nested', '(()=>{const a={}; const b={a}; a.b=b; return [a, b]})()'],

  // Map / Set
  ['empty Map', 'new Map()'], ['empty Set', 'new Set()'],
  ['Map 1000 entries', 'new Map(Array.from({length:1000},(_, i)=>[i, "v"+i]))'],
  ['Set 1000 entries', 'new Set(Array.from({length:1000},(_, i)=>i*1.5))'],
  ['Map with NaN, -0, object and undefined keys', 'new Map([[NaN, 1], [-0, 2], [{}, 3], [undefined, 4], [null, 5]])'],

  // dates and regexps
  ['Date NaN', 'new Date(NaN)'], ['Date max', 'new Date(8.64e15)'], ['Date negative', 'new Date(-1)'],
  ['Date 2020', 'new Date(Date.UTC(2020, 1, 29, 12, 34, 56, 789))'], ['Date with fraction', 'new Date(1.75)'],
  ['RegExp all flags', '/a/dgimsuy'], ['RegExp v flag', '/[a]/v'], ['RegExp two-byte source', '/\\u20ac+/'],
  ['RegExp with slash', 'new RegExp("a/b")'], ['RegExp empty', 'new RegExp("")'],

  // BigInt
  ['BigInt 1', '({b:1n})'], ['BigInt -(2^63)', '({b:-(2n**63n)})'], ['BigInt 2^64-1', '({b:2n**64n-1n})'],
  ['BigInt 2^1000', '({b:2n**1000n})'], ['BigInt -(2^200)+1', '({b:-(2n**200n)+1n})'],
  ['BigInt in array', '[1n, -1n]'], ['BigInt object', 'Object(5n)'], ['BigInt object negative', 'Object(-(2n**70n))'],

  // boxed primitives
  ['Number object -0', 'new Number(-0)'], ['Number object NaN', 'new Number(NaN)'], ['Boolean object false', 'new Boolean(false)'],
  ['String object two-byte', 'new String("\\u20ac")'], ['String object in object (padding)', '({s:new String("\\u20ac")})'],

  // ArrayBuffer and views (Node's host-object framing)
  ['Int8Array', 'new Int8Array([-128, 127])'], ['Uint8ClampedArray', 'new Uint8ClampedArray([0, 255])'],
  ['Int16Array', 'new Int16Array([-2, 300])'], ['Uint16Array', 'new Uint16Array([65535])'],
  ['Uint32Array', 'new Uint32Array([4294967295, 1])'], ['Float32Array', 'new Float32Array([1.5, -0, NaN])'],
  ['BigInt64Array', 'new BigInt64Array([-1n, 2n])'], ['BigUint64Array', 'new BigUint64Array([2n**64n-1n])'],
  ['DataView with offset', 'new DataView(new Uint8Array([1,2,3,4,5]).buffer, 1, 3)'],
  ['empty Buffer', 'Buffer.alloc(0)'], ['Buffer 1000 bytes', 'Buffer.from(Array.from({length:1000},(_, i)=>i&255))'],
  ['Buffer subarray', 'Buffer.from("hello").subarray(1, 3)'],
  ['Uint16Array view with offset', 'new Uint16Array(new Uint8Array([1,2,3,4,5,6,7,8]).buffer, 2, 2)'],
  ['Float64Array subarray', 'new Float64Array([1, 2, 3]).subarray(1)'],
  ['empty Uint8Array', 'new Uint8Array(0)'],
  ['typed array and its buffer', '(()=>{const t=new Uint8Array([7,8]); return {t, b: t.buffer}})()'],
  ['empty ArrayBuffer', 'new ArrayBuffer(0)'], ['resizable ArrayBuffer', '(()=>{const b=new ArrayBuffer(2, {maxByteLength: 8}); new Uint8Array(b).set([1,2]); return b})()'],
  ['views in an object (padding after host objects)', '({a:new Uint8Array([1]), s:"\\u20ac", b:Buffer.from("x"), t:"\\u20ac"})'],
  ['MessagePort (other host object)', '(()=>{const {port1, port2}=new (require("worker_threads").MessageChannel)(); port1.close(); port2.close(); port1.x=1; return port1})()'],

  // errors
  ['Error with string cause', err('Error', 'a', ', {cause: "why"}')],
  ['Error with object cause', err('Error', 'a', ', {cause: {code: 1}}')],
  ['Error with error cause', `(()=>{const c=${err('TypeError', 'inner')}; const e=new Error("outer", {cause: c}); e.stack="S"; return e})()`],
  ['Error with undefined cause', err('Error', 'a', ', {cause: undefined}')],
  ['Error with code property (not serialized)', '(()=>{const e=new Error("m"); e.code="E_CODE"; e.stack="S"; return e})()'],
  ['RangeError', err('RangeError', 'r')], ['ReferenceError', err('ReferenceError', 'f')], ['SyntaxError', err('SyntaxError', 's')],
  ['EvalError', err('EvalError', 'e')], ['URIError', err('URIError', 'u')],
  ['custom error name', '(()=>{class MyError extends Error{}; const e=new MyError("c"); e.name="MyError"; e.stack="S"; return e})()'],
  ['Error without message', '(()=>{const e=new Error(); e.stack="S"; return e})()'],
  ['Error without stack', '(()=>{const e=new Error("nostack"); e.stack=undefined; return e})()'],
  ['Error with two-byte message', err('Error', '\u20ac!')],
  // Node 20 writes this (the cause is a back-reference to the error) but its
  // own deserializer rejects it: the error gets its id only once complete.
  ['Error with itself as cause (Node 20 cannot read it)', '(()=>{const e=new Error("loop"); e.cause=e; e.stack="S"; return e})()'],
  ['Error in envelope', `({id: 7, error: ${err('Error', 'failed')}})`],

  // envelopes from the seed patterns
  ['request envelope', '({id: 42, type: "add", data: {a: 1, b: 2.5}})'],
  ['result envelope', '({id: 42, result: {sum: 3.5, items: ["x", "y"]}})'],
  ['heartbeat', '({type: "heartbeat", timestamp: 1700000000000})'],
  ['health status', '({type: "health-status", healthy: true, metrics: {rss: 123456789, uptime: 12.5}})'],
];

module.exports = { SHARED, EXTENDED, CASES: [...SHARED, ...EXTENDED] };
