#!/usr/bin/env bash
# make.sh [SCENARIO...] - records the detection regression captures in
# tests/captures/ from real clients and servers on the loopback interface
# (127.0.0.1 and ::1 only). Each scenario is one small pcap; the golden
# tests (tests/golden/cases.tsv) replay them, so detection is tested on real
# traffic even where these programs are not installed.
#
# Needs root (ports below 1024, tcpdump) and: curl openssl tcpdump dig
# sshd ssh dnsmasq python3 smtpd swaks (apt-get install curl openssl tcpdump
# bind9-dnsutils openssh-server openssh-client dnsmasq-base python3
# opensmtpd swaks).
# Every server is bounded by `timeout` and stopped by PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/loopback.sh"

capture_start() { # capture_start NAME FILTER
	tcpdump -i lo -s 0 -U -w "$here/$1.pcap" "$2" >"$work/tcpdump.$1.log" 2>&1 &
	cap_pid=$!
	pids+=($cap_pid)
	sleep 0.7
}

capture_stop() {
	sleep 0.5
	stop "$cap_pid"
	echo "make.sh: $1.pcap ($(stat -c %s "$here/$1.pcap") bytes)"
}

setup() {
	echo "index" >"$work/index.html"
	openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=capture.offport.test" \
		-keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
	ssh-keygen -q -t ed25519 -N "" -f "$work/ssh_host_key"
	mkdir -p /run/sshd
}

http_server() { # http_server PORT [BIND]
	bg 20 python3 -m http.server "$1" --bind "${2:-127.0.0.1}" --directory "$work"
	wait_port tcp "$1"
}

tls_server() { # tls_server PORT
	bg 20 openssl s_server -quiet -accept "127.0.0.1:$1" -cert "$work/cert.pem" \
		-key "$work/key.pem" -www
	wait_port tcp "$1"
}

tls_client() { # tls_client PORT
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -quiet \
		-connect "127.0.0.1:$1" -servername capture.offport.test >/dev/null 2>&1 || true
}

ssh_server() { # ssh_server PORT
	cat >"$work/sshd_config" <<CFG
Port $1
ListenAddress 127.0.0.1
HostKey $work/ssh_host_key
PidFile $work/sshd.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
CFG
	bg 20 /usr/sbin/sshd -D -f "$work/sshd_config"
	wait_port tcp "$1"
}

ssh_client() { # ssh_client PORT
	timeout 10 ssh -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -p "$1" nobody@127.0.0.1 true >/dev/null 2>&1 || true
}

# A custom protocol server: reads what the client sends, answers with the
# bytes given (python3 sockets: the program is the real server here).
raw_tcp() { # raw_tcp PORT CLIENT_HEX SERVER_HEX
	timeout 10 python3 - "$@" <<'PY'
import socket, sys, threading
port, cli, srv = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(1)
def serve():
    c, _ = s.accept(); c.recv(65536); c.sendall(srv); c.close()
t = threading.Thread(target=serve); t.start()
k = socket.create_connection(("127.0.0.1", port), timeout=5)
k.sendall(cli); k.recv(65536); k.close(); t.join(5); s.close()
PY
}

raw_udp() { # raw_udp PORT CLIENT_HEX SERVER_HEX
	timeout 10 python3 - "$@" <<'PY'
import socket, sys
port, cli, srv = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", port))
k = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); k.settimeout(5)
k.sendto(cli, ("127.0.0.1", port)); data, peer = s.recvfrom(65536); s.sendto(srv, peer)
k.recvfrom(65536); k.close(); s.close()
PY
}

rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# ---- scenarios --------------------------------------------------------------

