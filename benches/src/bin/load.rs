//! The end-to-end load harness: N concurrent HTTPS clients through a real
//! `portcullis` process against a local origin, beside the same load sent
//! directly to the origin, in the same run.
//!
//! ```text
//! cargo build --release -p portcullis
//! cargo run --release -p portcullis-benches --bin load -- --proxy-bin target/release/portcullis
//! cargo run --release -p portcullis-benches --bin load -- --inspect --keepalive-only --body 1048576
//! cargo run --release -p portcullis-benches --bin load -- --transparent   # as root
//! ```
//!
//! With `--transparent` the harness builds client, gateway and origin
//! network namespaces (like the transparent tests), runs one proxy in the
//! gateway with both its explicit listener and a REDIRECT transparent
//! listener, and measures the same clients through each: explicit CONNECT
//! to the gateway versus plain connections to the origin's address that
//! iptables hands to the proxy.
//!
//! Prints requests/s, p50/p99 latency and — from the proxy process's own
//! CPU time (/proc/PID/stat) — proxy CPU µs per request, for keep-alive
//! HTTP/1.1 requests and for a new intercepted connection per request.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use portcullis_tests::client::{connect, provider_offering, tls_config_with};
use portcullis_tests::h3client::H3Client;
use portcullis_tests::{Origin, OriginOptions, TestPki};
use rustls::crypto::CryptoProvider;
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
    /// Total requests per second to offer (0: as fast as the clients can go).
    /// A fixed rate compares modes at equal load: CPU per request depends on
    /// how many requests each wake-up of the proxy finds.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Also measure HTTP/3 interception (QUIC listener in `intercept` mode,
    /// reached directly), beside TCP interception by the same process.
    #[arg(long)]
    h3: bool,
    /// Compare the transparent gateway with explicit mode, in network
    /// namespaces (needs root, iproute2 and iptables).
    #[arg(long)]
    transparent: bool,
    /// Also measure a blind tunnel (the origin's host in
    /// `inspection.bypass`): the same binary relaying TLS bytes without
    /// terminating them — the floor any intercepting proxy sits above on
    /// this machine.
    #[arg(long)]
    tunnel: bool,
    /// TCP clients offer only classical X25519 key exchange (as curl with
    /// OpenSSL 3.0 does) instead of the post-quantum hybrid browsers offer
    /// (the `--h3` clients keep the hybrid).
    #[arg(long)]
    classical_clients: bool,
}

/// The crypto provider of the load's TCP clients: X25519 only with
/// `--classical-clients`, else the process's (hybrid first).
fn client_provider(args: &Args) -> Arc<CryptoProvider> {
    if args.classical_clients {
        provider_offering(&[rustls::NamedGroup::X25519])
    } else {
        certs::provider()
    }
}

#[derive(Clone)]
struct Target {
    via_proxy: Option<SocketAddr>,
    /// Speak HTTP/3 to this QUIC listener instead of TCP.
    h3: Option<SocketAddr>,
    origin: SocketAddr,
    root: CertificateDer<'static>,
    /// What the TLS clients offer.
    provider: Arc<CryptoProvider>,
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

fn main() -> Result<()> {
    let args = Args::parse();
    certs::install_process_provider();
    if args.transparent {
        if args.tunnel {
            bail!("--tunnel is measured in explicit mode only (not with --transparent)");
        }
        return transparent::main(&args);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(explicit_main(args))
}

async fn explicit_main(args: Args) -> Result<()> {
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
    let tunnel = if args.tunnel {
        let extra = format!("{extra}\n[inspection]\nbypass = [\"origin.bench\"]\n");
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
        provider: client_provider(&args),
        body: body.clone(),
    };
    let direct = target(None);
    let mut phases: Vec<(&str, Target, bool, Option<u32>)> =
        vec![("direct keep-alive", direct.clone(), true, None)];
    // The client sees the origin's own certificate through a tunnel.
    let blind = tunnel.as_ref().map(|p| {
        let mut blind = target(Some(p));
        blind.root = pki.root_der();
        (blind, p.child.id())
    });
    if let Some((blind, pid)) = &blind {
        phases.push(("blind tunnel keep-alive", blind.clone(), true, Some(*pid)));
    }
    phases.extend([(
        "intercepted keep-alive",
        target(Some(&plain)),
        true,
        Some(plain.child.id()),
    )]);
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
        if let Some((blind, pid)) = blind {
            phases.push(("blind tunnel new connection", blind, false, Some(pid)));
        }
        phases.push((
            "intercepted new connection",
            target(Some(&plain)),
            false,
            Some(plain.child.id()),
        ));
    }
    measure(&args, &phases).await
}

/// One phase: its name, where the clients go, keep-alive or a new connection
/// per request, and the proxy process whose CPU time is measured.
type Phase<'a> = (&'a str, Target, bool, Option<u32>);

