//! The end-to-end load harness: N concurrent HTTPS clients through a real
//! `portcullis` process against a local origin, beside the same load sent
//! directly to the origin, in the same run.
//!
//! ```text
//! cargo build --release -p portcullis
//! cargo run --release -p portcullis-benches --bin load -- --proxy-bin target/release/portcullis
//! cargo run --release -p portcullis-benches --bin load -- --inspect --keepalive-only --body 1048576
//! ```
//!
//! Prints requests/s, p50/p99 latency and — from the proxy process's own
//! CPU time (/proc/PID/stat) — proxy CPU µs per request, for keep-alive
//! HTTP/1.1 requests and for a new intercepted connection per request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use portcullis_tests::client::{connect, tls_config};
use portcullis_tests::h3client::H3Client;
use portcullis_tests::{Origin, OriginOptions, TestPki};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Load harness options.
#[derive(Debug, Parser)]
struct Args {
    /// The portcullis binary to measure (build it with --release).
    #[arg(long, default_value = "target/release/portcullis")]
    proxy_bin: PathBuf,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds per phase.
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    /// Request body bytes (POST /reply: the origin reads the body and sends it
    /// back with a Content-Length, as API servers answer).
    #[arg(long, default_value_t = 1024)]
    body: usize,
    /// Extra TOML appended to the proxies' configuration.
    #[arg(long)]
    extra_config: Option<PathBuf>,
    /// Also run a second proxy whose policy scans every request and response
    /// with the built-in DLP pack, measured beside plain interception.
    #[arg(long)]
    inspect: bool,
    /// Only the keep-alive phases.
    #[arg(long)]
    keepalive_only: bool,
    /// Also measure HTTP/3 interception (QUIC listener in `intercept` mode,
    /// reached directly), beside TCP interception by the same process.
    #[arg(long)]
    h3: bool,
}

#[derive(Clone)]
struct Target {
    via_proxy: Option<SocketAddr>,
    /// Speak HTTP/3 to this QUIC listener instead of TCP.
    h3: Option<SocketAddr>,
    origin: SocketAddr,
    root: CertificateDer<'static>,
    body: Bytes,
}

struct PhaseResult {
    requests: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
    errors: u64,
}

/// A `portcullis run` child process under measurement.
struct ProxyProcess {
    child: Child,
    addr: SocketAddr,
    ca: CertificateDer<'static>,
    _dir: tempfile::TempDir,
}

