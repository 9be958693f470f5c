//! Network topologies on simulated networks: Linux network namespaces, veth pairs and an
//! nftables NAT gateway built by the test, with barque-dir, barque-sd and barque-fd as
//! processes inside them (`ip netns exec`). This is the "NAT and firewalls" situation of
//! ../shared/design/users.md §4 and connect.md §5–§6:
//!
//! ```text
//!   WAN 203.0.113.0/24                 gateway (NAT)                LAN 192.168.77.0/24
//!   Director   .10:9101         203.0.113.1 | 192.168.77.1        fd-lan  .11:9102
//!   fd-wan     .11:9102  ---- :9102 -> fd-lan:9102 ----           sd-lan  .12:9103
//!   sd-wan     .12:9103  ---- :9103 -> sd-lan:9103 ----           fd-nat  .13 (no forward,
//!                        ---- :9202 -> fd-fw:9202  --.                  dials the Director)
//!                            LAN -> WAN: masquerade    |        FW 192.168.79.0/24
//!                            WAN -> LAN: only the forwards      fd-fw   .11:9202 (firewalled:
//!                                                                 no inbound but the
//!                                                                 forward, no outbound)
//! ```
//!
//! The Director knows fd-lan and sd-lan by the gateway's forwards (`Address`) and by their
//! `Lan Address`; fd-wan and sd-wan by their WAN addresses. The forwards keep the port
//! number: with `Lan Address` the data channel still uses the Director's `Port` of the
//! resource (connect.md §6, "The ports are the Director's `Client.FdPort` and
//! `Storage.SdPort`"), so a forward to another port would break the LAN path, in Bareos as
//! here. Asserted:
//! - the Director reaches fd-lan through the forward (`status client`);
//! - a backup between every FD/SD pair succeeds; the FD was told the SD's `Lan Address`
//!   exactly when both have one (the FD's debug log names the address it dialled), and then
//!   the bulk data did not cross the gateway (its LAN veth's byte counters), while the pairs
//!   that must cross it did; a restore between fd-lan and sd-lan also stays on the LAN and
//!   gives back the tree;
//! - handshake probing: TLS first, on a client's first connection only, again after
//!   `reload`;
//! - fd-nat, behind the NAT with no forward, works with client-initiated connections;
//! - fd-fw, completely firewalled, works as a passive client over TLS-PSK (`ssl=4`, identity
//!   `R_JOB` RS «Job») for backups and a restore: the SD dials it through the forward; the firewall's counter shows the FD
//!   never tried to open a connection, and its log that it never dialled a Storage daemon;
//! - dead-peer detection: the gateway silently drops every packet between fd-nat and the
//!   Director (no RST); both ends notice within 4 x Heartbeat Interval (TCP keep-alive, 3
//!   probes), the Director drops the waiting connection from `status dir`, the FD dials again
//!   once the link is back and the next job runs;
//! - NAT idle expiry: the gateway forgets idle connections after 2 x Heartbeat Interval; the
//!   keep-alive keeps fd-nat's waiting connection through a longer idle time and the next
//!   job runs over it.
//!
//! Needs root (CAP_NET_ADMIN), `ip` and `nft`. Where namespaces cannot be made, the test says
//! so loudly on stderr and runs the pairs on loopback aliases (127.0.x.y) instead, checking
//! only the addresses the daemons were told; `BARQUE_NETNS=off` forces that fallback.
//! The sub-cases share one topology and run in one `#[test]`, so no two topologies exist at
//! once; namespace names carry the pid and are deleted in `Drop`, also on panic.
//!
//! See e2e.rs for how the binaries are found.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{assert_same_tree, bin, make_tree, queued_id};

/// One daemon of the topology.
#[derive(Clone, Debug)]
struct Node {
    /// Resource name (Client or Storage in the Director; the daemon's own name).
    name: &'static str,
    /// Namespace suffix (`wan`, `lan`, `fw`), ignored on loopback.
    ns: &'static str,
    /// The address the daemon listens on.
    listen: String,
    port: u16,
    /// How the Director reaches it (`Address`, `Port`).
    address: String,
    dport: u16,
    /// `Lan Address`, if any.
    lan: Option<String>,
}

struct Topology {
    /// Namespace prefix, `None` on the loopback fallback.
    prefix: Option<String>,
    work: PathBuf,
    children: Vec<(String, Child)>,
    dir: Node,
    fd_lan: Node,
    sd_lan: Node,
    fd_wan: Node,
    sd_wan: Node,
    fd_nat: Node,
    fd_fw: Node,
}

impl Drop for Topology {
    fn drop(&mut self) {
        for (_, c) in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(p) = &self.prefix {
            for n in NAMESPACES {
                let _ = Command::new("ip")
                    .args(["netns", "del", &format!("{p}-{n}")])
                    .status();
            }
        }
        if std::env::var_os("BARQUE_KEEP").is_none() && !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.work);
        }
    }
}

const NAMESPACES: [&str; 4] = ["wan", "gw", "lan", "fw"];

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ip(args: &[&str]) {
    run(Command::new("ip").args(args));
}

