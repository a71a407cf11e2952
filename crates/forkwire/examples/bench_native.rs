//! The native rows of `npm run bench` (see `bench/README.md`): one round of
//!
//! - the physical reference: a pure-Rust ping-pong and a pipelined echo over
//!   `UnixStream::pair()` with the channel's framing (one JSON text per
//!   line), an echo thread answering `{id, result}` through serde_json the
//!   way the seed worker does (`data.n * 2`, else `data`), writing its
//!   replies in batches; the ping-pong runs twice, with the threads where
//!   the scheduler puts them and with both pinned to one CPU;
//! - the engine used natively from Rust: a `forkwire::pool::Pool` of seed
//!   workers (`target/release/examples/seed_worker`), sequential and
//!   pipelined.
//!
//! It prints one JSON object to stdout. Every reply is parsed and checked.
//!
//! ```text
//! cargo build --release -p forkwire --example bench_native
//! target/release/examples/bench_native --seed-worker target/release/examples/seed_worker \
//!     --payloads payloads.json [--seq 2000,1000,100] [--pipe 10000,10000,500] [--concurrency 64] \
//!     [--engine-only]
//! ```
//!
//! `payloads.json` is `{"4KB": {...}, "256KB": {...}}`, written by
//! `bench/run.js` so that both sides send the same objects.

use forkwire::pool::{CloseOptions, Outcome, Payload, Pool, PoolOptions, Request};
use forkwire::process::{Command, StdioMode};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SIZES: [&str; 3] = ["tiny", "4KB", "256KB"];
/// Socket buffers for reading and batching writes.
const BUF: usize = 64 * 1024;

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Config {
    seed_worker: PathBuf,
    /// JSON text of the 4 KB and 256 KB objects.
    objects: [String; 2],
    /// Requests per sequential run, per size.
    seq: [usize; 3],
    /// Requests per pipelined run (all in flight at once), per size.
    pipe: [usize; 3],
    concurrency: usize,
    /// Run the engine rows only (`--engine-only`, for profiling them).
    engine_only: bool,
}

impl Config {
    /// The JSON text of request `i`'s `data` for size `s`.
    fn data(&self, s: usize, i: usize) -> String {
        match s {
            0 => format!(r#"{{"task":"compute","n":{i},"tag":"bench"}}"#),
            _ => self.objects[s - 1].clone(),
        }
    }

    /// Items in the `s`-size object (for checking echoes).
    fn items(&self, s: usize) -> usize {
        match s {
            0 => 0,
            _ => serde_json::from_str::<Value>(&self.objects[s - 1])
                .map_or(0, |v| v["items"].as_array().map_or(0, Vec::len)),
        }
    }
}

/// Checks a decoded `result` against request `i` of size `s`.
fn check(s: usize, i: usize, items: usize, result: &Value) -> Result<(), Error> {
    let ok = match s {
        0 => result.as_f64() == Some((i * 2) as f64),
        _ => result["items"].as_array().map(Vec::len) == Some(items),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("wrong reply to request {i} ({})", SIZES[s]).into())
    }
}

fn parse_counts(text: &str) -> Result<[usize; 3], Error> {
    let v: Vec<usize> = text.split(',').map(str::parse).collect::<Result<_, _>>()?;
    v.try_into()
        .map_err(|_| "expected three counts: tiny,4KB,256KB".into())
}

fn config() -> Result<Config, Error> {
    let mut seed_worker = PathBuf::from("target/release/examples/seed_worker");
    let mut payloads = None;
    let mut seq = [2000, 1000, 100];
    let mut pipe = [10_000, 10_000, 500];
    let mut concurrency = 64;
    let mut engine_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--seed-worker" => seed_worker = PathBuf::from(value()?),
            "--payloads" => payloads = Some(PathBuf::from(value()?)),
            "--seq" => seq = parse_counts(&value()?)?,
            "--pipe" => pipe = parse_counts(&value()?)?,
            "--concurrency" => concurrency = value()?.parse()?,
            "--engine-only" => engine_only = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let payloads = payloads.ok_or("--payloads FILE is required")?;
    let all: Value = serde_json::from_str(&std::fs::read_to_string(&payloads)?)?;
    let text = |k: &str| -> Result<String, Error> {
        let v = all
            .get(k)
            .ok_or_else(|| format!("{k} missing in payloads"))?;
        Ok(serde_json::to_string(v)?)
    };
    Ok(Config {
        seed_worker,
        objects: [text("4KB")?, text("256KB")?],
        seq,
        pipe,
        concurrency,
        engine_only,
    })
}

