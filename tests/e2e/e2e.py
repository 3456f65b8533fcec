#!/usr/bin/env python3
"""e2e.py - offport on live traffic of real clients and servers.

Two network namespaces created here, a client side and a server side, are
joined by a veth pair (IPv4 10.231.0.0/24, IPv6 fd31::/64) and a VXLAN
device over it (10.232.0.0/24, VNI 4242). Every scenario starts real servers
(nginx, OpenSSH, OpenSSL s_server, dnsmasq, OpenSMTPD, mosquitto, redis,
ngIRCd, TigerVNC, ...) in the server namespace, runs offport live on the
client side's veth (`offport --json -i`) while tcpdump writes the same
traffic to a capture, drives real clients (curl, ssh, dig, swaks, openssl
s_client, mosquitto_pub, redis-cli, ...), stops both with SIGINT, and then
asserts, for offport's live output and for offport run on the capture:

- the alerts are exactly the scenario's (reason, protocol, server port), and
  the two runs agree flow by flow (protocol, 5-tuple, alerts);
- the flows the scenario expects are there, named as expected;
- live: every packet the kernel counted was read (stats.capture), none was
  dropped, and the accounting is complete;
- the scenario's own checks (evidence, tunnel, orientation, timing).

One scenario, policy_reload_ssh_443, runs offport itself, live only: a
--policy file rewritten under a running offport and reloaded by SIGHUP
(allowed, then alerted by the new rule, then a broken file that leaves the
policy in force), with the JSON in an --eve file and the text alert lines
on standard output, each awaited while offport runs; it has no capture and
is skipped without root.

The captures of the last recording are kept in tests/e2e/captures/ and are
golden test cases (tests/golden/cases.tsv, e2e_*). Without the privileges
for namespaces, the same assertions run on those stored captures and the
live part is skipped with a message (exit status 77, ctest's skip), unless
OFFPORT_E2E_REQUIRED=1 (CI), which makes the skip a failure.

Every server and client runs under `timeout` and is stopped by PID; the
namespaces (and the veth and VXLAN devices in them) are deleted at exit.
No address outside the two namespaces is used.

usage: e2e.py --offport PATH [--only NAME,...] [--record] [--keep DIR] [--list]
"""
import argparse
import json
import os
import pathlib
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
STORED = HERE / "captures"

C_IP, S_IP = "10.231.0.1", "10.231.0.2"
C_IP6, S_IP6 = "fd31::1", "fd31::2"
C_VX, S_VX = "10.232.0.1", "10.232.0.2"
VNI = 4242
NAME = "e2e.offport.test"
# The scenarios' own programs run with the system's interpreter, which has
# the Debian packages (python3-websockets) that scripts/setup.sh installs.
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"

PROGRAMS = ["ip", "tcpdump", "nginx", "openssl", "curl", "ssh", "/usr/sbin/sshd", "dnsmasq",
            "dig", "/usr/sbin/smtpd", "swaks", "mosquitto", "mosquitto_pub", "redis-server",
            "redis-cli", "/usr/sbin/ngircd", "nc", "Xvnc", "xrdp", "xfreerdp", "xvfb-run", "python3"]


class Fail(Exception):
    pass


# ---- running things ---------------------------------------------------------