impl ProxyProcess {
    async fn start(bin: &PathBuf, pki: &TestPki, origin: &Origin, extra: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let port = free_port()?;
        let config = dir.path().join("bench.toml");
        std::fs::write(
            &config,
            format!(
                "[proxy]\nlisten = \"127.0.0.1:{port}\"\n[admin]\nlisten = \"off\"\n\
                 [upstream]\nextra_roots = [{root:?}]\nsystem_roots = false\nallow_private = true\n\
                 connect_ports = [{oport}]\nresolve = {{ \"origin.bench\" = [\"127.0.0.1\"] }}\n\
                 [log]\naccess = {log:?}\nincidents = {log:?}\nlevel = \"warn\"\n{extra}",
                root = pki.root_pem.display().to_string(),
                oport = origin.port(),
                log = dir.path().join("access.log").display().to_string(),
            ),
        )?;
        let data_dir = dir.path().join("data");
        let mut child = Command::new(bin)
            .args(["run", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data_dir)
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        wait_listening(addr, &mut child).await?;
        let ca = rustls_pki_types_from_pem(&std::fs::read(data_dir.join("ca.pem"))?)?;
        Ok(Self {
            child,
            addr,
            ca,
            _dir: dir,
        })
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The policy of `--inspect`: every request to the origin is scanned with the
/// whole built-in DLP pack (uploads held, responses streamed).
const INSPECT_POLICY: &str = "version: 1
default: {action: allow}
dlp_profiles:
  all: {detectors: [], min_count: 1, action: block, severity: high}
rules:
  - id: scan-everything
    when: {host: origin.bench}
    action: allow
    dlp_profile: all
";

/// `len` bytes of log-like text without secrets (what DLP scans in practice).
fn text_body(len: usize) -> Bytes {
    const LINE: &[u8] =
        b"2026-11-23T08:00:00Z INFO user=alice action=view path=/reports/q3 status=200 ms=12\n";
    Bytes::from((0..len).map(|i| LINE[i % LINE.len()]).collect::<Vec<u8>>())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    certs::install_process_provider();
    let pki = TestPki::new();
    let mut options = OriginOptions::new("origin.bench");
    options.alpn = vec![b"http/1.1".to_vec()];
    let origin = Origin::start(&pki, options).await;
    let extra = match &args.extra_config {
        Some(p) => std::fs::read_to_string(p).with_context(|| p.display().to_string())?,
        None => String::new(),
    };
    let quic_addr = if args.h3 {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
        Some(socket.local_addr()?)
    } else {
        None
    };
    let plain_extra = match quic_addr {
        Some(addr) => format!(
            "{extra}\n[quic]\nlisten = \"{addr}\"\naction = \"intercept\"\nupstream_port = {}\n",
            origin.port()
        ),
        None => extra.clone(),
    };
    let plain = ProxyProcess::start(&args.proxy_bin, &pki, &origin, &plain_extra).await?;
    let policy_dir = tempfile::tempdir()?;
    let inspected = if args.inspect {
        let policy = policy_dir.path().join("policy.yaml");
        std::fs::write(&policy, INSPECT_POLICY)?;
        let extra = format!(
            "{extra}\n[policy]\nfile = {:?}\n",
            policy.display().to_string()
        );
        Some(ProxyProcess::start(&args.proxy_bin, &pki, &origin, &extra).await?)
    } else {
        None
    };
    let body = text_body(args.body);
    let target = |proxy: Option<&ProxyProcess>| Target {
        via_proxy: proxy.map(|p| p.addr),
        h3: None,
        origin: origin.addr,
        root: proxy.map_or_else(|| pki.root_der(), |p| p.ca.clone()),
        body: body.clone(),
    };
    let direct = target(None);
    let mut phases: Vec<(&str, Target, bool, Option<u32>)> = vec![
        ("direct keep-alive", direct.clone(), true, None),
        (
            "intercepted keep-alive",
            target(Some(&plain)),
            true,
            Some(plain.child.id()),
        ),
    ];
    if let Some(addr) = quic_addr {
        let mut h3 = target(Some(&plain));
        h3.h3 = Some(addr);
        phases.push((
            "intercepted HTTP/3 keep-alive",
            h3,
            true,
            Some(plain.child.id()),
        ));
    }
    if let Some(p) = &inspected {
        phases.push((
            "intercepted+policy+DLP keep-alive",
            target(Some(p)),
            true,
            Some(p.child.id()),
        ));
    }
    if !args.keepalive_only {
        phases.push(("direct new connection", direct.clone(), false, None));
        phases.push((
            "intercepted new connection",
            target(Some(&plain)),
            false,
            Some(plain.child.id()),
        ));
    }
    // Warm up: mint the leaves, fill pools.
    for (_, t, _, pid) in &phases {
        if pid.is_some() {
            run_phase(t, 1, Duration::from_millis(500), true).await;
        }
    }
    let d = Duration::from_secs(args.seconds);
    println!(
        "load: {} clients, {} s per phase, POST {} B text bodies (echoed), HTTP/1.1",
        args.clients, args.seconds, args.body
    );
    println!(
        "{:<36} {:>9} {:>9} {:>9} {:>13} {:>16} {:>7}",
        "phase", "req/s", "p50 µs", "p99 µs", "proxy CPU µs", "MB/s per core", "errors"
    );
    for (name, target, keepalive, pid) in &phases {
        let cpu_before = match pid {
            Some(pid) => cpu_time(*pid)?,
            None => Duration::ZERO,
        };
        let r = run_phase(target, args.clients, d, *keepalive).await;
        let cpu = match pid {
            Some(pid) => cpu_time(*pid)?.saturating_sub(cpu_before),
            None => Duration::ZERO,
        };
        let (cpu_per, per_core) = if pid.is_some() && r.requests > 0 && !cpu.is_zero() {
            let bytes = r.requests as f64 * 2.0 * target.body.len() as f64;
            (
                format!("{:.1}", cpu.as_secs_f64() * 1e6 / r.requests as f64),
                format!("{:.0}", bytes / cpu.as_secs_f64() / 1e6),
            )
        } else {
            ("-".into(), "-".into())
        };
        let (p50, p99) = percentiles(r.latencies);
        println!(
            "{:<36} {:>9.0} {:>9} {:>9} {:>13} {:>16} {:>7}",
            name,
            r.requests as f64 / r.elapsed.as_secs_f64(),
            p50.as_micros(),
            p99.as_micros(),
            cpu_per,
            per_core,
            r.errors
        );
    }
    Ok(())
}

fn rustls_pki_types_from_pem(pem: &[u8]) -> Result<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem).context("CA PEM")
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_listening(addr: SocketAddr, child: &mut Child) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            bail!("proxy exited: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("proxy did not listen on {addr}")
}

/// utime + stime of a process, from /proc/PID/stat (USER_HZ = 100 on Linux).
fn cpu_time(pid: u32) -> Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').context("stat format")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}

fn percentiles(mut l: Vec<Duration>) -> (Duration, Duration) {
    if l.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    l.sort_unstable();
    (l[l.len() / 2], l[(l.len() * 99 / 100).min(l.len() - 1)])
}

async fn run_phase(
    target: &Target,
    clients: usize,
    duration: Duration,
    keepalive: bool,
) -> PhaseResult {
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let target = target.clone();
            tokio::spawn(async move { client_loop(target, deadline, keepalive).await })
        })
        .collect();
    let mut result = PhaseResult {
        requests: 0,
        elapsed: Duration::ZERO,
        latencies: Vec::new(),
        errors: 0,
    };
    for t in tasks {
        if let Ok((lat, errors)) = t.await {
            result.requests += lat.len() as u64;
            result.latencies.extend(lat);
            result.errors += errors;
        }
    }
    result.elapsed = start.elapsed();
    result
}