// ---------------------------------------------------------------- reference

/// The echo side of a socketpair: what a good Rust worker does, the same
/// work as the seed worker's common path. It reads each request line with
/// a borrowed envelope, answers `{id, result}` (`data.n * 2`, or `data`
/// echoed as the text it came as) and writes its replies in one `write`
/// per batch of requests that arrived together.
fn echo(stream: UnixStream) -> Result<(), Error> {
    let mut reader = BufReader::with_capacity(BUF, stream.try_clone()?);
    let mut writer = stream;
    let mut out = Vec::with_capacity(BUF);
    let mut line = Vec::with_capacity(BUF);
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let msg: EchoRequest = serde_json::from_slice(&line)?;
        let n = msg
            .data
            .filter(|d| d.get().starts_with('{'))
            .and_then(|d| serde_json::from_str::<Task>(d.get()).ok())
            .and_then(|t| t.n);
        match n {
            Some(n) => serde_json::to_writer(
                &mut out,
                &EchoReply {
                    id: msg.id,
                    result: n * 2.0,
                },
            )?,
            None => serde_json::to_writer(
                &mut out,
                &EchoReply {
                    id: msg.id,
                    result: msg.data,
                },
            )?,
        }
        out.push(b'\n');
        // Flush when no complete request is waiting in the read buffer.
        if out.len() >= BUF || !reader.buffer().contains(&b'\n') {
            writer.write_all(&out)?;
            out.clear();
        }
    }
    if !out.is_empty() {
        writer.write_all(&out)?;
    }
    Ok(())
}

#[derive(serde::Deserialize)]
struct EchoRequest<'a> {
    #[serde(borrow)]
    id: &'a RawValue,
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

#[derive(serde::Deserialize)]
struct Task {
    n: Option<f64>,
}

#[derive(serde::Serialize)]
struct EchoReply<'a, R> {
    id: &'a RawValue,
    result: R,
}

#[derive(serde::Deserialize)]
struct Reply {
    id: usize,
    result: Value,
}

/// The calling thread's CPU affinity.
fn affinity() -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set);
        set
    }
}

fn set_affinity(set: &libc::cpu_set_t) {
    // SAFETY: pid 0 is the calling thread; the set is a valid cpu_set_t.
    unsafe {
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set);
    }
}

/// A set holding only the CPU the calling thread runs on now.
fn this_cpu() -> libc::cpu_set_t {
    // SAFETY: as above; sched_getcpu has no memory effects.
    unsafe {
        let cpu = libc::sched_getcpu().max(0) as usize;
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    }
}

/// One in flight: p50 and p99 round trip in µs. With `pin`, the client and
/// the echo thread run on one CPU (a hand-off without a cross-CPU wake-up:
/// the kernel's best case for a round trip).
fn socket_sequential(cfg: &Config, s: usize, n: usize, pin: bool) -> Result<(f64, f64), Error> {
    let (client, server) = UnixStream::pair()?;
    let items = cfg.items(s);
    let saved = affinity();
    let one = this_cpu();
    if pin {
        set_affinity(&one);
    }
    let result = std::thread::scope(|scope| -> Result<(f64, f64), Error> {
        let server = scope.spawn(move || {
            if pin {
                set_affinity(&one);
            }
            echo(server)
        });
        let mut reader = BufReader::with_capacity(BUF, client.try_clone()?);
        let mut writer = &client;
        let mut line = Vec::with_capacity(BUF);
        let mut lat = Vec::with_capacity(n);
        for i in 0..n {
            let start = Instant::now();
            let request = format!("{{\"id\":{i},\"data\":{}}}\n", cfg.data(s, i));
            writer.write_all(request.as_bytes())?;
            line.clear();
            reader.read_until(b'\n', &mut line)?;
            let reply: Reply = serde_json::from_slice(&line)?;
            lat.push(start.elapsed());
            if reply.id != i {
                return Err("reply out of order".into());
            }
            check(s, i, items, &reply.result)?;
        }
        client.shutdown(std::net::Shutdown::Both)?;
        server.join().map_err(|_| "echo thread panicked")??;
        Ok(percentiles(lat))
    });
    if pin {
        set_affinity(&saved);
    }
    result
}

