//! A real OpenLDAP `slapd` for the LDAP tests: a generated `slapd.conf`, a
//! TLS certificate for `127.0.0.1`/`localhost` from the test PKI, a small
//! directory loaded offline with `slapadd`, an LDAPS and a plain (StartTLS)
//! listener on ephemeral loopback ports, and the process killed on drop.
//!
//! The directory under `dc=example,dc=org`: `ou=people` with [`ALICE`] and
//! [`BOB`], the service account [`SERVICE_DN`], and `ou=groups` with one
//! `groupOfNames` per group of [`USERS`]. Simple binds need an encrypted
//! connection (`security simple_bind=128`), so a bind that reaches the
//! server proves TLS was up. slapd logs its operations (`-d stats`) to a
//! file the tests read to see which binds happened.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::pki::TestPki;

/// Suffix of the test directory.
pub const BASE_DN: &str = "dc=example,dc=org";
/// Where users live.
pub const PEOPLE_DN: &str = "ou=people,dc=example,dc=org";
/// Where groups live.
pub const GROUPS_DN: &str = "ou=groups,dc=example,dc=org";
/// The account the proxy searches as.
pub const SERVICE_DN: &str = "cn=portcullis,dc=example,dc=org";
/// Its password (written to [`Slapd::service_password_file`]).
pub const SERVICE_PASSWORD: &str = "service-pw-7f3a";

/// A user of the test directory.
#[derive(Debug, Clone, Copy)]
pub struct LdapUser {
    /// `uid`.
    pub uid: &'static str,
    /// `userPassword`.
    pub password: &'static str,
    /// The `cn` of each `groupOfNames` listing the user as `member`.
    pub groups: &'static [&'static str],
}

/// In `engineering`.
pub const ALICE: LdapUser = LdapUser {
    uid: "alice",
    password: "alice-ldap-pw",
    groups: &["engineering"],
};
/// In `contractors`.
pub const BOB: LdapUser = LdapUser {
    uid: "bob",
    password: "bob-ldap-pw",
    groups: &["contractors"],
};
/// Everyone in the directory.
pub const USERS: [LdapUser; 2] = [ALICE, BOB];

const INSTALL: &str = "apt-get install slapd ldap-utils";