class Net:
    """The two namespaces, their links, and everything started in them."""

    def __init__(self, work):
        tag = str(os.getpid())
        self.c, self.s = f"ope2e{tag}c", f"ope2e{tag}s"
        self.vc, self.vs = f"oe{tag}c", f"oe{tag}s"
        self.work = work
        self.procs = []
        self.up = False

    def ip(self, *args):
        subprocess.run(["ip", *args], check=True, timeout=10, capture_output=True)

    def create(self):
        self.up = True
        for ns in (self.c, self.s):
            self.ip("netns", "add", ns)
        self.ip("link", "add", self.vc, "netns", self.c, "type", "veth", "peer", "name", self.vs,
                "netns", self.s)
        for ns, dev, a4, a6, vx, peer in ((self.c, self.vc, C_IP, C_IP6, C_VX, S_IP),
                                          (self.s, self.vs, S_IP, S_IP6, S_VX, C_IP)):
            n = ["-n", ns]
            # No router solicitations, no duplicate address detection: the
            # link carries only what the scenarios send.
            for k in ("net.ipv6.conf.all.accept_ra=0", "net.ipv6.conf.default.accept_ra=0",
                      "net.ipv6.conf.all.router_solicitations=0",
                      "net.ipv6.conf.default.router_solicitations=0"):
                subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", k], timeout=10,
                               capture_output=True)
            self.ip(*n, "link", "set", "lo", "up")
            self.ip(*n, "addr", "add", f"{a4}/24", "dev", dev)
            self.ip(*n, "addr", "add", f"{a6}/64", "dev", dev, "nodad")
            self.ip(*n, "link", "set", dev, "up")
            self.ip(*n, "link", "add", "vx0", "type", "vxlan", "id", str(VNI), "remote", peer,
                    "local", a4, "dstport", "4789", "dev", dev)
            self.ip(*n, "addr", "add", f"{vx}/24", "dev", "vx0")
            self.ip(*n, "link", "set", "vx0", "up")

    def destroy(self):
        for p in self.procs:
            stop(p)
        self.procs = []
        if self.up:
            for ns in (self.c, self.s):
                subprocess.run(["ip", "netns", "del", ns], timeout=10, capture_output=True)
            self.up = False

    def run(self, ns, args, secs=15, stdin=None, check=False):
        """A client: runs to its end, at most secs seconds."""
        p = subprocess.run(["ip", "netns", "exec", ns, "timeout", str(secs), *args],
                           input=stdin, capture_output=True, timeout=secs + 5)
        if check and p.returncode != 0:
            raise Fail(f"{args[0]} exited {p.returncode}: {p.stderr.decode(errors='replace')[-400:]}")
        return p

    def bg(self, ns, args, secs=30, log=None):
        """A server: in the background, at most secs seconds, stopped by PID."""
        out = open(log or os.devnull, "ab")
        p = subprocess.Popen(["ip", "netns", "exec", ns, "timeout", str(secs), *args],
                             stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            stop(p)
        self.procs = []

    def wait_listen(self, ns, proto, port, secs=10):
        flag = "-Hltn" if proto == "tcp" else "-Hlun"
        end = time.monotonic() + secs
        while time.monotonic() < end:
            p = subprocess.run(["ip", "netns", "exec", ns, "ss", flag], capture_output=True,
                               timeout=10)
            for line in p.stdout.decode().splitlines():
                cols = line.split()
                if len(cols) >= 4 and cols[3].rsplit(":", 1)[-1] == str(port):
                    return
            for q in self.procs:
                if q.poll() is not None and q.returncode not in (0, None):
                    break
            time.sleep(0.05)
        raise Fail(f"nothing listens on {proto}/{port} in the server namespace")


def stop(p, sig=signal.SIGTERM):
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def wait_line(p, needle, secs=10):
    """Reads p's stderr until a line holds needle; returns what was read."""
    buf = b""
    end = time.monotonic() + secs
    fd = p.stderr.fileno()
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
            if needle.encode() in buf:
                return buf.decode(errors="replace")
        elif p.poll() is not None:
            break
    raise Fail(f"no '{needle}' from {p.args[3]}: {buf.decode(errors='replace')[-300:]}")


class Capture:
    """offport live and tcpdump, on the client side's veth."""

    def __init__(self, net, offport, pcap, stop_signal=signal.SIGINT):
        self.net, self.offport, self.pcap = net, offport, pcap
        self.stop_signal = stop_signal

    def __enter__(self):
        n = self.net
        self.tcpdump = subprocess.Popen(
            ["ip", "netns", "exec", n.c, "tcpdump", "-i", n.vc, "-s", "0", "-B", "32768", "-U", "--immediate-mode", "-n", "-w",
             str(self.pcap)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.live_out = open(str(self.pcap)[:-5] + ".live.json", "w+b")
        self.live = subprocess.Popen(["ip", "netns", "exec", n.c, self.offport, "--json", "-i", n.vc],
                                     stdout=self.live_out, stderr=subprocess.PIPE)
        wait_line(self.tcpdump, "listening on")
        self.live_err = wait_line(self.live, "listening on")
        return self

    def __exit__(self, *exc):
        for p in (self.live, self.tcpdump):
            if p.poll() is None:
                p.send_signal(self.stop_signal if p is self.live else signal.SIGINT)
        for p in (self.live, self.tcpdump):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        return False

    def live_records(self):
        if self.live.returncode != 0:
            err = self.live.stderr.read().decode(errors="replace")
            raise Fail(f"offport live exited {self.live.returncode}: {err[-400:]}")
        self.live_out.seek(0)
        return [json.loads(line) for line in self.live_out.read().decode().splitlines()]


def offport_file(offport, pcap):
    p = subprocess.run([offport, "--json", "-r", str(pcap)], capture_output=True, timeout=120)
    if p.returncode != 0:
        raise Fail(f"offport -r {pcap.name} exited {p.returncode}: {p.stderr.decode()[-400:]}")
    return [json.loads(line) for line in p.stdout.decode().splitlines()]


# ---- what the records say ---------------------------------------------------

def alerts(recs):
    return [r for r in recs if r.get("event_type") == "alert"]


def flows(recs):
    return [r for r in recs if r.get("event_type") == "flow"]


def stats(recs):
    s = [r for r in recs if r.get("event_type") == "stats"]
    if len(s) != 1:
        raise Fail(f"{len(s)} stats records")
    return s[0]["stats"]


def tuple5(r):
    return (r["proto"], r["src_ip"], r["src_port"], r["dest_ip"], r["dest_port"])


def summary(recs):
    """What must agree between live and capture: per flow, its protocol and
    its alert."""
    a = {tuple5(r): r["offport"]["reason"] for r in alerts(recs)}
    return sorted((tuple5(f), f.get("app_proto"), a.get(tuple5(f))) for f in flows(recs))


def evidence(r):
    return r.get("offport", {}).get("evidence", {})


def check_records(sc, recs, where):
    got = sorted((a["offport"]["reason"], a["app_proto"], a["dest_port"]) for a in alerts(recs))
    want = sorted(sc.alerts)
    if got != want:
        raise Fail(f"{where}: alerts {got}, want {want}")
    fl = flows(recs)
    for proto, port in sc.flows:
        if not any(f.get("app_proto") == proto and f["dest_port"] == port for f in fl):
            seen = sorted({(f.get("app_proto"), f["dest_port"]) for f in fl}, key=str)
            raise Fail(f"{where}: no {proto} flow to port {port}; flows: {seen}")
    st = stats(recs)
    acc = st["accounting"]
    if not acc["complete"]:
        raise Fail(f"{where}: accounting incomplete: {acc}")
    if sc.check:
        sc.check(recs, where)


def check_live_capture(st, where):
    cap = st.get("capture")
    if not cap:
        raise Fail(f"{where}: no stats.capture (pcap_stats) in a live run")
    if cap["kernel_drops"] != 0 or cap["kernel_ifdrops"] != 0:
        raise Fail(f"{where}: the kernel dropped packets: {cap}")
    if st["packets"] != cap["kernel_packets"]:
        raise Fail(f"{where}: read {st['packets']} packets, the kernel counted "
                   f"{cap['kernel_packets']}")


# ---- servers ----------------------------------------------------------------

class Kit:
    """Servers and clients of the scenarios, bound to one Net."""

    def __init__(self, net, work):
        self.n, self.w = net, pathlib.Path(work)
        self.www = self.w / "www"
        self.www.mkdir(exist_ok=True)
        (self.www / "index.html").write_text("<html>offport e2e</html>\n")
        with open(self.www / "bulk.bin", "wb") as f:
            f.write(os.urandom(1 << 20) * 4)
        self.cert, self.key = self.w / "cert.pem", self.w / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                        "-subj", f"/CN={NAME}", "-addext", f"subjectAltName=DNS:{NAME}",
                        "-keyout", str(self.key), "-out", str(self.cert)],
                       check=True, capture_output=True, timeout=60)
        os.chmod(self.key, 0o600)
        self.hostkey = self.w / "ssh_host_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.hostkey)],
                       check=True, timeout=30)
        os.makedirs("/run/sshd", exist_ok=True)
        self.count = 0

    def log(self, what):
        self.count += 1
        return str(self.w / f"{self.count:03d}-{what}.log")

    # nginx: plain HTTP or HTTPS, on one port, IPv4 and IPv6
    def nginx(self, port, tls=False, addr=S_IP, rate=None):
        d = self.w / f"nginx{self.count}"
        d.mkdir()
        listen = f"{addr}:{port}" if ":" not in addr else f"[{addr}]:{port}"
        ssl = f" ssl;\n ssl_certificate {self.cert};\n ssl_certificate_key {self.key}" if tls else ""
        (d / "nginx.conf").write_text(f"""
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
 access_log off;
 client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
 uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
 server {{
  listen {listen}{ssl};
  server_name {NAME};
  root {self.www};{f"{chr(10)}  limit_rate {rate};" if rate else ""}
 }}
}}
""")
        self.n.bg(self.n.s, ["nginx", "-p", str(d), "-c", str(d / "nginx.conf")], log=self.log("nginx"))
        self.n.wait_listen(self.n.s, "tcp", port)

    def s_server(self, port):
        self.n.bg(self.n.s, ["openssl", "s_server", "-quiet", "-accept", f"{S_IP}:{port}", "-cert",
                             str(self.cert), "-key", str(self.key), "-www"], log=self.log("s_server"))
        self.n.wait_listen(self.n.s, "tcp", port)

    def sshd(self, port, addr=S_IP):
        conf = self.w / f"sshd{port}.conf"
        conf.write_text(f"Port {port}\nListenAddress {addr}\nHostKey {self.hostkey}\n"
                        f"PidFile {self.w}/sshd{port}.pid\nUsePAM no\nPasswordAuthentication no\n"
                        "KbdInteractiveAuthentication no\n")
        self.n.bg(self.n.s, ["/usr/sbin/sshd", "-D", "-e", "-f", str(conf)], log=self.log("sshd"))
        self.n.wait_listen(self.n.s, "tcp", port)

    def dnsmasq(self, port):
        self.n.bg(self.n.s, ["dnsmasq", "--no-daemon", f"--port={port}", f"--listen-address={S_IP}",
                             "--bind-interfaces", "--no-resolv", "--no-hosts", "--pid-file=",
                             f"--address=/{NAME}/192.0.2.10"], log=self.log("dnsmasq"))
        self.n.wait_listen(self.n.s, "udp", port)
        self.n.wait_listen(self.n.s, "tcp", port)

    def smtpd(self, port, mode=""):
        d = self.w / f"smtpd{self.count}"
        d.mkdir()
        os.chmod(d, 0o777)
        tls = {"starttls": f" tls pki {NAME}", "smtps": f" smtps pki {NAME}", "": ""}[mode]
        (d / "smtpd.conf").write_text(f"""pki {NAME} cert "{self.cert}"
pki {NAME} key "{self.key}"
listen on {S_IP} port {port}{tls} hostname {NAME}
action "keep" mbox
match from any for any action "keep"
""")
        self.n.bg(self.n.s, ["/usr/sbin/smtpd", "-d", "-f", str(d / "smtpd.conf")], log=self.log("smtpd"))
        self.n.wait_listen(self.n.s, "tcp", port)

    def mosquitto(self, port):
        conf = self.w / f"mosquitto{port}.conf"
        conf.write_text(f"listener {port} {S_IP}\nallow_anonymous true\npersistence false\n")
        self.n.bg(self.n.s, ["mosquitto", "-c", str(conf)], log=self.log("mosquitto"))
        self.n.wait_listen(self.n.s, "tcp", port)

    def redis(self, port):
        self.n.bg(self.n.s, ["redis-server", "--port", str(port), "--bind", S_IP, "--save", "",
                             "--appendonly", "no", "--protected-mode", "no", "--dir", str(self.w)],
                  log=self.log("redis"))
        self.n.wait_listen(self.n.s, "tcp", port)

    def ngircd(self, port):
        conf = self.w / f"ngircd{port}.conf"
        conf.write_text(f"""[Global]
Name = irc.{NAME}
Info = offport e2e
Listen = {S_IP}
Ports = {port}
PidFile = {self.w}/ngircd{port}.pid
MotdPhrase = offport e2e
ServerUID = nobody
ServerGID = nogroup
[Options]
Ident = no
PAM = no
DNS = no
[SSL]
""")
        self.n.bg(self.n.s, ["/usr/sbin/ngircd", "-n", "-f", str(conf)], log=self.log("ngircd"))
        self.n.wait_listen(self.n.s, "tcp", port)

    def xvnc(self, port):
        # A display number of our own; X itself listens on no TCP port.
        self.n.bg(self.n.s, ["Xvnc", f":{60 + port % 30}", "-rfbport", str(port), "-interface", S_IP,
                             "-SecurityTypes", "None", "-nolisten", "tcp", "-geometry", "320x200"],
                  log=self.log("xvnc"))
        self.n.wait_listen(self.n.s, "tcp", port)

    def xrdp(self, port):
        ini = (pathlib.Path("/etc/xrdp/xrdp.ini")).read_text()
        ini = ini.replace("\nport=3389\n", f"\nport=tcp://{S_IP}:{port}\n", 1)
        ini = ini.replace("\ncertificate=\n", f"\ncertificate={self.cert}\n", 1)
        ini = ini.replace("\nkey_file=\n", f"\nkey_file={self.key}\n", 1)
        conf = self.w / "xrdp.ini"
        conf.write_text(ini)
        self.n.bg(self.n.s, ["xrdp", "--nodaemon", "--config", str(conf)], log=self.log("xrdp"))
        self.n.wait_listen(self.n.s, "tcp", port)

    def python_server(self, port, code, proto="tcp", *args):
        """A custom protocol's server: the protocol is the program's own."""
        self.n.bg(self.n.s, [PY, "-c", code, S_IP, str(port), *args], log=self.log("py"))
        self.n.wait_listen(self.n.s, proto, port)

    # clients
    def curl(self, url, *extra, secs=15):
        return self.n.run(self.n.c, ["curl", "-sS", "-o", "/dev/null", "-k", "--max-time", str(secs - 2),
                                     "-A", "offport-e2e/1", *extra, url], secs=secs, check=True)

    def s_client(self, port, addr=S_IP, via=None):
        target = via or f"{addr}:{port}"
        return self.n.run(self.n.c, ["openssl", "s_client", "-quiet", "-connect", target,
                                     "-servername", NAME], stdin=b"GET / HTTP/1.0\r\n\r\n")

    def ssh(self, port, addr=S_IP):
        return self.n.run(self.n.c, ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                                     "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5",
                                     "-p", str(port), f"nobody@{addr}", "true"])

    def nc(self, port, data, wait=1, addr=S_IP):
        return self.n.run(self.n.c, ["nc", "-q", str(wait), addr, str(port)], stdin=data)