/// `n` requests in flight over `pairs` socketpairs: requests per second.
fn socket_pipelined(cfg: &Config, s: usize, n: usize, pairs: usize) -> Result<f64, Error> {
    let items = cfg.items(s);
    let mut ends = Vec::new();
    for _ in 0..pairs {
        ends.push(UnixStream::pair()?);
    }
    std::thread::scope(|scope| -> Result<f64, Error> {
        let mut servers = Vec::new();
        let mut clients = Vec::new();
        for (client, server) in ends {
            servers.push(scope.spawn(move || echo(server)));
            clients.push(client);
        }
        let start = Instant::now();
        let mut readers = Vec::new();
        for (p, client) in clients.iter().enumerate() {
            // Request ids p, p + pairs, p + 2 * pairs, ... go to pair p.
            let ids: Vec<usize> = (p..n).step_by(pairs).collect();
            let writer_end = client.try_clone()?;
            let sent = ids.clone();
            scope.spawn(move || -> Result<(), Error> {
                let mut w = BufWriter::with_capacity(BUF, &writer_end);
                for i in sent {
                    writeln!(w, "{{\"id\":{i},\"data\":{}}}", cfg.data(s, i))?;
                }
                w.flush()?;
                Ok(())
            });
            let reader_end = client.try_clone()?;
            readers.push(scope.spawn(move || -> Result<(), Error> {
                let mut r = BufReader::with_capacity(BUF, reader_end);
                let mut line = Vec::with_capacity(BUF);
                for _ in 0..ids.len() {
                    line.clear();
                    r.read_until(b'\n', &mut line)?;
                    let reply: Reply = serde_json::from_slice(&line)?;
                    check(s, reply.id, items, &reply.result)?;
                }
                Ok(())
            }));
        }
        for r in readers {
            r.join().map_err(|_| "reader panicked")??;
        }
        let elapsed = start.elapsed();
        for c in &clients {
            c.shutdown(std::net::Shutdown::Both)?;
        }
        for s in servers {
            s.join().map_err(|_| "echo thread panicked")??;
        }
        Ok(n as f64 / elapsed.as_secs_f64())
    })
}

// ---------------------------------------------------------------- engine

fn pool(cfg: &Config, size: usize) -> Result<Pool, Error> {
    let mut command = Command::new(&cfg.seed_worker);
    command.stdio(StdioMode::Inherit);
    let mut options = PoolOptions::new(command);
    options.size = size;
    options.concurrency = cfg.concurrency;
    Ok(Pool::new(options).map_err(|e| format!("{e:?}"))?)
}

/// Decodes and checks an outcome (what a caller of the engine does with it).
fn settled(cfg_items: usize, s: usize, i: usize, outcome: Outcome) -> Result<(), Error> {
    match outcome {
        Outcome::Result {
            result: Payload::Json(Some(text)),
            ..
        } => {
            let result: Value = serde_json::from_str(&text)?;
            check(s, i, cfg_items, &result)
        }
        other => Err(format!("request {i} did not succeed: {other:?}").into()),
    }
}

fn submit(pool: &Pool, data: String, done: impl FnOnce(Outcome) + Send + 'static) {
    pool.submit(Request::json(pool.next_id(), data, done));
}

