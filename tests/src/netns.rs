//! Network namespaces for the transparent-gateway tests: a `client`, a
//! gateway (`gw`) and an `origin` namespace, joined by veth pairs, with the
//! client's and the origin's default routes through the gateway, IPv4 and
//! IPv6. Each topology gets unique namespace names and is deleted on drop.
//!
//! Code runs "in" a namespace by creating its sockets on a thread that has
//! joined it (`setns`): a socket belongs to the namespace it was created in,
//! wherever it is used afterwards, and threads started from such a thread
//! inherit it (the proxy's worker threads do).
//!
//! Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), `ip` (iproute2) and
//! `iptables`/`ip6tables`; a test FAILS saying what is missing — it never
//! skips, with or without `CI` set.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The client's IPv4 address (on the client ↔ gateway link).
pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(10, 10, 1, 2);
/// The client's IPv6 address.
pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0xfd10, 1, 0, 0, 0, 0, 0, 2);
/// The gateway's address on the client link (IPv4).
pub const GW_CLIENT_V4: Ipv4Addr = Ipv4Addr::new(10, 10, 1, 1);
/// The gateway's address on the client link (IPv6).
pub const GW_CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0xfd10, 1, 0, 0, 0, 0, 0, 1);
/// The origin's first IPv4 address.
pub const ORIGIN_V4: Ipv4Addr = Ipv4Addr::new(10, 10, 2, 2);
/// The origin's first IPv6 address.
pub const ORIGIN_V6: Ipv6Addr = Ipv6Addr::new(0xfd10, 2, 0, 0, 0, 0, 0, 2);
/// The origin's second IPv4 address (a second server).
pub const ORIGIN2_V4: Ipv4Addr = Ipv4Addr::new(10, 10, 2, 3);

/// What the tests need from the machine, for failure messages.
const NEEDS: &str = "the transparent-gateway tests need root (CAP_NET_ADMIN and CAP_SYS_ADMIN \
                     to create network namespaces) and the iproute2, iptables and nftables \
                     packages (apt-get install iproute2 iptables nftables)";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Three namespaces routed client → gateway → origin.
pub struct Topology {
    /// The client namespace's name.
    pub client: String,
    /// The gateway namespace's name.
    pub gw: String,
    /// The origin namespace's name.
    pub origin: String,
}

