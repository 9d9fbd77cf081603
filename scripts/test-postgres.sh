#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster: initdb in a temporary folder, a Unix
# socket only (no TCP port), trust auth for the local user, stopped and removed afterwards.
# Usage: scripts/test-postgres.sh COMMAND...   (ACADEMY_DATABASE_URL is set for COMMAND)
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "PostgreSQL server binaries not found (Debian package 'postgresql')" >&2
  exit 1
fi

# PostgreSQL refuses to run as root: run the server as the 'postgres' system user then.
as_owner=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  as_owner=(runuser -u postgres --)
fi

dir=$(mktemp -d /tmp/academy-pg.XXXXXX)
chmod 755 "$dir"
[ ${#as_owner[@]} -eq 0 ] || chown postgres "$dir"
cleanup() {
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U academy --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
"${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off -c max_connections=120" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }
"$bindir/createdb" -h "$dir" -U academy academy_test

export ACADEMY_DATABASE_URL="postgresql+psycopg://academy@/academy_test?host=$dir"
"$@"