# ---- custom protocols (the adversary's own programs) --------------------------

# Reads one message, answers with bytes of its own shape; the client is the
# same program's other half. argv: address, port, mode.
CUSTOM = r"""
import os, socket, sys
addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def answer(first):
    if mode == "random": return os.urandom(240)
    if mode == "faketls": return bytes.fromhex("1603010040") + os.urandom(64)
    return b""
if len(sys.argv) > 4:   # client
    if mode == "udp":
        k = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); k.settimeout(5)
        k.sendto(os.urandom(90), (addr, port)); k.recvfrom(65536); sys.exit(0)
    k = socket.create_connection((addr, port), timeout=5)
    hello = os.urandom(180) if mode == "random" else bytes.fromhex("1603010080") + os.urandom(128)
    k.sendall(hello); k.recv(65536); k.close(); sys.exit(0)
if mode == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((addr, port))
    while True:
        data, peer = s.recvfrom(65536); s.sendto(os.urandom(120), peer)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port)); s.listen(4)
while True:
    c, _ = s.accept(); first = c.recv(65536); c.sendall(answer(first)); c.close()
"""

# A relay that sends what its client writes one byte per TCP segment
# (TCP_NODELAY, a pause between bytes), as an evasive client does.
# argv: listen port, target address, target port.
ONE_BYTE = r"""
import socket, sys, threading, time
lport, taddr, tport = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", lport)); s.listen(1)
c, _ = s.accept()
t = socket.create_connection((taddr, tport), timeout=10)
t.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def back():
    try:
        while True:
            d = t.recv(65536)
            if not d: break
            c.sendall(d)
    except OSError: pass
    c.close()
threading.Thread(target=back, daemon=True).start()
try:
    while True:
        d = c.recv(65536)
        if not d: break
        for b in d:
            t.send(bytes([b])); time.sleep(0.002)
except OSError: pass
t.shutdown(socket.SHUT_WR); time.sleep(1); t.close()
"""