/// Why namespaces cannot be used here, or `None` if they can.
fn netns_unavailable() -> Option<String> {
    if std::env::var("BARQUE_NETNS").as_deref() == Ok("off") {
        return Some("BARQUE_NETNS=off".into());
    }
    let probe = format!("bqprobe{}", std::process::id());
    match Command::new("ip").args(["netns", "add", &probe]).output() {
        Ok(o) if o.status.success() => {
            let _ = Command::new("ip").args(["netns", "del", &probe]).status();
        }
        Ok(o) => {
            return Some(format!(
                "`ip netns add` failed (not root, no CAP_NET_ADMIN?): {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ))
        }
        Err(e) => return Some(format!("no `ip` command (install iproute2): {e}")),
    }
    match Command::new("nft").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("no `nft` command (scripts/setup installs nftables)".into()),
    }
}

fn node(
    name: &'static str,
    ns: &'static str,
    listen: &str,
    port: u16,
    address: &str,
    dport: u16,
    lan: Option<&str>,
) -> Node {
    Node {
        name,
        ns,
        listen: listen.into(),
        port,
        address: address.into(),
        dport,
        lan: lan.map(str::to_owned),
    }
}

const GW_WAN: &str = "203.0.113.1";

impl Topology {
    /// The namespaces, links, routes and the gateway's nftables ruleset.
    fn netns() -> Topology {
        remove_stale_namespaces();
        let prefix = format!("bq{}", std::process::id());
        let t = Topology {
            prefix: Some(prefix.clone()),
            work: workdir("netns"),
            children: Vec::new(),
            dir: node(
                "barque-dir",
                "wan",
                "203.0.113.10",
                9101,
                "203.0.113.10",
                9101,
                None,
            ),
            fd_wan: node(
                "fd-wan",
                "wan",
                "203.0.113.11",
                9102,
                "203.0.113.11",
                9102,
                None,
            ),
            sd_wan: node(
                "sd-wan",
                "wan",
                "203.0.113.12",
                9103,
                "203.0.113.12",
                9103,
                None,
            ),
            fd_lan: node(
                "fd-lan",
                "lan",
                "192.168.77.11",
                9102,
                GW_WAN,
                9102,
                Some("192.168.77.11"),
            ),
            sd_lan: node(
                "sd-lan",
                "lan",
                "192.168.77.12",
                9103,
                GW_WAN,
                9103,
                Some("192.168.77.12"),
            ),
            // Unreachable from the WAN: no forward, it dials the Director.
            fd_nat: node(
                "fd-nat",
                "lan",
                "192.168.77.13",
                9102,
                "192.168.77.13",
                9102,
                None,
            ),
            fd_fw: node("fd-fw", "fw", "192.168.79.11", 9202, GW_WAN, 9202, None),
        };
        let ns = |n: &str| format!("{prefix}-{n}");
        for n in NAMESPACES {
            ip(&["netns", "add", &ns(n)]);
            ip(&["-n", &ns(n), "link", "set", "lo", "up"]);
        }
        // veth pairs: (host side in ns, name), (gateway side name).
        for (peer_ns, dev, gw_dev) in [
            ("wan", "w0", "gwan"),
            ("lan", "l0", "glan"),
            ("fw", "f0", "gfw"),
        ] {
            let a = format!("{prefix}{dev}");
            let b = format!("{prefix}{gw_dev}");
            ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
            ip(&["link", "set", &a, "netns", &ns(peer_ns), "name", dev]);
            ip(&["link", "set", &b, "netns", &ns("gw"), "name", gw_dev]);
            ip(&["-n", &ns(peer_ns), "link", "set", dev, "up"]);
            ip(&["-n", &ns("gw"), "link", "set", gw_dev, "up"]);
        }
        for (n, dev, addrs, gw) in [
            (
                "wan",
                "w0",
                &["203.0.113.10", "203.0.113.11", "203.0.113.12"][..],
                "203.0.113.1",
            ),
            (
                "lan",
                "l0",
                &["192.168.77.11", "192.168.77.12", "192.168.77.13"][..],
                "192.168.77.1",
            ),
            ("fw", "f0", &["192.168.79.11"][..], "192.168.79.1"),
        ] {
            for a in addrs {
                ip(&["-n", &ns(n), "addr", "add", &format!("{a}/24"), "dev", dev]);
            }
            // Every host routes everything to the gateway, so only its rules decide what
            // passes (the WAN hosts could otherwise not even try the LAN addresses).
            ip(&["-n", &ns(n), "route", "add", "default", "via", gw]);
        }
        for (dev, a) in [
            ("gwan", "203.0.113.1"),
            ("glan", "192.168.77.1"),
            ("gfw", "192.168.79.1"),
        ] {
            ip(&[
                "-n",
                &ns("gw"),
                "addr",
                "add",
                &format!("{a}/24"),
                "dev",
                dev,
            ]);
        }
        run(Command::new("ip").args([
            "netns",
            "exec",
            &ns("gw"),
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ]));
        let gw_rules = "table ip nat {\n\
             chain pre {\n type nat hook prerouting priority dstnat;\n\
               iifname \"gwan\" tcp dport 9102 dnat to 192.168.77.11:9102\n\
               iifname \"gwan\" tcp dport 9103 dnat to 192.168.77.12:9103\n\
               iifname \"gwan\" tcp dport 9202 dnat to 192.168.79.11:9202\n }\n\
             chain post {\n type nat hook postrouting priority srcnat;\n\
               oifname \"gwan\" iifname \"glan\" masquerade\n }\n\
           }\n\
           table inet filter {\n\
             chain forward {\n type filter hook forward priority filter; policy drop;\n\
               ct state established,related accept\n\
               ct status dnat accept\n\
               iifname \"glan\" oifname \"gwan\" accept\n\
               counter comment \"dropped\"\n }\n\
           }\n";
        nft(&ns("gw"), gw_rules);
        // The firewalled host: inbound only to the FD port (which only the gateway's forward
        // reaches), no outbound connection at all. Counted so the test can show the FD never
        // tried.
        let fw_rules = "table inet fw {\n\
             chain input {\n type filter hook input priority filter; policy drop;\n\
               iifname \"lo\" accept\n\
               ct state established,related accept\n\
               tcp dport 9202 ct state new accept\n\
               counter\n }\n\
             chain output {\n type filter hook output priority filter; policy accept;\n\
               oifname \"lo\" accept\n\
               ct state new counter drop\n }\n\
           }\n";
        nft(&ns("fw"), fw_rules);
        t
    }

    /// The loopback fallback: every daemon on its own 127.0.x.y address, Director-facing
    /// addresses in 127.0.1.0/24 and LAN addresses in 127.0.2.0/24, free ports.
    fn loopback() -> Topology {
        let p = free_port_block(7);
        let t = |i: u16| p + i;
        Topology {
            prefix: None,
            work: workdir("netns-lo"),
            children: Vec::new(),
            dir: node(
                "barque-dir",
                "",
                "127.0.1.10",
                t(0),
                "127.0.1.10",
                t(0),
                None,
            ),
            fd_wan: node("fd-wan", "", "127.0.1.11", t(1), "127.0.1.11", t(1), None),
            sd_wan: node("sd-wan", "", "127.0.1.12", t(2), "127.0.1.12", t(2), None),
            // Listening on 0.0.0.0 so both the "WAN" and the "LAN" address reach them.
            fd_lan: node(
                "fd-lan",
                "",
                "0.0.0.0",
                t(3),
                "127.0.1.21",
                t(3),
                Some("127.0.2.21"),
            ),
            sd_lan: node(
                "sd-lan",
                "",
                "0.0.0.0",
                t(4),
                "127.0.1.22",
                t(4),
                Some("127.0.2.22"),
            ),
            fd_nat: node("fd-nat", "", "127.0.2.23", t(5), "127.0.2.23", t(5), None),
            fd_fw: node("fd-fw", "", "127.0.1.24", t(6), "127.0.1.24", t(6), None),
        }
    }

    fn ns(&self, n: &Node) -> Option<String> {
        self.prefix.as_ref().map(|p| format!("{p}-{}", n.ns))
    }

    /// A command run inside `n`'s namespace (or directly on loopback).
    fn cmd(&self, ns: Option<String>, exe: &Path) -> Command {
        match ns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", &ns]).arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    fn spawn(&mut self, n: &Node, exe: &str, conf: &Path) {
        let log =
            std::fs::File::create(self.work.join(format!("log/{}.out", n.name))).expect("log");
        let child = self
            .cmd(self.ns(n), &bin(exe))
            .arg("-c")
            .arg(conf)
            .args(["-f", "-d", "100"])
            .stdout(log.try_clone().expect("log clone"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {exe} for {}: {e}", n.name));
        self.children.push((n.name.into(), child));
        self.wait_listen(n);
    }

    /// Poll until `n` listens (`ss` inside its namespace).
    fn wait_listen(&self, n: &Node) {
        let t = Instant::now();
        let want = format!("{}:{}", n.listen, n.port);
        while t.elapsed() < Duration::from_secs(30) {
            let out = match self.ns(n) {
                Some(ns) => Command::new("ss").args(["-N", &ns, "-Hltn"]).output(),
                None => Command::new("ss").args(["-Hltn"]).output(),
            };
            if let Ok(o) = out {
                let s = String::from_utf8_lossy(&o.stdout);
                let want_any = format!("*:{}", n.port);
                if s.split_whitespace().any(|w| w == want || w == want_any) {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} does not listen on {want}\n{}", n.name, self.logs());
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.work.join(format!("log/{name}.out"))).unwrap_or_default()
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for (n, _) in &self.children {
            s.push_str(&format!("---- {n} ----\n{}\n", self.log(n)));
        }
        s
    }

    fn console(&self, commands: &[&str]) -> String {
        let mut child = self
            .cmd(self.ns(&self.dir), &bin("barque-console"))
            .arg("-c")
            .arg(self.work.join("etc/bconsole.conf"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn barque-console");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            for c in commands {
                writeln!(stdin, "{c}").expect("write command");
            }
        }
        let out = child.wait_with_output().expect("console output");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "barque-console failed: {text}\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        text
    }

    /// Run a job, wait for it, return (JobId, the output of `wait` and `messages`).
    fn run_job(&self, cmd: &str) -> (u32, String) {
        let out = self.console(&[cmd]);
        let id = queued_id(&out);
        let wait = self.console(&[&format!("wait jobid={id}"), "messages"]);
        assert!(
            wait.contains(&format!("JobId={id}\nJobStatus=OK (T)")),
            "job {id} ({cmd}) did not end OK:\n{out}\n{wait}\n{}",
            self.logs()
        );
        (id, wait)
    }

    /// Bytes through the gateway's LAN-side veth (both directions); 0 on loopback.
    fn gateway_lan_bytes(&self) -> u64 {
        let Some(p) = &self.prefix else { return 0 };
        ["rx_bytes", "tx_bytes"]
            .iter()
            .map(|f| {
                run(Command::new("ip").args([
                    "netns",
                    "exec",
                    &format!("{p}-gw"),
                    "cat",
                    &format!("/sys/class/net/glan/statistics/{f}"),
                ]))
                .trim()
                .parse::<u64>()
                .expect("counter")
            })
            .sum()
    }

    /// Packets counted by the `counter` rules of a namespace's ruleset (dropped or refused).
    fn nft_counter(&self, ns: &str, chain: &str) -> u64 {
        let Some(p) = &self.prefix else { return 0 };
        let out = run(Command::new("ip").args([
            "netns",
            "exec",
            &format!("{p}-{ns}"),
            "nft",
            "list",
            "ruleset",
        ]));
        let mut in_chain = false;
        let mut n = 0;
        for l in out.lines() {
            let l = l.trim();
            if l.starts_with("chain ") {
                in_chain = l == format!("chain {chain} {{");
            }
            if in_chain {
                if let Some(rest) = l.split("counter packets ").nth(1) {
                    n += rest
                        .split_whitespace()
                        .next()
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                }
            }
        }
        n
    }
}

/// Namespaces left by an earlier run that was killed before its `Drop` (`bq<pid>-…` whose
/// process is gone).
fn remove_stale_namespaces() {
    let Ok(o) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for l in String::from_utf8_lossy(&o.stdout).lines() {
        let Some(name) = l.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix("bq")
            .and_then(|r| r.split_once('-'))
            .and_then(|(p, _)| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

fn nft(ns: &str, rules: &str) {
    let mut c = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nft");
    {
        use std::io::Write;
        c.stdin
            .take()
            .expect("stdin")
            .write_all(rules.as_bytes())
            .expect("nft rules");
    }
    let out = c.wait_with_output().expect("nft");
    assert!(
        out.status.success(),
        "nft in {ns}: {}\n{rules}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn workdir(tag: &str) -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let w = base.join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&w);
    std::fs::create_dir_all(w.join("log")).expect("mkdir work");
    w
}

/// `n` consecutive ports free on 0.0.0.0.
fn free_port_block(n: u16) -> u16 {
    for _ in 0..200 {
        let l = std::net::TcpListener::bind("0.0.0.0:0").expect("bind");
        let base = l.local_addr().expect("addr").port();
        drop(l);
        if base > 65000 {
            continue;
        }
        if (0..n).all(|i| std::net::TcpListener::bind(("0.0.0.0", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no {n} consecutive free ports");
}

fn password(tag: &str) -> String {
    // Test passwords: unique per run, never printed by the daemons.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{tag}-{:x}-{t:x}", std::process::id())
}

struct Passwords {
    fd: String,
    sd: String,
}

/// Generate every configuration: the Director's from `barque-dir --init` with the extra
/// Client, Storage and Job resources; one configuration per FD and SD.
fn configure(t: &Topology, data: &Path) -> Passwords {
    let w = &t.work;
    let out = Command::new(bin("barque-dir"))
        .arg("--init")
        .arg(w)
        .args(["--port", &t.dir.port.to_string(), "--fileset"])
        .arg(data)
        .arg("--where")
        .arg(w.join("restore-default"))
        .output()
        .expect("barque-dir --init");
    assert!(
        out.status.success(),
        "barque-dir --init failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pw = Passwords {
        fd: password("fd"),
        sd: password("sd"),
    };
    let dir_conf = w.join("etc/bareos-dir.conf");
    let mut text = std::fs::read_to_string(&dir_conf).expect("read dir conf");
    let listen = "DirAddresses = { ip = { addr = 127.0.0.1;";
    assert!(text.contains(listen), "{text}");
    text = text.replace(
        listen,
        &format!("DirAddresses = {{ ip = {{ addr = {};", t.dir.listen),
    );
    let lan = |n: &Node| {
        n.lan
            .as_ref()
            .map(|a| format!("  Lan Address = {a}\n"))
            .unwrap_or_default()
    };
    for (c, extra) in [
        (&t.fd_lan, String::new()),
        (&t.fd_wan, String::new()),
        (
            &t.fd_nat,
            format!(
                "  Connection From Client To Director = yes\n  Connection From Director To Client = no\n  \
                 Heartbeat Interval = {NAT_HEARTBEAT}\n"
            )
        ),
        // TLS-PSK (no TLS directive): reached TLS-first, the SD is told ssl=4 and dials
        // TLS-PSK with the job's identity.
        (&t.fd_fw, "  Passive = yes\n".to_string()),
    ] {
        text.push_str(&format!(
            "\nClient {{\n  Name = {}\n  Address = {}\n  Port = {}\n{}  Password = \"{}\"\n  \
             Catalog = MyCatalog\n{extra}}}\n",
            c.name,
            c.address,
            c.dport,
            lan(c),
            pw.fd
        ));
    }
    for s in [&t.sd_lan, &t.sd_wan] {
        text.push_str(&format!(
            "\nStorage {{\n  Name = {}\n  Address = {}\n  Port = {}\n{}  Password = \"{}\"\n  \
             Device = FileStorage\n  Media Type = File-{}\n  Maximum Concurrent Jobs = 10\n}}\n",
            s.name,
            s.address,
            s.dport,
            lan(s),
            pw.sd,
            s.name
        ));
    }
    for (c, s) in pairs(t) {
        text.push_str(&format!(
            "\nJob {{\n  Name = \"{}\"\n  Type = Backup\n  Level = Full\n  Client = {}\n  \
             FileSet = \"DemoSet\"\n  Storage = {}\n  Pool = Full\n  Messages = Standard\n}}\n",
            job_name(c, s),
            c.name,
            s.name
        ));
    }
    for s in [&t.sd_lan, &t.sd_wan] {
        text.push_str(&format!(
            "\nJob {{\n  Name = \"r-{}\"\n  Type = Restore\n  Client = {}\n  \
             FileSet = \"DemoSet\"\n  Storage = {}\n  Pool = Full\n  Messages = Standard\n  \
             Where = \"{}\"\n}}\n",
            s.name,
            t.fd_wan.name,
            s.name,
            w.join("restore-default").display()
        ));
    }
    std::fs::write(&dir_conf, text).expect("write dir conf");
    let con = w.join("etc/bconsole.conf");
    let text = std::fs::read_to_string(&con).expect("bconsole.conf");
    std::fs::write(
        &con,
        text.replace(
            "Address = 127.0.0.1",
            &format!("Address = {}", t.dir.address),
        ),
    )
    .expect("bconsole.conf");

    for f in [&t.fd_lan, &t.fd_wan, &t.fd_nat, &t.fd_fw] {
        let state = w.join("state").join(f.name);
        std::fs::create_dir_all(&state).expect("state");
        let director_extra = if f.name == t.fd_nat.name {
            format!(
                "  Connection From Client To Director = yes\n  Address = {}\n  Port = {}\n",
                t.dir.address, t.dir.dport
            )
        } else {
            String::new()
        };
        let hb = if f.name == t.fd_nat.name {
            NAT_HEARTBEAT
        } else {
            5
        };
        let conf = format!(
            "Client {{\n  Name = {}\n  FdAddresses = {{ ip = {{ addr = {}; port = {} }} }}\n  \
             WorkingDirectory = \"{}\"\n  Messages = Standard\n  Heartbeat Interval = {hb}\n  \
             SD Connect Timeout = 60 s\n}}\n\n\
             Director {{\n  Name = barque-dir\n  Password = \"{}\"\n{director_extra}}}\n\n\
             Messages {{\n  Name = Standard\n  Director = barque-dir = all, !skipped, !restored\n}}\n",
            f.name,
            f.listen,
            f.port,
            state.display(),
            pw.fd
        );
        std::fs::write(w.join(format!("etc/{}.conf", f.name)), conf).expect("fd conf");
    }
    for s in [&t.sd_lan, &t.sd_wan] {
        let state = w.join("state").join(s.name);
        let vols = w.join("volumes").join(s.name);
        std::fs::create_dir_all(&state).expect("state");
        std::fs::create_dir_all(&vols).expect("volumes");
        let conf = format!(
            "Storage {{\n  Name = {}\n  SdAddresses = {{ ip = {{ addr = {}; port = {} }} }}\n  \
             WorkingDirectory = \"{}\"\n  Messages = Standard\n  FD Connect Timeout = 60 s\n}}\n\n\
             Director {{\n  Name = barque-dir\n  Password = \"{}\"\n}}\n\n\
             Device {{\n  Name = FileStorage\n  Media Type = File-{}\n  Device Type = File\n  \
             Archive Device = \"{}\"\n  Label Media = yes\n  Random Access = yes\n  \
             Automatic Mount = yes\n  Removable Media = no\n  Always Open = no\n}}\n\n\
             Messages {{\n  Name = Standard\n  Director = barque-dir = all\n}}\n",
            s.name,
            s.listen,
            s.port,
            state.display(),
            pw.sd,
            s.name,
            vols.display()
        );
        std::fs::write(w.join(format!("etc/{}.conf", s.name)), conf).expect("sd conf");
    }
    pw
}

/// fd-nat's Heartbeat Interval (s), in its own and in the Director's configuration: small, so
/// that the dead-peer step (5.) is quick.
const NAT_HEARTBEAT: u64 = 3;

/// The (FD, SD) pairs that get a backup Job.
fn pairs(t: &Topology) -> Vec<(&Node, &Node)> {
    let mut v = Vec::new();
    for f in [&t.fd_lan, &t.fd_wan] {
        for s in [&t.sd_lan, &t.sd_wan] {
            v.push((f, s));
        }
    }
    v.push((&t.fd_nat, &t.sd_wan));
    v.push((&t.fd_fw, &t.sd_wan));
    v
}

fn job_name(c: &Node, s: &Node) -> String {
    format!("b-{}-{}", c.name, s.name)
}

/// The address and port the FD dialled for its last data connection, from its debug log.
fn dialled_sd(t: &Topology, fd: &Node) -> String {
    let log = t.log(fd.name);
    log.lines()
        .filter_map(|l| l.split("connected to the Storage daemon at ").nth(1))
        .filter_map(|r| r.split_whitespace().next())
        .next_back()
        .unwrap_or_else(|| {
            panic!(
                "{}: no `connected to the Storage daemon` in its log:\n{log}",
                fd.name
            )
        })
        .to_string()
}

fn start(t: &mut Topology) {
    let etc = t.work.join("etc");
    for s in [t.sd_lan.clone(), t.sd_wan.clone()] {
        t.spawn(&s, "barque-sd", &etc.join(format!("{}.conf", s.name)));
    }
    for f in [t.fd_lan.clone(), t.fd_wan.clone(), t.fd_fw.clone()] {
        t.spawn(&f, "barque-fd", &etc.join(format!("{}.conf", f.name)));
    }
    let d = t.dir.clone();
    t.spawn(&d, "barque-dir", &etc.join("bareos-dir.conf"));
    // fd-nat last: it dials the Director.
    let f = t.fd_nat.clone();
    t.spawn(&f, "barque-fd", &etc.join(format!("{}.conf", f.name)));
}

/// Wait for `cond`, polling; panics with the logs after `limit`.
fn wait_for(t: &Topology, what: &str, limit: Duration, cond: impl FnMut() -> bool) {
    support::poll_until(what, limit, &|| t.logs(), cond)
}

#[test]
fn nat_gateway_topologies() {
    let mut t = match netns_unavailable() {
        None => Topology::netns(),
        Some(why) => {
            eprintln!(
                "\n**********************************************************************\n\
                 * netns: NETWORK NAMESPACES UNAVAILABLE: {why}\n\
                 * Falling back to loopback aliases (127.0.x.y): NO NAT, NO FIREWALL, NO\n\
                 * TRAFFIC COUNTERS. Only the addresses the daemons were told are checked.\n\
                 **********************************************************************\n"
            );
            Topology::loopback()
        }
    };
    let netns = t.prefix.is_some();
    let data = t.work.join("data");
    make_tree(&data);
    configure(&t, &data);
    start(&mut t);

    // 1. The Director reaches fd-lan through the gateway's forward.
    let out = t.console(&["status client=fd-lan"]);
    assert!(
        out.contains(&format!(
            "Connecting to Client fd-lan at {}:{}",
            t.fd_lan.address, t.fd_lan.dport
        )) && out.contains("fd-lan Version:"),
        "{out}\n{}",
        t.logs()
    );
    if netns {
        // And nothing else on the LAN: the gateway drops a direct attempt.
        let before = t.nft_counter("gw", "forward");
        let out = Command::new("ip")
            .args(["netns", "exec", &t.ns(&t.dir).expect("ns")])
            .args([
                "timeout",
                "5",
                "bash",
                "-c",
                "exec 3<>/dev/tcp/192.168.77.11/9102",
            ])
            .output()
            .expect("bash");
        assert!(
            !out.status.success(),
            "the LAN FD is reachable without the forward"
        );
        assert!(
            t.nft_counter("gw", "forward") > before,
            "the gateway did not drop it"
        );
    }

    // 2. A backup between every FD/SD pair; the data channel address the FD was told, and
    // whether the data crossed the gateway.
    let big = std::fs::metadata(data.join("big.bin")).expect("big").len();
    let mut ids = std::collections::HashMap::new();
    // `status client=fd-lan` above already probed fd-lan; the mode is kept.
    let mut probed = std::collections::HashSet::from([t.fd_lan.name]);
    for (f, s) in pairs(&t) {
        if f.name == t.fd_nat.name || f.name == t.fd_fw.name {
            continue;
        }
        let (f, s) = (f.clone(), s.clone());
        let both_lan = f.lan.is_some() && s.lan.is_some();
        let before = t.gateway_lan_bytes();
        let (id, msgs) = t.run_job(&format!("run job={} yes", job_name(&f, &s)));
        assert!(msgs.contains("Termination:            Backup OK"), "{msgs}");
        ids.insert(job_name(&f, &s), id);
        let crossed = t.gateway_lan_bytes() - before;
        // Handshake probing: TLS first (it works: TLS-PSK everywhere), once per client.
        assert_eq!(
            msgs.contains("Probing client protocol... (result will be saved until config reload)"),
            probed.insert(f.name),
            "{} -> {}: probing only on the client's first connection:\n{msgs}",
            f.name,
            s.name
        );
        assert!(msgs.contains("Handshake: Immediate TLS"), "{msgs}");
        let want = if both_lan {
            format!("{}:{}", s.lan.as_deref().unwrap_or_default(), s.dport)
        } else {
            format!("{}:{}", s.address, s.dport)
        };
        let got = dialled_sd(&t, &f);
        assert_eq!(
            got, want,
            "{} -> {}: the FD was told the wrong address",
            f.name, s.name
        );
        if netns {
            eprintln!(
                "netns: {} -> {}: FD dialled {got}; {crossed} bytes crossed the gateway's LAN side",
                f.name, s.name
            );
        } else {
            eprintln!(
                "netns (loopback): {} -> {}: FD dialled {got}",
                f.name, s.name
            );
        }
        if netns {
            let lan_only = f.ns == "lan" && s.ns == "lan" && both_lan;
            let wan_only = f.ns == "wan" && s.ns == "wan";
            if lan_only || wan_only {
                assert!(
                    crossed < big / 4,
                    "{} -> {}: {crossed} bytes crossed the gateway, the data must stay on its side",
                    f.name,
                    s.name
                );
            } else {
                assert!(
                    crossed > big,
                    "{} -> {}: only {crossed} bytes crossed the gateway for a {big}-byte file",
                    f.name,
                    s.name
                );
            }
        }
    }

    // A restore between fd-lan and sd-lan: told the LAN address, the data stays on the LAN.
    let before = t.gateway_lan_bytes();
    let target = t.work.join("restored-lan");
    let (_, msgs) = t.run_job(&format!(
        "restore restorejob=r-sd-lan client=fd-lan jobid={} where={} all done yes",
        ids[&job_name(&t.fd_lan, &t.sd_lan)],
        target.display()
    ));
    assert!(
        msgs.contains("Termination:            Restore OK"),
        "{msgs}"
    );
    let crossed = t.gateway_lan_bytes() - before;
    assert!(
        msgs.contains(&format!(
            "Connected Storage daemon at {}:{}",
            t.sd_lan.lan.as_deref().unwrap_or_default(),
            t.sd_lan.dport
        )),
        "{msgs}"
    );
    if netns {
        assert!(
            crossed < big / 4,
            "restore: {crossed} bytes crossed the gateway"
        );
    }
    let rel = data.strip_prefix("/").expect("absolute");
    assert_same_tree(&data, &target.join(rel));

    // 3. fd-nat: behind the NAT with no forward; it dials the Director and the job uses
    // that connection.
    wait_for(
        &t,
        "fd-nat's waiting connection",
        Duration::from_secs(60),
        || {
            t.console(&["status dir"])
                .split_once("Client Initiated Connections (waiting for jobs):")
                .is_some_and(|(_, b)| b.contains("fd-nat"))
        },
    );
    let (_, msgs) = t.run_job(&format!("run job={} yes", job_name(&t.fd_nat, &t.sd_wan)));
    assert!(
        msgs.contains("Using Client Initiated Connection (fd-nat).")
            && msgs.contains("Termination:            Backup OK"),
        "{msgs}"
    );
    assert_eq!(
        dialled_sd(&t, &t.fd_nat),
        format!("{}:{}", t.sd_wan.address, t.sd_wan.dport)
    );

    // 4. fd-fw: completely firewalled, passive, TLS-PSK. The SD is told the Client's Address
    // (the forward) and ssl=4, and dials through it; the second job reuses the probed mode.
    let mut fw_job = 0;
    for round in 0..3 {
        if round == 2 {
            // `reload` forgets the probed modes.
            let out = t.console(&["reload"]);
            assert!(!out.contains("rror"), "{out}");
        }
        let (id, msgs) = t.run_job(&format!("run job={} yes", job_name(&t.fd_fw, &t.sd_wan)));
        fw_job = id;
        assert!(
            msgs.contains("Termination:            Backup OK")
                && msgs.contains(&format!(
                    "Connected File Daemon at {}:{}, encryption: TLS_",
                    t.fd_fw.address, t.fd_fw.dport
                )),
            "{msgs}"
        );
        assert_eq!(
            msgs.contains("Probing client protocol"),
            round != 1,
            "probing once, then the remembered mode until reload:\n{msgs}"
        );
        assert!(msgs.contains("Handshake: Immediate TLS"), "{msgs}");
    }
    // A passive restore: the FD gets the key again (`setauthorization`), the SD dials it.
    let target = t.work.join("restored-fw");
    let (_, msgs) = t.run_job(&format!(
        "restore restorejob=r-sd-wan client=fd-fw jobid={fw_job} where={} all done yes",
        target.display()
    ));
    assert!(
        msgs.contains("Termination:            Restore OK")
            && msgs.contains(&format!(
                "Connected File Daemon at {}:{}",
                t.fd_fw.address, t.fd_fw.dport
            )),
        "{msgs}"
    );
    assert_same_tree(&data, &target.join(rel));
    assert!(
        !t.log(t.fd_fw.name)
            .contains("connected to the Storage daemon"),
        "the passive FD dialled a Storage daemon:\n{}",
        t.log(t.fd_fw.name)
    );
    if netns {
        assert_eq!(
            t.nft_counter("fw", "output"),
            0,
            "the firewalled FD tried to open a connection"
        );
    }

    // 5. Dead-peer detection: the link between fd-nat and the Director goes silent (the
    // gateway drops every packet, no RST, as a host that went down or a NAT that forgot the
    // connection). Both ends notice within 4 x Heartbeat Interval (TCP keep-alive, 3 probes;
    // the kernel's default 9 probes would take 10 x): the Director drops the waiting
    // connection from `status dir`, the FD's connection fails; once the link is back the FD
    // dials again and the next job uses the new connection. 6. The gateway's NAT forgets idle
    // connections quickly; keep-alive keeps the waiting one.
    if !netns {
        eprintln!(
            "\n**********************************************************************\n\
             * netns: dead-peer and NAT-idle steps SKIPPED (no namespaces, no\n\
             * nftables: nothing can drop packets or forget NAT state on loopback)\n\
             **********************************************************************\n"
        );
        return;
    }
    dead_peer(&t);
    nat_state_kept(&t);
}

/// Step 6 of [`nat_gateway_topologies`] (namespaces only): the gateway forgets idle TCP
/// connections after 2 x Heartbeat Interval (conntrack's established timeout, as a NAT
/// router with a short idle timeout does). fd-nat's waiting connection stays idle for
/// several times that; TCP keep-alive (every Heartbeat Interval, both ends) keeps the
/// gateway's state, so the next job runs over the same connection (the FD did not have to
/// dial again).
fn nat_state_kept(t: &Topology) {
    let fd = t.fd_nat.name;
    let gw = format!("{}-gw", t.prefix.as_deref().expect("netns"));
    wait_for(
        t,
        "fd-nat's waiting connection",
        Duration::from_secs(60),
        || waiting(t, fd),
    );
    let idle_timeout = 2 * NAT_HEARTBEAT;
    run(Command::new("ip").args([
        "netns",
        "exec",
        &gw,
        "sysctl",
        "-qw",
        &format!("net.netfilter.nf_conntrack_tcp_timeout_established={idle_timeout}"),
    ]));
    let dialled = |t: &Topology| t.log(fd).matches("connected, waiting for jobs").count();
    let before = dialled(t);
    // The scenario is the idle time itself: nothing to poll for.
    std::thread::sleep(Duration::from_secs(4 * idle_timeout));
    let (_, msgs) = t.run_job(&format!("run job={} yes", job_name(&t.fd_nat, &t.sd_wan)));
    assert!(
        msgs.contains("Using Client Initiated Connection (fd-nat).")
            && msgs.contains("Termination:            Backup OK"),
        "{msgs}"
    );
    // The job used the connection that waited through the idle time: the FD dialled only the
    // spare connection that replaces it.
    wait_for(
        t,
        "fd-nat's spare connection",
        Duration::from_secs(60),
        || dialled(t) == before + 1,
    );
    eprintln!(
        "netns: the waiting connection survived {} s idle behind a NAT that forgets after {idle_timeout} s",
        4 * idle_timeout
    );
}

/// Whether `status dir` lists a waiting connection of `client`.
fn waiting(t: &Topology, client: &str) -> bool {
    t.console(&["status dir"])
        .split_once("Client Initiated Connections (waiting for jobs):")
        .is_some_and(|(_, b)| b.contains(client))
}

/// Step 5 of [`nat_gateway_topologies`] (namespaces only).
fn dead_peer(t: &Topology) {
    let fd = t.fd_nat.name;
    wait_for(
        t,
        "fd-nat's waiting connection",
        Duration::from_secs(60),
        || waiting(t, fd),
    );
    let gw = format!("{}-gw", t.prefix.as_deref().expect("netns"));
    let ended = |t: &Topology| t.log(fd).matches("the waiting connection ended").count();
    let ended_before = ended(t);
    // fd-nat dials from the LAN namespace's first address, not its listening one: cut every
    // packet between the LAN and the Director's port (only fd-nat dials it from there).
    let cut_rules = format!(
        "table inet cut {{\n chain forward {{\n type filter hook forward priority -10; \
         policy accept;\n iifname \"glan\" ip daddr {a} tcp dport {p} counter drop\n \
         oifname \"glan\" ip saddr {a} tcp sport {p} counter drop\n }}\n}}\n",
        a = t.dir.address,
        p = t.dir.dport
    );
    let dropped_before = t.nft_counter("gw", "forward");
    nft(&gw, &cut_rules);
    let cut = Instant::now();
    // 4 x 3 s after the last packet; generous slack, still well below the kernel default's
    // 10 x 3 s.
    let bound = Duration::from_secs(4 * NAT_HEARTBEAT + 10);
    wait_for(
        t,
        "the Director dropping fd-nat's dead waiting connection",
        Duration::from_secs(120),
        || !waiting(t, fd),
    );
    let dir_took = cut.elapsed();
    wait_for(
        t,
        "fd-nat noticing its dead waiting connection",
        Duration::from_secs(120),
        || ended(t) > ended_before,
    );
    let fd_took = cut.elapsed();
    eprintln!(
        "netns: dead peer: the Director dropped the waiting connection after {} ms, the FD \
         noticed after {} ms (Heartbeat Interval {NAT_HEARTBEAT} s)",
        dir_took.as_millis(),
        fd_took.as_millis()
    );
    assert!(
        dir_took <= bound && fd_took <= bound,
        "dead peer noticed after {dir_took:?} (Director) / {fd_took:?} (FD), more than {bound:?}"
    );
    assert!(
        t.nft_counter("gw", "forward") > dropped_before,
        "the cut dropped nothing"
    );
    run(Command::new("ip").args([
        "netns", "exec", &gw, "nft", "delete", "table", "inet", "cut",
    ]));
    // Back: the FD dials again (its back-off is at most 2 x 15 s dial time + a few seconds
    // here) and the next job uses the new connection.
    wait_for(
        t,
        "fd-nat's new waiting connection after the link came back",
        Duration::from_secs(120),
        || waiting(t, fd),
    );
    let (_, msgs) = t.run_job(&format!("run job={} yes", job_name(&t.fd_nat, &t.sd_wan)));
    assert!(
        msgs.contains("Using Client Initiated Connection (fd-nat).")
            && msgs.contains("Termination:            Backup OK"),
        "{msgs}"
    );
}
