#!/usr/bin/env bash
# Installs everything parley needs to build, test and benchmark on Debian 12.
# Idempotent: packages already present are skipped, so a second run costs one dpkg query.
set -euo pipefail

packages=(
  # Toolchain and build.
  build-essential cmake ninja-build ccache pkg-config clang-format
  # The fuzz preset: clang with libFuzzer and its sanitizer runtimes (tests/fuzz).
  clang-14 libclang-rt-14-dev
  # Libraries parley links against or compiles in.
  libcli11-dev libfmt-dev libssl-dev libedit-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # Static archives release builds link libedit with (cmake/StaticLibs.cmake): libtinfo, libbsd,
  # libmd (libedit-dev pulls them in too; named so that nothing depends on its alternatives).
  libncurses-dev libbsd-dev libmd-dev
  # PCRE2 for bench's --until regex= and --expect regex=.
  libpcre2-dev
  # doctor reads the firewall ruleset through libnftables (JSON output needs nlohmann above).
  libnftables-dev
  # The servers' io_uring workers (echo --io).
  liburing-dev
  # Real peers and tools the tests and benchmarks drive.
  ncat socat netcat-openbsd tmux iproute2 iperf3 procps psmisc net-tools
  python3 openssl coreutils util-linux strace
  # bench/http.sh and the bench http tests: HAProxy answers, wrk is the peer to beat.
  haproxy wrk
  # doctor's tests build firewalls and NAT routers in namespaces (nft, iptables-nft); the scan
  # tests use nftables too.
  nftables iptables
  # Proxies for connect --proxy (SOCKS4/5, HTTP CONNECT).
  dante-server microsocks
  # Packaging and documentation: dpkg-shlibdeps finds the .deb's dependencies; the tests read the
  # generated pages with man and groff, drive the zsh and fish completions, run echo and listen
  # under systemd-socket-activate, verify the units and trace the sandboxed service.
  dpkg-dev man-db groff-base zsh fish systemd strace
  # bench/forward.sh measures parley forward against HAProxy.
  haproxy
  # --metrics: the tests fetch /metrics with curl and render the live page in headless Chromium.
  curl chromium
  # bench/echo.sh counts the server's system calls per echo (perf stat -e raw_syscalls:sys_enter).
  linux-perf
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