WEBSOCKET = r"""
import asyncio, sys, websockets
addr, port = sys.argv[1], int(sys.argv[2])
async def echo(ws, path=None):
    async for m in ws: await ws.send(m)
async def serve():
    async with websockets.serve(echo, addr, port): await asyncio.Future()
async def client():
    async with websockets.connect(f"ws://{addr}:{port}/c2") as ws:
        await ws.send("beacon"); await ws.recv()
asyncio.run(client() if len(sys.argv) > 3 else serve())
"""


# ---- scenarios --------------------------------------------------------------

class Scenario:
    """run drives the clients inside the suite's Capture; a scenario with
    live instead runs offport itself (live(offport, work, scenario) asserts
    and returns what to print): live only, no capture, skipped in replay."""

    def __init__(self, name, what, run, alerts=(), flows=(), check=None, store=True, live=None):
        self.name, self.what, self.run = name, what, run
        self.alerts, self.flows, self.check, self.store = list(alerts), list(flows), check, store
        self.live = live
        if live:
            self.store = False


def need(cond, msg):
    if not cond:
        raise Fail(msg)


def one_flow(recs, port):
    fl = [f for f in flows(recs) if f["dest_port"] == port]
    need(len(fl) == 1, f"{len(fl)} flows to port {port}, want 1")
    return fl[0]


def one_alert(recs):
    a = alerts(recs)
    need(len(a) == 1, f"{len(a)} alerts, want 1")
    return a[0]


def ev_is(key, value):
    def check(recs, where):
        got = evidence(one_alert(recs)).get(key)
        need(got == value, f"{where}: evidence {key}={got!r}, want {value!r}")
    return check


def ts(s):
    # 2026-11-27T04:41:37.319401+0000
    from datetime import datetime
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def check_src_port(recs, where):
    a = one_alert(recs)
    need(a["src_port"] == 443 and a["dest_port"] == 1224 and a["src_ip"] == C_IP,
         f"{where}: alert {a['src_ip']}:{a['src_port']} -> {a['dest_port']}, want "
         f"{C_IP}:443 -> 1224")


def check_bulk(recs, where):
    a = one_alert(recs)
    f = one_flow(recs, 1224)
    need(f["flow"]["bytes_toclient"] >= 4 << 20, f"{where}: {f['flow']['bytes_toclient']} bytes "
         "to the client, want the whole 4 MiB body")
    start, end, decided = ts(f["flow"]["start"]), ts(f["flow"]["end"]), ts(a["timestamp"])
    need(end - start >= 1.5, f"{where}: the transfer took {end - start:.2f} s, want >= 1.5")
    need(decided - start < 0.5, f"{where}: decided {decided - start:.2f} s after the start")
    need(f["offport"]["end_reason"] == "fin", f"{where}: end {f['offport']['end_reason']}")


def check_burst(recs, where):
    f = one_flow(recs, 1224)
    need(f["flow"]["bytes_toclient"] >= 4 << 20, f"{where}: {f['flow']['bytes_toclient']} bytes "
         "to the client, want the whole 4 MiB body")
    need(f["offport"]["end_reason"] == "fin", f"{where}: end {f['offport']['end_reason']}")


def check_open_at_stop(recs, where):
    f = one_flow(recs, 443)
    need(f["offport"]["end_reason"] == "eof" and f["flow"]["state"] == "established",
         f"{where}: end {f['offport']['end_reason']}, state {f['flow']['state']}: want a flow "
         "still open at the stop")


def check_one_byte(recs, where):
    ev_is("sni", NAME)(recs, where)
    f = one_flow(recs, 8088)
    need(f["flow"]["pkts_toserver"] >= 200, f"{where}: {f['flow']['pkts_toserver']} "
         "packets to the server, want the hello in one-byte segments")


def check_ipv6(recs, where):
    a = one_alert(recs)
    need(a["src_ip"] == C_IP6 and a["dest_ip"] == S_IP6, f"{where}: alert {a['src_ip']} -> {a['dest_ip']}")


def check_vxlan(recs, where):
    a = one_alert(recs)
    t = a.get("offport", {}).get("tunnel") or a.get("tunnel")
    need(t and t.get("type") == "vxlan" and t.get("id") == VNI,
         f"{where}: alert tunnel {t}, want vxlan {VNI}")
    need(a["dest_ip"] == S_VX, f"{where}: inner server {a['dest_ip']}, want {S_VX}")


def check_dns_both(recs, where):
    fl = [f for f in flows(recs) if f["dest_port"] == 53 and f.get("app_proto") == "dns"]
    need({f["proto"] for f in fl} == {"UDP", "TCP"}, f"{where}: dns flows {[f['proto'] for f in fl]}")


