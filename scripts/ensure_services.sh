#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432), Redis (127.0.0.1:6379), Debian's chromium, haproxy and
# prometheus (promtool) are there: start or install them where this machine allows, else fail with
# a clear message.
set -uo pipefail

fail() { echo "error: $*" >&2; exit 2; }

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_up; then
  echo "PostgreSQL is not answering on 127.0.0.1:5432; trying to start it..."
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    for version in $(ls /etc/postgresql); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
    done
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
  pg_up || fail "PostgreSQL is not running on 127.0.0.1:5432 and could not be started (install postgresql, trust auth, database 'test')"
fi

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_up; then
  echo "Redis is not answering on 127.0.0.1:6379; trying to start it..."
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 || true
  fi
  for _ in $(seq 1 20); do redis_up && break; sleep 0.25; done
  redis_up || fail "Redis is not running on 127.0.0.1:6379 and could not be started (install redis-server)"
fi

CHROMIUM=${DASHBOARD_TEST_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
  echo "Debian's chromium is missing; installing it with apt-get..."
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 || true
  fi
  [ -x "$CHROMIUM" ] || fail "chromium is not installed at $CHROMIUM (apt-get install -y chromium)"
fi
# Debian packages the tests run as they are (never started as system services here).
missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} with apt-get..."
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 || true
  fi
fi
command -v promtool >/dev/null 2>&1 || fail "promtool is not installed (apt-get install -y prometheus)"
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || fail "haproxy is not installed (apt-get install -y haproxy)"
echo "services: PostgreSQL ok, Redis ok, chromium $("$CHROMIUM" --version 2>/dev/null | head -n 1), $(promtool --version 2>&1 | head -n 1 | cut -d' ' -f1-3), $( (haproxy -v 2>/dev/null || /usr/sbin/haproxy -v) | head -n 1 | cut -d' ' -f1-3)"
