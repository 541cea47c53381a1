#!/usr/bin/env bash
# Makes sure Redis (127.0.0.1:6379) and Postgres (127.0.0.1:5432) answer, installing and starting them with their
# data under .data/ where they do not, then creates the node's database. Idempotent: does nothing when all is up.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data="$here/.data"
REDIS_PORT=${REDIS_PORT:-6379}
PG_PORT=${PG_PORT:-5432}
PG_DB=${PG_DB:-snaketron}

apt_install() {
  command -v apt-get >/dev/null || { echo "services: $* missing and no apt-get to install it" >&2; exit 1; }
  [ -n "$(ls /var/lib/apt/lists 2>/dev/null | grep -v lock | head -1)" ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

redis_up() { (exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null; }
pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }

if ! redis_up; then
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p "$data/redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$data/redis" --logfile "$data/redis/redis.log"
  for _ in $(seq 50); do redis_up && break; sleep 0.1; done
  redis_up || { echo "services: Redis did not start; see $data/redis/redis.log" >&2; exit 1; }
  echo "services: started Redis on 127.0.0.1:$REDIS_PORT (data in $data/redis)"
fi

if ! pg_up; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then apt_install postgresql; fi
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  mkdir -p "$data/pg"
  run_as=""
  if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$data/pg"; chmod 700 "$data/pg"; run_as="runuser -u postgres --"; fi
  if [ ! -f "$data/pg/PG_VERSION" ]; then
    $run_as "$bin/initdb" -D "$data/pg" -A trust -U postgres >/dev/null
  fi
  $run_as "$bin/pg_ctl" -D "$data/pg" -l "$data/pg/server.log" -w \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k /tmp" start >/dev/null
  pg_up || { echo "services: Postgres did not start; see $data/pg/server.log" >&2; exit 1; }
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "CREATE ROLE root SUPERUSER LOGIN" 2>/dev/null || true
  echo "services: started Postgres on 127.0.0.1:$PG_PORT (data in $data/pg)"
fi

if ! psql -h 127.0.0.1 -p "$PG_PORT" -U root -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$PG_DB'" | grep -q 1; then
  psql -h 127.0.0.1 -p "$PG_PORT" -U root -d postgres -qc "CREATE DATABASE $PG_DB"
  echo "services: created database $PG_DB"
fi