# ---- the site policy reloaded live (SIGHUP) --------------------------------------

POLICY_ALLOW = "default registry\nallow proto=ssh port=tcp/443 name=first-allow\n"
POLICY_ALERT = "default registry\nalert proto=ssh severity=1 name=second\n"
POLICY_BROKEN = "default registry\nalert proto=nosuchproto name=broken\n"


def offport_pid(p, offport, secs=5):
    """The PID of offport itself under `ip netns exec`: iproute2 execs in
    place (then p.pid is offport's), but a forking `ip` would leave it in a
    child; either way the answer is the process whose executable is offport."""
    want = os.path.realpath(offport)
    end = time.monotonic() + secs
    while time.monotonic() < end:
        todo = [p.pid]
        while todo:
            pid = todo.pop()
            try:
                if os.readlink(f"/proc/{pid}/exe") == want:
                    return pid
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    todo += [int(x) for x in f.read().split()]
            except OSError:
                pass
        if p.poll() is not None:
            break
        time.sleep(0.05)
    raise Fail(f"no offport process under PID {p.pid}")


def read_records(path):
    """The complete JSON lines written so far (a last line may be partial)."""
    data = pathlib.Path(path).read_bytes()
    return [json.loads(line) for line in data[:data.rfind(b"\n") + 1].decode().splitlines()]


def policy_reload(k, offport, work, name):
    """offport live with a policy that allows SSH on 443; one SSH
    connection (no alert); the policy rewritten to alert on SSH and SIGHUP
    (reloaded); a second connection (an alert by rule "second"); a broken
    file and SIGHUP (the policy in force is kept); a third connection (an
    alert by rule "second" still); SIGINT. The JSON goes to an --eve file,
    the text alert lines to standard output. Each connection's flow record
    (and its alert line) is awaited before the next step
    (--timeout-tcp-closed 1 ends a closed flow a second after its FINs), so
    no packet of it can meet the next policy; both outputs must reach their
    files while offport runs (the live flush). No
    other traffic runs: the flow records must come on a quiet link, where
    offport's clock moves by its read timeouts alone."""
    n = k.n
    pol = work / f"{name}.policy"
    pol.write_text(POLICY_ALLOW)
    k.sshd(443)
    out_path = work / f"{name}.live.json"
    txt_path = work / f"{name}.live.txt"
    txt = open(txt_path, "wb")
    p = subprocess.Popen(["ip", "netns", "exec", n.c, offport, "--eve", str(out_path), "--no-dedup",
                          "--policy", str(pol), "--timeout-tcp-closed", "1", "-i", n.vc],
                         stdout=txt, stderr=subprocess.PIPE)
    txt.close()
    err = ""
    try:
        err += wait_line(p, "listening on")
        pid = offport_pid(p, offport)

        def connect(count, text_alerts):
            """One SSH connection; waits for its flow record in the --eve
            file and for text_alerts alert lines on standard output, both
            written while offport runs (the live flush reaches both)."""
            k.ssh(443)
            got, lines = 0, []
            end = time.monotonic() + 10
            while time.monotonic() < end:
                got = len([f for f in flows(read_records(out_path)) if f["dest_port"] == 443])
                lines = [l for l in txt_path.read_text(errors="replace").splitlines() if " [**] [1:" in l]
                if got >= count and len(lines) >= text_alerts:
                    return
                if p.poll() is not None:
                    break
                time.sleep(0.05)
            raise Fail(f"SSH connection {count}: {got} flow records in the --eve file and "
                       f"{len(lines)} text alert lines within 10 s, want {count} and {text_alerts}")

        def reload(text, needle):
            nonlocal err
            pol.write_text(text)
            os.kill(pid, signal.SIGHUP)
            err += wait_line(p, needle)

        connect(1, 0)
        reload(POLICY_ALERT, "policy reloaded from")
        need(f"policy reloaded from {pol}: 1 rule, default registry" in err,
             f"reload message: {err[-300:]}")
        connect(2, 1)
        reload(POLICY_BROKEN, "the policy in force is kept")
        need(f"{pol}:2: unknown protocol 'nosuchproto'" in err, f"failed reload message: {err[-300:]}")
        connect(3, 2)
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        err += p.stderr.read().decode(errors="replace")
        p.stderr.close()
    need(p.returncode == 0, f"offport live exited {p.returncode}: {err[-400:]}")
    return read_records(out_path), pid


def check_policy_reload(recs, where):
    conns = sorted((f for f in flows(recs) if f["dest_port"] == 443), key=lambda f: ts(f["flow"]["start"]))
    need(len(conns) == 3, f"{where}: {len(conns)} flows to 443, want 3 SSH connections")
    by_flow = {tuple5(a): a for a in alerts(recs)}
    want = [None, "second", "second"]
    for i, (f, rule) in enumerate(zip(conns, want), 1):
        a = by_flow.get(tuple5(f))
        o = f["offport"]
        if rule is None:
            need(a is None, f"{where}: connection 1 alerted ({a and a['offport'].get('rule')}), "
                 "want none: allowed by rule first-allow")
            need(o.get("decided_by") == "policy" and o.get("rule") == "first-allow",
                 f"{where}: connection 1 decided by {o.get('decided_by')} rule {o.get('rule')}, "
                 "want policy first-allow")
            continue
        need(a is not None, f"{where}: connection {i} did not alert, want rule {rule}")
        ao = a["offport"]
        need(ao.get("decided_by") == "policy" and ao.get("rule") == rule,
             f"{where}: connection {i} alert decided by {ao.get('decided_by')} rule {ao.get('rule')}, "
             f"want policy {rule}")
    pol = stats(recs)["detection"]["policy"]
    need(pol["reloads"] == 1 and pol["reload_failures"] == 1,
         f"{where}: stats policy reloads {pol['reloads']}, reload_failures {pol['reload_failures']}, "
         "want 1 and 1")
    need(pol["allowed"] == 1 and pol["alerted"] == 2,
         f"{where}: stats policy allowed {pol['allowed']}, alerted {pol['alerted']}, want 1 and 2")


def run_policy_reload(k, sc, offport, work):
    recs, pid = policy_reload(k, offport, work, sc.name)
    check_records(sc, recs, "live")
    check_live_capture(stats(recs), "live")
    return (f"SIGHUP to PID {pid}: allowed by first-allow; reloaded, alert by second; "
            "broken file kept, alert by second; reloads 1, failures 1")