/// A running slapd.
pub struct Slapd {
    child: Child,
    /// `ldaps://127.0.0.1:PORT`.
    pub ldaps_url: String,
    /// `ldap://127.0.0.1:PORT` (for StartTLS).
    pub ldap_url: String,
    /// PEM trust anchor of the server certificate (the test root).
    pub ca_file: PathBuf,
    /// File holding [`SERVICE_PASSWORD`].
    pub service_password_file: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Slapd {
    /// Generates the configuration and data, loads them, starts slapd and
    /// waits (up to 10 s) until both listeners accept connections. Panics with
    /// the install command when slapd or ldap-utils is missing.
    pub async fn start(pki: &TestPki) -> Self {
        let slapd = tool("slapd");
        let slapadd = tool("slapadd");
        tool("ldapsearch");
        let mut dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_owned();
        let root = root.as_path();
        let (cert, key) = pki.server_pem(&["127.0.0.1", "localhost"]);
        std::fs::write(root.join("server.pem"), cert).expect("write cert");
        std::fs::write(root.join("server.key"), key).expect("write key");
        std::fs::create_dir(root.join("db")).expect("db dir");
        std::fs::write(root.join("slapd.conf"), slapd_conf(root)).expect("write conf");
        std::fs::write(root.join("data.ldif"), data_ldif()).expect("write ldif");
        let service_password_file = root.join("service-password");
        std::fs::write(&service_password_file, format!("{SERVICE_PASSWORD}\n")).expect("write");
        let out = Command::new(&slapadd)
            .arg("-f")
            .arg(root.join("slapd.conf"))
            .arg("-l")
            .arg(root.join("data.ldif"))
            .output()
            .expect("run slapadd");
        assert!(
            out.status.success(),
            "slapadd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let log = root.join("slapd.log");
        // A port picked free can be taken before slapd binds it: retry then.
        for _ in 0..5 {
            let (ldaps, ldap) = (free_port(), free_port());
            let child = Command::new(&slapd)
                .arg("-d")
                .arg("stats")
                .arg("-f")
                .arg(root.join("slapd.conf"))
                .arg("-h")
                .arg(format!(
                    "ldaps://127.0.0.1:{ldaps}/ ldap://127.0.0.1:{ldap}/"
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).expect("log file"))
                .spawn()
                .expect("spawn slapd");
            let mut slapd = Self {
                child,
                ldaps_url: format!("ldaps://127.0.0.1:{ldaps}"),
                ldap_url: format!("ldap://127.0.0.1:{ldap}"),
                ca_file: pki.root_pem.clone(),
                service_password_file: service_password_file.clone(),
                log: log.clone(),
                _dir: dir,
            };
            if slapd.wait_listening(&[ldaps, ldap]).await {
                return slapd;
            }
            // slapd exited (a port was taken): take the directory back, retry.
            dir = std::mem::replace(&mut slapd._dir, tempfile::tempdir().expect("tempdir"));
        }
        panic!("slapd did not start; its log:\n{}", read(&log));
    }

    /// True once every port accepts a connection; false if slapd exits first.
    async fn wait_listening(&mut self, ports: &[u16]) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        for &port in ports {
            loop {
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    break;
                }
                if self.child.try_wait().expect("try_wait").is_some() {
                    return false;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "slapd did not listen on {port} within 10 s; its log:\n{}",
                    read(&self.log)
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        true
    }

    /// slapd's operations log (`-d stats`).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The DNs of every simple bind slapd has received so far, in order.
    pub fn binds(&self) -> Vec<String> {
        read(&self.log)
            .lines()
            .filter(|l| l.contains(" BIND dn=\"") && l.contains("method=128"))
            .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
            .collect()
    }

    /// Waits (up to 10 s) until slapd has logged `count` simple binds.
    pub async fn wait_binds(&self, count: usize) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let binds = self.binds();
            if binds.len() >= count {
                return binds;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "slapd logged {} binds, expected {count}: {binds:?}",
                binds.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// DNs matched by `filter` under [`PEOPLE_DN`], searched with the system
    /// `ldapsearch` over LDAPS as the service account: what the directory
    /// itself makes of a filter, independently of the proxy.
    pub async fn search(&self, filter: &str) -> Vec<String> {
        let mut cmd = Command::new(tool("ldapsearch"));
        cmd.env("LDAPTLS_CACERT", &self.ca_file)
            .args(["-LLL", "-x", "-H", &self.ldaps_url, "-D", SERVICE_DN])
            .args(["-w", SERVICE_PASSWORD, "-b", PEOPLE_DN, filter, "1.1"]);
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .expect("join")
            .expect("run ldapsearch");
        assert!(
            out.status.success(),
            "ldapsearch {filter}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("dn: ").map(str::to_owned))
            .collect()
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The DN of `uid` under [`PEOPLE_DN`].
pub fn user_dn(uid: &str) -> String {
    format!("uid={uid},{PEOPLE_DN}")
}

/// Path of an OpenLDAP tool, from `PATH` or `/usr/sbin` (where Debian puts
/// the server's); panics with the install command when it is missing.
fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("`{name}` not found: the LDAP tests need a real OpenLDAP ({INSTALL})")
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("ephemeral port")
        .port()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn slapd_conf(dir: &Path) -> String {
    let d = dir.display();
    let modules = [
        "/usr/lib/ldap",
        "/usr/lib/openldap",
        "/usr/libexec/openldap",
    ]
    .into_iter()
    .find(|m| {
        Path::new(m).join("back_mdb.la").exists() || Path::new(m).join("back_mdb.so").exists()
    })
    .unwrap_or("/usr/lib/ldap");
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath {modules}
moduleload back_mdb
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
security simple_bind=128

database mdb
maxsize 10485760
suffix \"{BASE_DN}\"
directory {d}/db
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
"
    )
}

fn data_ldif() -> String {
    let mut ldif = format!(
        "dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
         dn: {PEOPLE_DN}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: {GROUPS_DN}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: {SERVICE_DN}\nobjectClass: person\ncn: portcullis\nsn: service\nuserPassword: {SERVICE_PASSWORD}\n\n"
    );
    for user in USERS {
        let _ = write!(
            ldif,
            "dn: {}\nobjectClass: inetOrgPerson\nuid: {}\ncn: {}\nsn: test\nuserPassword: {}\n\n",
            user_dn(user.uid),
            user.uid,
            user.uid,
            user.password
        );
    }
    let mut groups: Vec<&str> = USERS
        .iter()
        .flat_map(|u| u.groups.iter().copied())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    for group in groups {
        let _ = write!(
            ldif,
            "dn: cn={group},{GROUPS_DN}\nobjectClass: groupOfNames\ncn: {group}\n"
        );
        for user in USERS.iter().filter(|u| u.groups.contains(&group)) {
            let _ = writeln!(ldif, "member: {}", user_dn(user.uid));
        }
        ldif.push('\n');
    }
    ldif
}

#[cfg(test)]
mod tests {
    #[test]
    #[should_panic(expected = "apt-get install slapd ldap-utils")]
    fn a_missing_openldap_fails_naming_the_install_command() {
        super::tool("slapd-not-installed");
    }
}