/// Warms up, then runs each phase and prints a line per phase.
async fn measure(args: &Args, phases: &[Phase<'_>]) -> Result<()> {
    // Warm up: mint the leaves, fill pools.
    for (_, t, _, pid) in phases {
        if pid.is_some() {
            run_phase(t, 1, Duration::from_millis(500), true, 0).await;
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
    for (name, target, keepalive, pid) in phases {
        let cpu_before = match pid {
            Some(pid) => cpu_time(*pid)?,
            None => Duration::ZERO,
        };
        let r = run_phase(target, args.clients, d, *keepalive, args.rate).await;
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
    rate: u64,
) -> PhaseResult {
    let start = Instant::now();
    let deadline = start + duration;
    // Each client sends one request per `every` (rate spread over clients).
    let every = (rate > 0).then(|| Duration::from_secs_f64(clients as f64 / rate as f64));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let target = target.clone();
            tokio::spawn(async move { client_loop(target, deadline, keepalive, every).await })
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
    let tls = TlsConnector::from(tls_config_with(
        target.provider.clone(),
        target.root.clone(),
        &[b"http/1.1"],
    ))
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
/// A ticker for paced clients (`None`: closed loop).
fn pacer(every: Option<Duration>) -> Option<tokio::time::Interval> {
    every.map(|d| {
        let mut t = tokio::time::interval(d);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    })
}

async fn h3_client_loop(
    target: Target,
    addr: SocketAddr,
    deadline: Instant,
    every: Option<Duration>,
) -> (Vec<Duration>, u64) {
    let mut pace = pacer(every);
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
        if let Some(p) = pace.as_mut() {
            p.tick().await;
        }
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

async fn client_loop(
    target: Target,
    deadline: Instant,
    keepalive: bool,
    every: Option<Duration>,
) -> (Vec<Duration>, u64) {
    if let Some(addr) = target.h3 {
        return h3_client_loop(target, addr, deadline, every).await;
    }
    let mut pace = pacer(every);
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut sender: Option<Sender> = None;
    while Instant::now() < deadline {
        if let Some(p) = pace.as_mut() {
            p.tick().await;
        }
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

/// `--transparent`: explicit CONNECT versus the REDIRECT transparent gateway,
/// one proxy process in a gateway namespace, the clients in a client
/// namespace, the origin in an origin namespace.
mod transparent {
    use super::*;
    use portcullis_tests::netns::{self, Topology, GW_CLIENT_V4, ORIGIN_V4};

    /// The proxy's ports inside the gateway namespace.
    const EXPLICIT_PORT: u16 = 3128;
    const TRANSPARENT_PORT: u16 = 15001;
    /// The origin's port reached directly (not redirected).
    const DIRECT_PORT: u16 = 8443;

    pub fn main(args: &Args) -> Result<()> {
        let topology = Topology::new();
        topology.redirect(TRANSPARENT_PORT);
        // Everything this process connects to from now on starts in the
        // client namespace (threads started later inherit it).
        netns::join(&topology.client);
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(run(args, &topology))
    }

    async fn run(args: &Args, topology: &Topology) -> Result<()> {
        let pki = std::sync::Arc::new(TestPki::new());
        let origin = |port: u16| {
            let pki = pki.clone();
            let handle = tokio::runtime::Handle::current();
            let mut options = OriginOptions::new("origin.bench");
            options.alpn = vec![b"http/1.1".to_vec()];
            options.bind = Some(netns::socket(ORIGIN_V4, port));
            topology.run_in(&topology.origin, move || {
                handle.block_on(Origin::start(&pki, options))
            })
        };
        let redirected = origin(443);
        let direct = origin(DIRECT_PORT);
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("bench.toml");
        let extra = match &args.extra_config {
            Some(p) => std::fs::read_to_string(p).with_context(|| p.display().to_string())?,
            None => String::new(),
        };
        std::fs::write(
            &config,
            format!(
                "[proxy]\nlisten = \"0.0.0.0:{EXPLICIT_PORT}\"\n[admin]\nlisten = \"off\"\n\
                 [transparent]\nlisten = \"0.0.0.0:{TRANSPARENT_PORT}\"\n\
                 [upstream]\nextra_roots = [{root:?}]\nsystem_roots = false\nallow_private = true\n\
                 resolve = {{ \"origin.bench\" = [\"{ORIGIN_V4}\"] }}\n\
                 [log]\naccess = {log:?}\nincidents = {log:?}\nlevel = \"warn\"\n{extra}",
                root = pki.root_pem.display().to_string(),
                log = dir.path().join("access.log").display().to_string(),
            ),
        )?;
        let data_dir = dir.path().join("data");
        let mut child = topology
            .command(&topology.gw, &args.proxy_bin.display().to_string())
            .args(["run", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(&data_dir)
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", args.proxy_bin.display()))?;
        let explicit_addr = netns::socket(GW_CLIENT_V4, EXPLICIT_PORT);
        let outcome = async {
            wait_listening(explicit_addr, &mut child).await?;
            let ca = rustls_pki_types_from_pem(&std::fs::read(data_dir.join("ca.pem"))?)?;
            let body = text_body(args.body);
            // `ip netns exec` execs the proxy: the child's pid is the proxy's.
            let pid = Some(child.id());
            let target = |via_proxy, origin: &Origin, root: &CertificateDer<'static>| Target {
                via_proxy,
                h3: None,
                origin: origin.addr,
                root: root.clone(),
                provider: client_provider(args),
                body: body.clone(),
            };
            let direct = target(None, &direct, &pki.root_der());
            let explicit = target(Some(explicit_addr), &redirected, &ca);
            let transparent = target(None, &redirected, &ca);
            let mut phases: Vec<Phase<'_>> = vec![
                ("direct keep-alive", direct.clone(), true, None),
                ("explicit keep-alive", explicit.clone(), true, pid),
                ("transparent keep-alive", transparent.clone(), true, pid),
            ];
            if !args.keepalive_only {
                phases.push(("direct new connection", direct, false, None));
                phases.push(("explicit new connection", explicit, false, pid));
                phases.push(("transparent new connection", transparent, false, pid));
            }
            measure(args, &phases).await
        }
        .await;
        let _ = child.kill();
        let _ = child.wait();
        outcome
    }
}