def scenarios(k):
    n = k.n if k else None  # k None: only the list is wanted (replay, --list)
    cs = lambda mode, port: n.run(n.c, [PY, "-c", CUSTOM, S_IP, str(port), mode, "client"],
                                  check=True)
    return [
        # -- a known protocol away from its ports (off-port) ----------------------
        Scenario("http_1224", "BeaverTail, InvisibleFerret: HTTP C2 on 1224 (nginx, curl)",
                 lambda: (k.nginx(1224), k.curl(f"http://{S_IP}:1224/index.html")),
                 [("off-port", "http", 1224)], [("http", 1224)], ev_is("http_user_agent", "offport-e2e/1")),
        Scenario("tls_2083", "WIRTE: HTTPS on 2083, cPanel's port (nginx, curl)",
                 lambda: (k.nginx(2083, tls=True), k.curl(f"https://{NAME}:2083/", "--resolve", f"{NAME}:2083:{S_IP}")),
                 [("off-port", "tls", 2083)], [("tls", 2083)], ev_is("sni", NAME)),
        Scenario("ssh_6789", "Sandworm Team: SSH (Dropbear backdoor) on 6789 (sshd, ssh)",
                 lambda: (k.sshd(6789), k.ssh(6789)),
                 [("off-port", "ssh", 6789)], [("ssh", 6789)]),
        Scenario("dns_5300", "DNS on a port of its own (dnsmasq, dig)",
                 lambda: (k.dnsmasq(5300), n.run(n.c, ["dig", "+tries=1", "+time=2", "-p", "5300", f"@{S_IP}", NAME, "A"], check=True)),
                 [("off-port", "dns", 5300)], [("dns", 5300)]),
        Scenario("mqtt_4444", "MQTT on DarkVishnya's 4444 (mosquitto, mosquitto_pub)",
                 lambda: (k.mosquitto(4444), n.run(n.c, ["mosquitto_pub", "-h", S_IP, "-p", "4444", "-t", "e2e", "-m", "beacon", "-i", "e2e-client"], check=True)),
                 [("off-port", "mqtt", 4444)], [("mqtt", 4444)]),
        Scenario("rfb_44443", "RTM: VNC on 44443 (TigerVNC Xvnc, a client answering its banner)",
                 lambda: (k.xvnc(44443), k.nc(44443, b"RFB 003.008\n", wait=1)),
                 [("off-port", "rfb", 44443)], [("rfb", 44443)]),
        Scenario("rdp_28035", "C0018: RDP to a victim on 28035 (xrdp, FreeRDP's xfreerdp under Xvfb)",
                 lambda: (k.xrdp(28035), n.run(n.c, ["xvfb-run", "-a", "xfreerdp", f"/v:{S_IP}:28035", "/u:e2e", "/p:e2e",
                                                     "/cert:ignore", "+auth-only", "/timeout:5000"], secs=20)),
                 [("off-port", "rdp", 28035)], [("rdp", 28035)]),
        Scenario("websocket_33666", "GoldenSpy: WebSocket on 33666 (python websockets)",
                 lambda: (k.python_server(33666, WEBSOCKET), n.run(n.c, [PY, "-c", WEBSOCKET, S_IP, "33666", "client"], check=True)),
                 [("off-port", "websocket", 33666)], [("websocket", 33666)]),
        # -- a port carrying another protocol than its own (unexpected) ------------
        Scenario("tls_8088", "the technique's example: HTTPS on 8088 (nginx, curl)",
                 lambda: (k.nginx(8088, tls=True), k.curl(f"https://{NAME}:8088/", "--resolve", f"{NAME}:8088:{S_IP}")),
                 [("unexpected", "tls", 8088)], [("tls", 8088)], ev_is("sni", NAME)),
        Scenario("tls_587", "the technique's example: TLS on the mail port 587 (s_server, s_client)",
                 lambda: (k.s_server(587), k.s_client(587)),
                 [("unexpected", "tls", 587)], [("tls", 587)]),
        Scenario("tls_143", "PoetRAT: TLS on 143 (s_server, s_client)",
                 lambda: (k.s_server(143), k.s_client(143)),
                 [("unexpected", "tls", 143)], [("tls", 143)]),
        Scenario("tls_25", "WellMail: TLS on 25 without SMTP (s_server, s_client)",
                 lambda: (k.s_server(25), k.s_client(25)),
                 [("unexpected", "tls", 25)], [("tls", 25)]),
        Scenario("http_443", "Derusbi: cleartext HTTP on 443 (nginx, curl)",
                 lambda: (k.nginx(443), k.curl(f"http://{S_IP}:443/index.html")),
                 [("unexpected", "http", 443)], [("http", 443)]),
        Scenario("http_53", "FIN7, MoonWind: HTTP on tcp/53 (nginx, curl)",
                 lambda: (k.nginx(53), k.curl(f"http://{S_IP}:53/index.html")),
                 [("unexpected", "http", 53)], [("http", 53)]),
        Scenario("http_995", "RedLeaves: HTTP on 995 (nginx, curl)",
                 lambda: (k.nginx(995), k.curl(f"http://{S_IP}:995/index.html")),
                 [("unexpected", "http", 995)], [("http", 995)]),
        Scenario("ssh_443", "SSH out through 443 (sshd, ssh)",
                 lambda: (k.sshd(443), k.ssh(443)),
                 [("unexpected", "ssh", 443)], [("ssh", 443)]),
        Scenario("redis_443", "redis on 443 (redis-server, redis-cli)",
                 lambda: (k.redis(443), n.run(n.c, ["redis-cli", "-h", S_IP, "-p", "443", "ping"], check=True)),
                 [("unexpected", "redis", 443)], [("redis", 443)]),
        Scenario("irc_8080", "IRC on an HTTP port (ngIRCd, a client over nc)",
                 lambda: (k.ngircd(8080), k.nc(8080, b"NICK e2e\r\nUSER e2e 0 * :offport e2e\r\nQUIT\r\n", wait=2)),
                 [("unexpected", "irc", 8080)], [("irc", 8080)]),
        # -- port squatting with what nobody can name (unknown, fake-tls) ----------
        Scenario("custom_443", "RotaJakiro, Sardonic, BendyBear: a binary protocol on 443",
                 lambda: (k.python_server(443, CUSTOM, "tcp", "random"), cs("random", 443)),
                 [("unknown", "unknown", 443)], [("unknown", 443)]),
        Scenario("faketls_443", "HOPLIGHT, HARDRAIN, BADCALL: fake TLS on 443",
                 lambda: (k.python_server(443, CUSTOM, "tcp", "faketls"), cs("faketls", 443)),
                 [("fake-tls", "unknown", 443)], [("unknown", 443)]),
        Scenario("custom_udp_53", "C2 datagrams on udp/53 that are not DNS",
                 lambda: (k.python_server(53, CUSTOM, "udp", "udp"), cs("udp", 53)),
                 [("unknown", "unknown", 53)], [("unknown", 53)]),
        Scenario("faketls_8000", "BADCALL: fake TLS on 8000, a port of another protocol: fake TLS counts anywhere",
                 lambda: (k.python_server(8000, CUSTOM, "tcp", "faketls"), cs("faketls", 8000)),
                 [("fake-tls", "unknown", 8000)], [("unknown", 8000)]),
        Scenario("custom_4782", "QuasarRAT: its binary protocol on 4782, a port without an entry: no finding (by design)",
                 lambda: (k.python_server(4782, CUSTOM, "tcp", "random"), cs("random", 4782)),
                 [], [("unknown", 4782)]),
        # -- how the traffic is carried ---------------------------------------------
        Scenario("src_port_443", "a client on a well-known source port (curl --local-port 443) to HTTP on 1224",
                 lambda: (k.nginx(1224), k.curl(f"http://{S_IP}:1224/", "--local-port", "443")),
                 [("off-port", "http", 1224)], [("http", 1224)], check_src_port),
        Scenario("bulk_1224", "a long transfer after the decision: 4 MiB over HTTP on 1224, nginx sending 2 MB/s",
                 lambda: (k.nginx(1224, rate="2m"), k.curl(f"http://{S_IP}:1224/bulk.bin", secs=20)),
                 [("off-port", "http", 1224)], [("http", 1224)], check_bulk, store=False),
        Scenario("burst_1224", "the same 4 MiB at full speed: a burst of large (GRO) packets, none lost",
                 lambda: (k.nginx(1224), k.curl(f"http://{S_IP}:1224/bulk.bin", secs=20)),
                 [("off-port", "http", 1224)], [("http", 1224)], check_burst, store=False),
        Scenario("one_byte_tls_8088", "a TLS handshake sent one byte per segment (s_client through a relay) to 8088",
                 lambda: (k.nginx(8088, tls=True), n.bg(n.c, [PY, "-c", ONE_BYTE, "18088", S_IP, "8088"]),
                          n.wait_listen(n.c, "tcp", 18088), k.s_client(8088, via="127.0.0.1:18088")),
                 [("unexpected", "tls", 8088)], [("tls", 8088)], check_one_byte),
        Scenario("open_at_stop_redis_443", "a redis session still open when offport stops: reported, with its alert",
                 lambda: (k.redis(443), n.bg(n.c, ["sh", "-c", f"(printf 'PING\\r\\n'; sleep 6) | nc {S_IP} 443"], secs=8),
                          time.sleep(1.0)),
                 [("unexpected", "redis", 443)], [("redis", 443)], check_open_at_stop),
        Scenario("ipv6_http_1224", "HTTP on 1224 over IPv6 (nginx, curl -6)",
                 lambda: (k.nginx(1224, addr=S_IP6), k.curl(f"http://[{S_IP6}]:1224/", "-6")),
                 [("off-port", "http", 1224)], [("http", 1224)], check_ipv6),
        Scenario("vxlan_ssh_443", "SSH on 443 inside VXLAN (a kernel vxlan device, VNI 4242)",
                 lambda: (k.sshd(443, addr=S_VX), k.ssh(443, addr=S_VX)),
                 [("unexpected", "ssh", 443)], [("ssh", 443)], check_vxlan),
        # -- normal traffic: no finding --------------------------------------------
        Scenario("https_443", "HTTPS on 443 (nginx, curl)",
                 lambda: (k.nginx(443, tls=True), k.curl(f"https://{NAME}/", "--resolve", f"{NAME}:443:{S_IP}")),
                 [], [("tls", 443)]),
        Scenario("http_80", "HTTP on 80 (nginx, curl)",
                 lambda: (k.nginx(80), k.curl(f"http://{S_IP}/index.html")), [], [("http", 80)]),
        Scenario("http_8080", "HTTP on the alternate port 8080 (nginx, curl)",
                 lambda: (k.nginx(8080), k.curl(f"http://{S_IP}:8080/index.html")), [], [("http", 8080)]),
        Scenario("ssh_22", "SSH on 22 (sshd, ssh)", lambda: (k.sshd(22), k.ssh(22)), [], [("ssh", 22)]),
        Scenario("dns_53", "DNS on 53 over UDP and TCP (dnsmasq, dig)",
                 lambda: (k.dnsmasq(53),
                          n.run(n.c, ["dig", "+tries=1", "+time=2", f"@{S_IP}", NAME, "A"], check=True),
                          n.run(n.c, ["dig", "+tcp", "+tries=1", "+time=2", f"@{S_IP}", NAME, "AAAA"], check=True)),
                 [], [("dns", 53)], check_dns_both),
        Scenario("smtp_25", "SMTP on 25 (OpenSMTPD, swaks)",
                 lambda: (k.smtpd(25), n.run(n.c, ["swaks", "--server", S_IP, "--port", "25", "--to", f"user@{NAME}", "--from", f"e2e@{NAME}", "--helo", "client.e2e"])),
                 [], [("smtp", 25)]),
        Scenario("smtp_starttls_587", "submission with STARTTLS on 587 (OpenSMTPD, swaks --tls)",
                 lambda: (k.smtpd(587, "starttls"), n.run(n.c, ["swaks", "--server", S_IP, "--port", "587", "--tls", "--to", f"user@{NAME}", "--from", f"e2e@{NAME}", "--helo", "client.e2e"])),
                 [], [("smtp", 587)]),
        Scenario("smtps_465", "implicit TLS on 465 (OpenSMTPD smtps, swaks --tlsc)",
                 lambda: (k.smtpd(465, "smtps"), n.run(n.c, ["swaks", "--server", S_IP, "--port", "465", "--tlsc", "--to", f"user@{NAME}", "--from", f"e2e@{NAME}", "--helo", "client.e2e"])),
                 [], [("tls", 465)]),
        Scenario("imaps_993", "implicit TLS on 993 (s_server, s_client)",
                 lambda: (k.s_server(993), k.s_client(993)), [], [("tls", 993)]),
        Scenario("mqtt_1883", "MQTT on 1883 (mosquitto, mosquitto_pub)",
                 lambda: (k.mosquitto(1883), n.run(n.c, ["mosquitto_pub", "-h", S_IP, "-t", "e2e", "-m", "ok"], check=True)),
                 [], [("mqtt", 1883)]),
        Scenario("redis_6379", "redis on 6379 (redis-server, redis-cli)",
                 lambda: (k.redis(6379), n.run(n.c, ["redis-cli", "-h", S_IP, "ping"], check=True)),
                 [], [("redis", 6379)]),
        Scenario("irc_6667", "IRC on 6667 (ngIRCd, a client over nc)",
                 lambda: (k.ngircd(6667), k.nc(6667, b"NICK e2e\r\nUSER e2e 0 * :offport e2e\r\nQUIT\r\n", wait=2)),
                 [], [("irc", 6667)]),
        Scenario("http_to_ssh_22", "an HTTP client at an SSH server on 22: the server's SSH decides",
                 lambda: (k.sshd(22), n.run(n.c, ["curl", "-s", "--max-time", "3", f"http://{S_IP}:22/"])),
                 [], [("ssh", 22)]),
        # -- the site policy reloaded without a restart (live only) ---------------
        Scenario("policy_reload_ssh_443", "SIGHUP reloads --policy live: SSH on 443 allowed, then alerted, then a broken file kept (sshd, ssh)",
                 None, [("unexpected", "ssh", 443)] * 2, [("ssh", 443)], check_policy_reload,
                 live=lambda offport, work, sc: run_policy_reload(k, sc, offport, work)),
    ]


