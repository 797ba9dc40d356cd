//! The end-to-end load harness: N concurrent HTTPS clients through a real
//! `portcullis` process against a local origin, beside the same load sent
//! directly to the origin, in the same run.
//!
//! ```text
//! cargo build --release -p portcullis
//! cargo run --release -p portcullis-benches --bin load -- --proxy-bin target/release/portcullis
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
    /// Request body bytes (POST /echo; the response echoes it).
    #[arg(long, default_value_t = 1024)]
    body: usize,
    /// Extra TOML appended to the proxy's configuration (e.g. policy and DLP sections).
    #[arg(long)]
    extra_config: Option<PathBuf>,
}

#[derive(Clone)]
struct Target {
    via_proxy: Option<SocketAddr>,
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

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    certs::install_process_provider();
    let pki = TestPki::new();
    let mut options = OriginOptions::new("origin.bench");
    options.alpn = vec![b"http/1.1".to_vec()];
    let origin = Origin::start(&pki, options).await;
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let extra = match &args.extra_config {
        Some(p) => std::fs::read_to_string(p).with_context(|| p.display().to_string())?,
        None => String::new(),
    };
    let config = dir.path().join("bench.toml");
    std::fs::write(
        &config,
        format!(
            "[proxy]\nlisten = \"127.0.0.1:{port}\"\n[admin]\nlisten = \"off\"\n\
             [upstream]\nextra_roots = [{root:?}]\nsystem_roots = false\nallow_private = true\n\
             connect_ports = [{oport}]\nresolve = {{ \"origin.bench\" = [\"127.0.0.1\"] }}\n\
             [log]\naccess = {log:?}\nlevel = \"warn\"\n{extra}",
            root = pki.root_pem.display().to_string(),
            oport = origin.port(),
            log = dir.path().join("access.log").display().to_string(),
        ),
    )?;
    let data_dir = dir.path().join("data");
    let mut child = Command::new(&args.proxy_bin)
        .args(["run", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data_dir)
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", args.proxy_bin.display()))?;
    let proxy_addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    wait_listening(proxy_addr, &mut child).await?;
    let ca_pem = std::fs::read(data_dir.join("ca.pem"))?;
    let ca = rustls_pki_types_from_pem(&ca_pem)?;
    let body = Bytes::from(portcullis_tests::pattern(args.body));
    let direct = Target {
        via_proxy: None,
        origin: origin.addr,
        root: pki.root_der(),
        body: body.clone(),
    };
    let proxied = Target {
        via_proxy: Some(proxy_addr),
        origin: origin.addr,
        root: ca,
        body,
    };
    // Warm up: mint the leaf, fill pools.
    run_phase(&proxied, 1, Duration::from_millis(500), true).await;
    let d = Duration::from_secs(args.seconds);
    println!(
        "load: {} clients, {} s per phase, POST {} B bodies (echoed), HTTP/1.1",
        args.clients, args.seconds, args.body
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>14} {:>7}",
        "phase", "req/s", "p50 µs", "p99 µs", "proxy CPU µs", "errors"
    );
    for (name, target, keepalive) in [
        ("direct keep-alive", &direct, true),
        ("intercepted keep-alive", &proxied, true),
        ("direct new connection", &direct, false),
        ("intercepted new connection", &proxied, false),
    ] {
        let cpu_before = cpu_time(child.id())?;
        let r = run_phase(target, args.clients, d, keepalive).await;
        let cpu = cpu_time(child.id())?.saturating_sub(cpu_before);
        let cpu_per = if target.via_proxy.is_some() && r.requests > 0 {
            format!("{:.1}", cpu.as_secs_f64() * 1e6 / r.requests as f64)
        } else {
            "-".into()
        };
        let (p50, p99) = percentiles(r.latencies);
        println!(
            "{:<34} {:>10.0} {:>10} {:>10} {:>14} {:>7}",
            name,
            r.requests as f64 / r.elapsed.as_secs_f64(),
            p50.as_micros(),
            p99.as_micros(),
            cpu_per,
            r.errors
        );
    }
    let _ = child.kill();
    let _ = child.wait();
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
    let req = http::Request::post("/echo")
        .header("host", format!("origin.bench:{}", target.origin.port()))
        .body(Full::new(target.body.clone()))?;
    let resp = sender.send_request(req).await?;
    let body = resp.into_body().collect().await?.to_bytes();
    if body.len() != target.body.len() {
        bail!("short body");
    }
    Ok(())
}

async fn client_loop(target: Target, deadline: Instant, keepalive: bool) -> (Vec<Duration>, u64) {
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