sc_http_80() { capture_start http_80 "tcp port 80"; http_server 80; timeout 10 curl -s -o /dev/null http://127.0.0.1/index.html; stop "$last_pid"; capture_stop http_80; }
sc_http_1224() { capture_start http_1224 "tcp port 1224"; http_server 1224; timeout 10 curl -s -o /dev/null -A "Mozilla/5.0 (beaver)" http://127.0.0.1:1224/index.html; stop "$last_pid"; capture_stop http_1224; }
sc_http_443() { capture_start http_443 "tcp port 443"; http_server 443; timeout 10 curl -s -o /dev/null http://127.0.0.1:443/index.html; stop "$last_pid"; capture_stop http_443; }
sc_http_53() { capture_start http_53 "tcp port 53"; http_server 53; timeout 10 curl -s -o /dev/null http://127.0.0.1:53/index.html; stop "$last_pid"; capture_stop http_53; }
sc_http6_8443() { capture_start http6_8443 "tcp port 8443"; http_server 8443 ::1; timeout 10 curl -s -o /dev/null -g "http://[::1]:8443/index.html"; stop "$last_pid"; capture_stop http6_8443; }
sc_tls_443() { capture_start tls_443 "tcp port 443"; tls_server 443; tls_client 443; stop "$last_pid"; capture_stop tls_443; }
sc_tls_8088() { capture_start tls_8088 "tcp port 8088"; tls_server 8088; tls_client 8088; stop "$last_pid"; capture_stop tls_8088; }
sc_tls_993() { capture_start tls_993 "tcp port 993"; tls_server 993; tls_client 993; stop "$last_pid"; capture_stop tls_993; }
sc_tls_465() { capture_start tls_465 "tcp port 465"; tls_server 465; tls_client 465; stop "$last_pid"; capture_stop tls_465; }
sc_tls_2083() { capture_start tls_2083 "tcp port 2083"; tls_server 2083; tls_client 2083; stop "$last_pid"; capture_stop tls_2083; }
sc_ssh_22() { capture_start ssh_22 "tcp port 22"; ssh_server 22; ssh_client 22; stop "$last_pid"; capture_stop ssh_22; }
sc_ssh_443() { capture_start ssh_443 "tcp port 443"; ssh_server 443; ssh_client 443; stop "$last_pid"; capture_stop ssh_443; }
sc_ssh_6789() { capture_start ssh_6789 "tcp port 6789"; ssh_server 6789; ssh_client 6789; stop "$last_pid"; capture_stop ssh_6789; }
sc_http_to_ssh_22() { # an HTTP client hitting an SSH server: SSH, not "HTTP on 22"
	capture_start http_to_ssh_22 "tcp port 22"; ssh_server 22
	timeout 5 curl -s -o /dev/null http://127.0.0.1:22/ || true
	stop "$last_pid"; capture_stop http_to_ssh_22; }
sc_random_443() { capture_start random_443 "tcp port 443"; raw_tcp 443 "$(rand_hex 180)" "$(rand_hex 240)"; capture_stop random_443; }
sc_faketls_443() { # FakeTLS: a TLS handshake record header in front of encrypted junk
	capture_start faketls_443 "tcp port 443"
	raw_tcp 443 "1603010080$(rand_hex 128)" "1603010040$(rand_hex 64)"
	capture_stop faketls_443; }
sc_faketls_appdata_443() { # TLS application-data records from the first byte: no handshake
	capture_start faketls_appdata_443 "tcp port 443"
	raw_tcp 443 "1703030060$(rand_hex 96)" "1703030050$(rand_hex 80)"
	capture_stop faketls_appdata_443; }
sc_dns_53() {
	capture_start dns_53 "port 53"
	bg 20 dnsmasq --no-daemon --port=53 --listen-address=127.0.0.1 --bind-interfaces \
		--no-resolv --no-hosts --address=/capture.offport.test/192.0.2.10
	wait_port udp 53
	timeout 10 dig +short +tries=1 +time=2 @127.0.0.1 capture.offport.test A >/dev/null || true
	timeout 10 dig +tcp +short +tries=1 +time=2 @127.0.0.1 capture.offport.test AAAA >/dev/null || true
	stop "$last_pid"; capture_stop dns_53; }
smtpd_server() { # smtpd_server PORT: OpenSMTPD offering STARTTLS on PORT
	mkdir -p "$work/smtpd"
	cat >"$work/smtpd.conf" <<CFG
pki capture.offport.test cert "$work/cert.pem"
pki capture.offport.test key "$work/key.pem"
listen on 127.0.0.1 port $1 tls pki capture.offport.test hostname capture.offport.test
action "keep" maildir "$work/smtpd"
match from any for any action "keep"
CFG
	chmod 600 "$work/key.pem"
	bg 20 /usr/sbin/smtpd -d -f "$work/smtpd.conf"
	wait_port tcp "$1"
}
sc_smtp_starttls_587() { # submission with STARTTLS: SMTP, upgraded (normal)
	capture_start smtp_starttls_587 "tcp port 587"; smtpd_server 587
	timeout 15 swaks --server 127.0.0.1 --port 587 --tls --to user@capture.offport.test \
		--from sender@capture.offport.test --helo client.offport.test >/dev/null 2>&1 || true
	stop "$last_pid"; capture_stop smtp_starttls_587; }
sc_tls_587() { # implicit TLS on the submission port where SMTP is expected (PoetRAT-like)
	capture_start tls_587 "tcp port 587"; tls_server 587; tls_client 587; stop "$last_pid"; capture_stop tls_587; }
# A protocol offport does not know, showing its structure (a binary header
# with zero bytes and a length; text lines): by default no finding on 443.
sc_structured_443() {
	capture_start structured_443 "tcp port 443"
	raw_tcp 443 "0000002c0001000000000000$(rand_hex 32)" "0000001c0002000000000000$(rand_hex 16)"
	capture_stop structured_443; }
sc_text_443() {
	capture_start text_443 "tcp port 443"
	raw_tcp 443 "$(printf 'HELLO agent=7 version=2\r\n' | od -An -tx1 | tr -d ' \n')" \
		"$(printf 'READY 1 task(s) queued\r\n' | od -An -tx1 | tr -d ' \n')"
	capture_stop text_443; }
sc_random_udp_53() { capture_start random_udp_53 "udp port 53"; raw_udp 53 "$(rand_hex 90)" "$(rand_hex 120)"; capture_stop random_udp_53; }

all=(http_80 http_1224 http_443 http_53 http6_8443 tls_443 tls_8088 tls_993 tls_465 tls_2083
	ssh_22 ssh_443 ssh_6789 http_to_ssh_22 random_443 faketls_443 dns_53 random_udp_53
	smtp_starttls_587 tls_587 faketls_appdata_443 structured_443 text_443)
setup
for s in "${@:-${all[@]}}"; do
	"sc_$s"
done