# ---- driver -----------------------------------------------------------------

def live_possible():
    if os.geteuid() != 0:
        return "not root (namespaces, veth and tcpdump need root)"
    missing = [p for p in PROGRAMS if not shutil.which(p)]
    if missing:
        return "missing programs: " + " ".join(missing) + " (scripts/setup.sh --e2e installs them)"
    tag = f"ope2eprobe{os.getpid()}"
    p = subprocess.run(["ip", "netns", "add", tag], capture_output=True, timeout=10)
    if p.returncode != 0:
        return "cannot create a network namespace: " + p.stderr.decode().strip()
    subprocess.run(["ip", "netns", "del", tag], capture_output=True, timeout=10)
    return None


def replay(offport, names):
    """The scenarios' assertions on the stored captures."""
    scs = [s for s in scenarios(None) if s.store and (not names or s.name in names)]
    failed = 0
    for sc in scs:
        pcap = STORED / f"{sc.name}.pcap"
        try:
            if not pcap.exists():
                raise Fail(f"no stored capture {pcap.relative_to(HERE.parent)}")
            check_records(sc, offport_file(offport, pcap), "stored capture")
            print(f"ok   {sc.name} (stored capture)")
        except Fail as e:
            failed += 1
            print(f"FAIL {sc.name} (stored capture): {e}")
    return failed, len(scs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--offport", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--record", action="store_true",
                    help="store each scenario's capture in tests/e2e/captures/")
    ap.add_argument("--keep", metavar="DIR", help="keep every capture and log in a new folder in DIR")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    offport = str(pathlib.Path(a.offport).resolve())
    names = set(filter(None, a.only.split(",")))
    if a.list:
        for s in scenarios(None):
            print(f"{s.name:24} {s.what}")
        return 0

    why = live_possible()
    if why:
        failed, total = replay(offport, names)
        for s in scenarios(None):
            if s.live and (not names or s.name in names):
                print(f"skip {s.name} (live only, nothing stored to replay: {why})")
        print(f"e2e: {total - failed} of {total} stored captures pass; live scenarios "
              f"SKIPPED: {why}")
        if failed:
            return 1
        return 1 if os.environ.get("OFFPORT_E2E_REQUIRED") == "1" else 77

    if a.keep:
        pathlib.Path(a.keep).mkdir(parents=True, exist_ok=True)
        work = pathlib.Path(tempfile.mkdtemp(prefix=time.strftime("run-%Y%m%d-%H%M%S."), dir=a.keep))
    else:
        work = pathlib.Path(tempfile.mkdtemp(prefix="offport-e2e."))
    os.chmod(work, 0o755)
    net = Net(work)
    passed = failed = index = 0
    t0 = time.monotonic()
    try:
        net.create()
        kit = Kit(net, work)
        for sc in scenarios(kit):
            if names and sc.name not in names:
                continue
            pcap = work / f"{sc.name}.pcap"
            t1 = time.monotonic()
            try:
                if sc.live:
                    what = sc.live(offport, work, sc)
                    net.stop_all()
                    passed += 1
                    print(f"ok   {sc.name:24} {time.monotonic() - t1:4.1f}s  SIGINT  live only: {what}"
                          f"  ({sc.what})", flush=True)
                    continue
                # SIGINT and SIGTERM in turn: both must end a live run cleanly.
                sig = signal.SIGTERM if index % 2 else signal.SIGINT
                index += 1
                with Capture(net, offport, pcap, sig) as cap:
                    sc.run()
                    time.sleep(0.4)  # the last ACKs and FINs
                net.stop_all()
                live = cap.live_records()
                check_records(sc, live, "live")
                check_live_capture(stats(live), "live")
                filed = offport_file(offport, pcap)
                check_records(sc, filed, "capture")
                if summary(live) != summary(filed):
                    raise Fail(f"live and capture differ:\n  live    {summary(live)}\n"
                               f"  capture {summary(filed)}")
                if a.record and sc.store:
                    STORED.mkdir(exist_ok=True)
                    shutil.copyfile(pcap, STORED / f"{sc.name}.pcap")
                passed += 1
                al = alerts(live)
                what = ", ".join(f"{x['offport']['reason']} {x['app_proto'] or 'unknown'} "
                                 f"{x['proto'].lower()}/{x['dest_port']}" for x in al) or "no finding"
                print(f"ok   {sc.name:24} {time.monotonic() - t1:4.1f}s  {sig.name:7} live = capture: {what}"
                      f"  ({sc.what})", flush=True)
            except (Fail, subprocess.TimeoutExpired, subprocess.CalledProcessError) as e:
                failed += 1
                print(f"FAIL {sc.name}: {e}", flush=True)
                net.stop_all()
    finally:
        net.destroy()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"e2e: {passed} passed, {failed} failed, live on {net.vc} in network namespaces "
          f"({time.monotonic() - t0:.0f} s)")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
