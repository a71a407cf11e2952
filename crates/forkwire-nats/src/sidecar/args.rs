//! `forkwire-sidecar`'s command line.

use super::SidecarOptions;
use crate::connect::NatsOptions;
use forkwire::pool::{Heartbeat, PoolOptions};
use forkwire::Command;
use std::path::PathBuf;
use std::time::Duration;

/// The usage text.
pub const USAGE: &str = "\
forkwire-sidecar: serve a host's forked workers to NATS as a micro service

usage: forkwire-sidecar --service NAME [options] -- WORKER [ARGS...]

WORKER is a program (a Rust worker) or a .js/.mjs/.cjs script (run with
node), forked with a json-mode IPC channel as Node's fork() does.

  --nats URL[,URL]      NATS servers (env NATS_URL; default nats://127.0.0.1:4222)
  --creds FILE          credentials file (env NATS_CREDS)
  --user U --password P user and password (env NATS_USER, NATS_PASSWORD)
  --token T             token (env NATS_TOKEN)
  --nkey SEED           nkey seed (env NATS_NKEY)
  --tls-ca FILE         CA of the servers' certificates (env NATS_CA)
  --tls-cert FILE --tls-key FILE   client certificate (env NATS_CERT, NATS_KEY)
  --require-tls         insist on TLS
  --service NAME        the service name (letters, digits, '-', '_')
  --service-version V   the version discovery reports (default 0.0.0)
  --description TEXT    what the service does, for $SRV.INFO
  --size N              workers (default: the number of CPUs)
  --concurrency N       requests in flight per worker (default 1)
  --max-in-flight N     requests held at most; more are answered busy and
                        sent elsewhere by the client (default 64 per worker)
  --timeout MS          timeout of requests that come without one
  --heartbeat MS        ping workers every MS; replace one silent 3 times as long
  --max-tasks N         replace a worker after N requests
  --drain-timeout MS    on SIGTERM, wait this long for held requests (default 30000)
  --help                this text

On SIGTERM or SIGINT the sidecar drains: it stops taking requests, finishes
those it holds, stops its workers and exits.
";

/// Reads the command line (without the program name). `Err` carries what
/// to print: the usage for `--help`, else the mistake.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<SidecarOptions, String> {
    let mut args = args.into_iter();
    let mut nats = NatsOptions::default();
    let mut service = None;
    let mut version = "0.0.0".to_string();
    let mut description = String::new();
    let mut size = None;
    let mut concurrency = 1usize;
    let mut max_in_flight = None;
    let mut timeout = None;
    let mut heartbeat = None;
    let mut max_tasks = None;
    let mut drain_timeout = Duration::from_secs(30);
    let mut password = None;
    let mut tls_cert = None;
    let mut tls_key = None;
    let mut worker = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--help" | "-h" => return Err(USAGE.to_string()),
            "--nats" => nats
                .servers
                .extend(value()?.split(',').map(|s| s.trim().to_string())),
            "--creds" => nats.credentials = Some(value()?.into()),
            "--user" => nats.user = Some((value()?, String::new())),
            "--password" => password = Some(value()?),
            "--token" => nats.token = Some(value()?),
            "--nkey" => nats.nkey = Some(value()?),
            "--tls-ca" => nats.tls_ca.push(value()?.into()),
            "--tls-cert" => tls_cert = Some(PathBuf::from(value()?)),
            "--tls-key" => tls_key = Some(PathBuf::from(value()?)),
            "--require-tls" => nats.require_tls = true,
            "--service" => service = Some(value()?),
            "--service-version" => version = value()?,
            "--description" => description = value()?,
            "--size" => size = Some(number(&arg, &value()?)?),
            "--concurrency" => concurrency = number(&arg, &value()?)?,
            "--max-in-flight" => max_in_flight = Some(number(&arg, &value()?)?),
            "--timeout" => timeout = Some(millis(&arg, &value()?)?),
            "--heartbeat" => heartbeat = Some(millis(&arg, &value()?)?),
            "--max-tasks" => max_tasks = Some(number(&arg, &value()?)? as u64),
            "--drain-timeout" => drain_timeout = millis(&arg, &value()?)?,
            "--" => {
                worker.extend(args.by_ref());
                break;
            }
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    if let Some((user, _)) = nats.user.take() {
        let password = password.ok_or("--user needs --password")?;
        nats.user = Some((user, password));
    }
    match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => nats.tls_client = Some((cert, key)),
        (None, None) => {}
        _ => return Err("--tls-cert and --tls-key go together".into()),
    }
    let service = service.ok_or("--service is required (see --help)")?;
    crate::protocol::check_service_name(&service)?;
    let mut worker = worker.into_iter();
    let program = worker
        .next()
        .ok_or("no worker: give it after -- (see --help)")?;
    let mut command = if [".js", ".mjs", ".cjs"]
        .iter()
        .any(|ext| program.ends_with(ext))
    {
        Command::node(&program)
    } else {
        Command::new(&program)
    };
    command.args(worker);
    let mut pool = PoolOptions::new(command);
    if let Some(size) = size {
        pool.size = size;
    }
    pool.concurrency = concurrency;
    pool.timeout = timeout;
    pool.max_tasks_per_worker = max_tasks;
    pool.heartbeat = heartbeat.map(|interval| Heartbeat {
        interval,
        timeout: interval * 3,
    });
    let max_in_flight = max_in_flight.unwrap_or(pool.size * concurrency * 64);
    nats.name = Some(format!("forkwire-sidecar {service}"));
    Ok(SidecarOptions {
        nats: nats.with_env(),
        service,
        version,
        description,
        pool,
        max_in_flight,
        drain_timeout,
    })
}

fn number(flag: &str, text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{flag} takes a whole number above 0 (got {text:?})"
        )),
    }
}

fn millis(flag: &str, text: &str) -> Result<Duration, String> {
    number(flag, text).map(|ms| Duration::from_millis(ms as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<SidecarOptions, String> {
        parse(line.split_whitespace().map(String::from))
    }

    #[test]
    fn a_full_command_line_is_read() {
        let o = parse_line(
            "--nats nats://a:1,nats://b:2 --service resize --size 3 --concurrency 2 \
             --timeout 500 --heartbeat 100 --user u --password p -- ./worker --fast",
        )
        .unwrap();
        assert_eq!(o.nats.servers, ["nats://a:1", "nats://b:2"]);
        assert_eq!(o.service, "resize");
        assert_eq!((o.pool.size, o.pool.concurrency), (3, 2));
        assert_eq!(o.max_in_flight, 3 * 2 * 64);
        assert_eq!(o.pool.timeout, Some(Duration::from_millis(500)));
        assert_eq!(
            o.pool.heartbeat.unwrap().timeout,
            Duration::from_millis(300)
        );
        assert_eq!(o.nats.user, Some(("u".into(), "p".into())));
    }

    #[test]
    fn mistakes_are_named() {
        for (line, says) in [
            ("-- ./w", "--service"),
            ("--service a.b -- ./w", "service name"),
            ("--service s", "no worker"),
            ("--service s --size 0 -- ./w", "--size"),
            ("--service s --user u -- ./w", "--password"),
            ("--service s --tls-cert c -- ./w", "--tls-key"),
            ("--service s --bogus -- ./w", "unknown option"),
            ("--service", "needs a value"),
        ] {
            let err = parse_line(line).err().unwrap_or_default();
            assert!(err.contains(says), "{line:?} gave {err:?}");
        }
        assert!(parse_line("--help")
            .err()
            .unwrap()
            .starts_with("forkwire-sidecar"));
    }
}