type Sender = http1::SendRequest<Full<Bytes>>;

async fn open(target: &Target) -> Result<Sender> {
    let tcp = match target.via_proxy {
        Some(proxy) => {
            let (head, tcp) =
                connect(proxy, &format!("origin.bench:{}", target.origin.port())).await;
            if !head.starts_with("HTTP/1.1 200") {
                bail!("CONNECT: {head}");
            }
            tcp
        }
        None => TcpStream::connect(target.origin).await?,
    };
    tcp.set_nodelay(true)?;
    let tls = TlsConnector::from(tls_config(target.root.clone(), &[b"http/1.1"]))
        .connect(ServerName::try_from("origin.bench")?, tcp)
        .await?;
    let (sender, conn) = http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn one_request(sender: &mut Sender, target: &Target) -> Result<()> {
    sender.ready().await?;
    let req = http::Request::post("/reply")
        .header("host", format!("origin.bench:{}", target.origin.port()))
        .body(Full::new(target.body.clone()))?;
    let resp = sender.send_request(req).await?;
    let body = resp.into_body().collect().await?.to_bytes();
    if body.len() != target.body.len() {
        bail!("short body");
    }
    Ok(())
}

/// One HTTP/3 client: a QUIC connection kept for the whole phase.
async fn h3_client_loop(
    target: Target,
    addr: SocketAddr,
    deadline: Instant,
) -> (Vec<Duration>, u64) {
    let mut latencies = Vec::new();
    let mut errors = 0;
    let url = format!("https://origin.bench:{}/reply", target.origin.port());
    let mut client = match H3Client::connect(addr, "origin.bench", target.root.clone()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("first error: {e}");
            return (latencies, 1);
        }
    };
    while Instant::now() < deadline {
        let t = Instant::now();
        match client.request("POST", &url, target.body.clone()).await {
            Ok(r) if r.status == 200 && r.body.len() == target.body.len() => {
                latencies.push(t.elapsed())
            }
            Ok(r) => {
                if errors == 0 {
                    eprintln!("first error: status {} body {} B", r.status, r.body.len());
                }
                errors += 1;
            }
            Err(e) => {
                if errors == 0 {
                    eprintln!("first error: {e}");
                }
                errors += 1;
            }
        }
    }
    client.close();
    (latencies, errors)
}

async fn client_loop(target: Target, deadline: Instant, keepalive: bool) -> (Vec<Duration>, u64) {
    if let Some(addr) = target.h3 {
        return h3_client_loop(target, addr, deadline).await;
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut sender: Option<Sender> = None;
    while Instant::now() < deadline {
        let t = Instant::now();
        let outcome = async {
            let mut s = match sender.take() {
                Some(s) if keepalive => s,
                _ => open(&target).await?,
            };
            one_request(&mut s, &target).await?;
            if keepalive {
                sender = Some(s);
            }
            anyhow::Ok(())
        }
        .await;
        match outcome {
            Ok(()) => latencies.push(t.elapsed()),
            Err(e) => {
                if errors == 0 {
                    eprintln!("first error: {e:#}");
                }
                errors += 1
            }
        }
    }
    (latencies, errors)
}