fn engine_sequential(cfg: &Config, pool: &Pool, s: usize, n: usize) -> Result<(f64, f64), Error> {
    let items = cfg.items(s);
    let (tx, rx) = crossbeam_channel::bounded(1);
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let start = Instant::now();
        let tx = tx.clone();
        submit(pool, cfg.data(s, i), move |outcome| {
            let _ = tx.send(outcome);
        });
        let outcome = rx.recv()?;
        settled(items, s, i, outcome)?;
        lat.push(start.elapsed());
    }
    Ok(percentiles(lat))
}

fn engine_pipelined(cfg: &Config, pool: &Pool, s: usize, n: usize) -> Result<f64, Error> {
    let items = cfg.items(s);
    let (tx, rx) = crossbeam_channel::bounded::<Result<(), String>>(1);
    let left = Arc::new(AtomicUsize::new(n));
    let start = Instant::now();
    for i in 0..n {
        let left = Arc::clone(&left);
        let tx = tx.clone();
        submit(pool, cfg.data(s, i), move |outcome| {
            if let Err(e) = settled(items, s, i, outcome) {
                let _ = tx.try_send(Err(e.to_string()));
            }
            if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                let _ = tx.try_send(Ok(()));
            }
        });
    }
    rx.recv_timeout(Duration::from_secs(120))??;
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

// ---------------------------------------------------------------- main

/// Nearest-rank p50 and p99, in µs.
fn percentiles(mut lat: Vec<Duration>) -> (f64, f64) {
    lat.sort_unstable();
    let at = |p: f64| {
        let rank = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len());
        lat[rank - 1].as_secs_f64() * 1e6
    };
    (at(0.50), at(0.99))
}

/// A smaller run of the same shape, to warm up.
fn warm(n: usize) -> usize {
    (n / 5).max(5)
}

fn run() -> Result<Value, Error> {
    let cfg = config()?;
    let mut out = json!({
        "socketpair": { "sequential": {}, "sequential_pinned": {}, "pipelined1": {}, "pipelined2": {} },
        "engine": { "sequential": {}, "pipelined1": {}, "pipelined2": {} },
    });
    // A count of 0 skips that measurement (run.js does so for the 256 KB
    // size in the rounds past its last).
    for (s, name) in SIZES.iter().enumerate().filter(|_| !cfg.engine_only) {
        if cfg.seq[s] > 0 {
            for (pin, key) in [(false, "sequential"), (true, "sequential_pinned")] {
                socket_sequential(&cfg, s, warm(cfg.seq[s]), pin)?;
                let (p50, p99) = socket_sequential(&cfg, s, cfg.seq[s], pin)?;
                out["socketpair"][key][name] = json!({ "p50": p50, "p99": p99 });
            }
        }
        if cfg.pipe[s] > 0 {
            for pairs in [1, 2] {
                socket_pipelined(&cfg, s, warm(cfg.pipe[s]), pairs)?;
                let rps = socket_pipelined(&cfg, s, cfg.pipe[s], pairs)?;
                out["socketpair"][format!("pipelined{pairs}")][name] = json!(rps);
            }
        }
    }
    for size in [1, 2] {
        let pool = pool(&cfg, size)?;
        for (s, name) in SIZES.iter().enumerate() {
            if size == 1 && cfg.seq[s] > 0 {
                engine_sequential(&cfg, &pool, s, warm(cfg.seq[s]))?;
                let (p50, p99) = engine_sequential(&cfg, &pool, s, cfg.seq[s])?;
                out["engine"]["sequential"][name] = json!({ "p50": p50, "p99": p99 });
            }
            if cfg.pipe[s] > 0 {
                engine_pipelined(&cfg, &pool, s, warm(cfg.pipe[s]))?;
                let rps = engine_pipelined(&cfg, &pool, s, cfg.pipe[s])?;
                out["engine"][format!("pipelined{size}")][name] = json!(rps);
            }
        }
        pool.close(CloseOptions::default());
    }
    Ok(out)
}

fn main() {
    match run() {
        Ok(out) => println!("{out}"),
        Err(e) => {
            eprintln!("bench_native: {e}");
            std::process::exit(1);
        }
    }
}
