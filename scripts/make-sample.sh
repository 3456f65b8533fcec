#!/usr/bin/env bash
# make-sample.sh [OUT] - records samples/sample.pcap from real programs on
# the loopback interface: normal traffic and a few T1571 mismatches.
#
#   curl -> python3 http.server   tcp/80    HTTP on its port (normal)
#   curl -> python3 http.server   tcp/1224  HTTP off its port (mismatch)
#   openssl s_client -> s_server  tcp/443   TLS on its port (normal)
#   openssl s_client -> s_server  tcp/8088  TLS off its port (mismatch)
#   ssh -> sshd                   tcp/443   SSH on the HTTPS port (mismatch)
#   dig -> dnsmasq                udp/53    DNS on its port (normal)
#   python3 socket pair           tcp/443   random bytes on 443 (mismatch)
#
# Needs root (ports below 1024, tcpdump on lo). Every server is started in
# the background, bounded by `timeout`, and stopped by PID on exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/samples/sample.pcap}
need=(curl openssl tcpdump dig /usr/sbin/sshd dnsmasq python3)
for t in "${need[@]}"; do
	command -v "$t" >/dev/null || {
		echo "make-sample: missing $t (apt-get install curl openssl tcpdump bind9-dnsutils openssh-server dnsmasq-base python3)" >&2
		exit 1
	}
done
source "$root/scripts/loopback.sh"

echo "sample page" >"$work/index.html"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sample.offport.test" \
	-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
ssh-keygen -q -t ed25519 -N "" -f "$work/ssh_host_key"
cat >"$work/sshd_config" <<CFG
Port 443
ListenAddress 127.0.0.1
HostKey $work/ssh_host_key
PidFile $work/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
CFG
mkdir -p /run/sshd

tcpdump -i lo -s 0 -U -w "$work/raw.pcap" \
	"host 127.0.0.1 and (tcp port 80 or tcp port 1224 or tcp port 443 or tcp port 8088 or udp port 53)" \
	>"$work/tcpdump.log" 2>&1 &
tcpdump_pid=$!
pids+=($tcpdump_pid)
sleep 1

(cd "$work" && bg 30 python3 -m http.server 80 --bind 127.0.0.1)
(cd "$work" && bg 30 python3 -m http.server 1224 --bind 127.0.0.1)
wait_port tcp 80
wait_port tcp 1224
timeout 10 curl -s -o /dev/null -A "curl (offport sample)" http://127.0.0.1/index.html
timeout 10 curl -s -o /dev/null -A "curl (offport sample)" http://127.0.0.1:1224/index.html

for port in 443 8088; do
	bg 20 openssl s_server -quiet -accept "127.0.0.1:$port" -cert "$work/cert.pem" -key "$work/key.pem" -www
	wait_port tcp "$port"
	printf 'GET / HTTP/1.0\r\n\r\n' |
		timeout 10 openssl s_client -quiet -connect "127.0.0.1:$port" -servername sample.offport.test >/dev/null 2>&1 || true
	kill "${pids[-1]}" 2>/dev/null || true
	sleep 0.3
done

bg 20 /usr/sbin/sshd -D -f "$work/sshd_config"
wait_port tcp 443
timeout 10 ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
	-p 443 nobody@127.0.0.1 true >/dev/null 2>&1 || true
kill "${pids[-1]}" 2>/dev/null || true
sleep 0.3

bg 20 dnsmasq --no-daemon --port=53 --listen-address=127.0.0.1 --bind-interfaces --no-resolv \
	--no-hosts --address=/sample.offport.test/192.0.2.10
wait_port udp 53
timeout 10 dig +short +tries=1 +time=2 @127.0.0.1 sample.offport.test A >/dev/null || true

# A custom binary protocol on 443: random bytes both ways, no TLS.
timeout 10 python3 - <<'PY'
import os, socket, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 443)); srv.listen(1)
def serve():
    c, _ = srv.accept(); c.recv(4096); c.sendall(os.urandom(200)); c.close()
t = threading.Thread(target=serve); t.start()
cl = socket.create_connection(("127.0.0.1", 443), timeout=5)
cl.sendall(os.urandom(120)); cl.recv(4096); cl.close(); t.join(5); srv.close()
PY

sleep 1
kill "$tcpdump_pid"
wait "$tcpdump_pid" 2>/dev/null || true
mkdir -p "$(dirname "$out")"
cp "$work/raw.pcap" "$out"
echo "make-sample: wrote $out ($(stat -c %s "$out") bytes)"
