#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis the suites talk to answer on 127.0.0.1, starting the machine's own
# services when they are installed but down. It never stops or reconfigures a running server.
set -euo pipefail
PGHOST=${PGHOST:-127.0.0.1}; PGPORT=${PGPORT:-5432}
REDIS_PORT=${TEST_REDIS_PORT:-6379}

pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    echo "PostgreSQL is down: starting the local cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "PostgreSQL does not answer on $PGHOST:$PGPORT; install and start it (see README)" >&2; exit 1; }

if ! redis_up; then
  if command -v redis-server >/dev/null; then
    echo "Redis is down: starting it on 127.0.0.1:$REDIS_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no
  fi
  for _ in $(seq 1 30); do redis_up && break; sleep 0.5; done
fi
redis_up || { echo "Redis does not answer on 127.0.0.1:$REDIS_PORT; install and start it (see README)" >&2; exit 1; }
echo "PostgreSQL and Redis answer on 127.0.0.1"