impl Topology {
    /// Creates the namespaces, links, addresses and routes, and turns on
    /// forwarding in the gateway. Panics (failing the test) with what is
    /// missing when the machine cannot do it.
    pub fn new() -> Self {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(euid, 0, "running as uid {euid}: {NEEDS}");
        for tool in ["ip", "iptables", "ip6tables", "nft"] {
            let found = std::env::var_os("PATH").is_some_and(|paths| {
                std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file())
            });
            assert!(found, "`{tool}` is not installed: {NEEDS}");
        }
        let id = format!(
            "pc{}x{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let topology = Self {
            client: format!("{id}c"),
            gw: format!("{id}g"),
            origin: format!("{id}o"),
        };
        for ns in [&topology.client, &topology.gw, &topology.origin] {
            run_checked(&["ip", "netns", "add", ns]);
        }
        let (c, g, o) = (&topology.client, &topology.gw, &topology.origin);
        run_checked(&[
            "ip", "-n", g, "link", "add", "gc", "type", "veth", "peer", "name", "cg", "netns", c,
        ]);
        run_checked(&[
            "ip", "-n", g, "link", "add", "go", "type", "veth", "peer", "name", "og", "netns", o,
        ]);
        let addrs: [(&str, &str, &str); 9] = [
            (c, "cg", "10.10.1.2/24"),
            (c, "cg", "fd10:1::2/64"),
            (g, "gc", "10.10.1.1/24"),
            (g, "gc", "fd10:1::1/64"),
            (g, "go", "10.10.2.1/24"),
            (g, "go", "fd10:2::1/64"),
            (o, "og", "10.10.2.2/24"),
            (o, "og", "fd10:2::2/64"),
            (o, "og", "10.10.2.3/24"),
        ];
        for (ns, dev, addr) in addrs {
            let mut args = vec!["ip", "-n", ns, "addr", "add", addr, "dev", dev];
            if addr.contains(':') {
                // No duplicate address detection: the address is usable at once.
                args.push("nodad");
            }
            run_checked(&args);
        }
        for (ns, dev) in [
            (c, "cg"),
            (g, "gc"),
            (g, "go"),
            (o, "og"),
            (c, "lo"),
            (g, "lo"),
            (o, "lo"),
        ] {
            run_checked(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
        run_checked(&["ip", "-n", c, "route", "add", "default", "via", "10.10.1.1"]);
        run_checked(&[
            "ip",
            "-n",
            c,
            "-6",
            "route",
            "add",
            "default",
            "via",
            "fd10:1::1",
        ]);
        run_checked(&["ip", "-n", o, "route", "add", "default", "via", "10.10.2.1"]);
        run_checked(&[
            "ip",
            "-n",
            o,
            "-6",
            "route",
            "add",
            "default",
            "via",
            "fd10:2::1",
        ]);
        topology.exec_checked(
            g,
            &[
                "sh",
                "-c",
                "echo 1 > /proc/sys/net/ipv4/ip_forward && echo 1 > /proc/sys/net/ipv6/conf/all/forwarding",
            ],
        );
        topology
    }

    /// Runs `args` inside namespace `ns` (`ip netns exec`), failing the test
    /// with its output when it fails.
    pub fn exec_checked(&self, ns: &str, args: &[&str]) -> Output {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        run_checked(&full)
    }

    /// A command that runs `program` inside namespace `ns`.
    pub fn command(&self, ns: &str, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns, program]);
        cmd
    }

    /// Runs `f` on a thread that has joined namespace `ns`: the sockets it
    /// creates, and the threads it starts, belong to that namespace.
    pub fn run_in<T: Send + 'static>(&self, ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{ns}");
        std::thread::spawn(move || {
            enter(&path);
            f()
        })
        .join()
        .expect("namespace thread")
    }

    /// In the gateway: reject the gateway's own connections to ports 80 and
    /// 443 of the origin side unless they carry `SO_MARK` `mark` — so a test
    /// passes only if the proxy marks its upstream sockets.
    pub fn require_upstream_mark(&self, mark: u32) {
        let mark = format!("{mark:#x}");
        for tool in ["iptables", "ip6tables"] {
            self.exec_checked(
                &self.gw,
                &[
                    tool,
                    "-A",
                    "OUTPUT",
                    "-o",
                    "go",
                    "-p",
                    "tcp",
                    "-m",
                    "multiport",
                    "--dports",
                    "80,443",
                    "-m",
                    "mark",
                    "!",
                    "--mark",
                    &mark,
                    "-j",
                    "REJECT",
                ],
            );
        }
    }

    /// In the gateway: REDIRECT tcp 80 and 443 arriving from the client to
    /// `port`, for IPv4 and IPv6 (iptables).
    pub fn redirect(&self, port: u16) {
        let to = port.to_string();
        for tool in ["iptables", "ip6tables"] {
            self.exec_checked(
                &self.gw,
                &[
                    tool,
                    "-t",
                    "nat",
                    "-A",
                    "PREROUTING",
                    "-i",
                    "gc",
                    "-p",
                    "tcp",
                    "-m",
                    "multiport",
                    "--dports",
                    "80,443",
                    "-j",
                    "REDIRECT",
                    "--to-ports",
                    &to,
                ],
            );
        }
    }

    /// In the gateway: the same REDIRECT written as an nftables ruleset (the
    /// README's office-edge rules).
    pub fn redirect_nft(&self, port: u16) {
        let rules = format!(
            "table inet portcullis {{\n\
               chain prerouting {{\n\
                 type nat hook prerouting priority dstnat; policy accept;\n\
                 iifname \"gc\" tcp dport {{ 80, 443 }} redirect to :{port}\n\
               }}\n\
             }}\n"
        );
        self.load_nft(&rules);
    }

    /// In the gateway: TPROXY tcp 80 and 443 arriving from the client to
    /// `port`, with the policy routing that delivers marked packets locally,
    /// IPv4 and IPv6.
    pub fn tproxy(&self, port: u16) {
        let to = port.to_string();
        for (tool, on_ip) in [("iptables", "0.0.0.0"), ("ip6tables", "::")] {
            self.exec_checked(
                &self.gw,
                &[
                    tool,
                    "-t",
                    "mangle",
                    "-A",
                    "PREROUTING",
                    "-i",
                    "gc",
                    "-p",
                    "tcp",
                    "-m",
                    "multiport",
                    "--dports",
                    "80,443",
                    "-j",
                    "TPROXY",
                    "--on-port",
                    &to,
                    "--on-ip",
                    on_ip,
                    "--tproxy-mark",
                    "0x1/0x1",
                ],
            );
        }
        self.local_delivery();
    }

    /// In the gateway: NAT REDIRECT udp 443 (QUIC) arriving from the
    /// client to `port` (IPv4); connection tracking gives the replies the
    /// origin's address and port back.
    pub fn redirect_udp(&self, port: u16) {
        let to = port.to_string();
        self.exec_checked(
            &self.gw,
            &[
                "iptables",
                "-t",
                "nat",
                "-A",
                "PREROUTING",
                "-i",
                "gc",
                "-p",
                "udp",
                "--dport",
                "443",
                "-j",
                "REDIRECT",
                "--to-ports",
                &to,
            ],
        );
    }

    /// In the gateway: TPROXY written as an nftables ruleset (the README's
    /// office-edge rules), with the same policy routing as [`Self::tproxy`].
    pub fn tproxy_nft(&self, port: u16) {
        let rules = format!(
            "table inet portcullis_tproxy {{\n\
               chain prerouting {{\n\
                 type filter hook prerouting priority mangle; policy accept;\n\
                 iifname \"gc\" meta l4proto tcp tcp dport {{ 80, 443 }} tproxy to :{port} meta mark set 0x1 accept\n\
               }}\n\
             }}\n"
        );
        self.load_nft(&rules);
        self.local_delivery();
    }

    fn load_nft(&self, rules: &str) {
        let path = std::env::temp_dir().join(format!("{}.nft", self.gw));
        std::fs::write(&path, rules).expect("write nft rules");
        let path_text = path.display().to_string();
        self.exec_checked(&self.gw, &["nft", "-f", &path_text]);
        let _ = std::fs::remove_file(path);
    }

    /// Packets marked 0x1 are delivered locally (to the TPROXY listener).
    fn local_delivery(&self) {
        for (family, local) in [("-4", "0.0.0.0/0"), ("-6", "::/0")] {
            run_checked(&[
                "ip", "-n", &self.gw, family, "rule", "add", "fwmark", "0x1/0x1", "lookup", "100",
            ]);
            run_checked(&[
                "ip", "-n", &self.gw, family, "route", "add", "local", local, "dev", "lo", "table",
                "100",
            ]);
        }
    }
}

impl Default for Topology {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in [&self.client, &self.gw, &self.origin] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// `addr:port` of an IP.
pub fn socket(ip: impl Into<IpAddr>, port: u16) -> SocketAddr {
    SocketAddr::new(ip.into(), port)
}

/// Joins namespace `ns` on the calling thread (threads it starts later
/// inherit it).
pub fn join(ns: &str) {
    enter(&format!("/var/run/netns/{ns}"));
}

/// Joins the network namespace at `path` on the calling thread.
fn enter(path: &str) {
    let file =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {path}: {e}; {NEEDS}"));
    use std::os::fd::AsRawFd;
    // SAFETY: a valid namespace descriptor, kept open across the call.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "setns({path}): {}; {NEEDS}",
        std::io::Error::last_os_error()
    );
}

/// Runs a command, failing the test with what it printed when it fails.
fn run_checked(args: &[&str]) -> Output {
    let output = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {NEEDS}", args[0]));
    assert!(
        output.status.success(),
        "`{}` failed: {}{}; {NEEDS}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    output
}
