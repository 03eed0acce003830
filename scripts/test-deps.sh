#!/usr/bin/env bash
# Installs and starts what the test suite needs on a Debian machine:
# PostgreSQL (127.0.0.1:5432, user postgres without password), MariaDB
# (127.0.0.1:3306, root without password), openssl, jq and the Python
# client libraries (for Debian's /usr/bin/python3) used by the compatibility
# tests. Safe to run again.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

pkgs=()
command -v psql >/dev/null 2>&1 && ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || pkgs+=(postgresql postgresql-client)
[ -x /usr/sbin/mariadbd ] || pkgs+=(mariadb-server mariadb-client)
command -v openssl >/dev/null 2>&1 || pkgs+=(openssl)
command -v jq >/dev/null 2>&1 || pkgs+=(jq)
/usr/bin/python3 -c 'import hvac, psycopg2, pymysql' >/dev/null 2>&1 || pkgs+=(python3-hvac python3-psycopg2 python3-pymysql)
if [ "${#pkgs[@]}" -gt 0 ]; then
  echo "==> installing: ${pkgs[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
fi

# PostgreSQL
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "==> starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  for _ in $(seq 1 60); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
fi
if ! psql -h 127.0.0.1 -U postgres -w -Atc 'select 1' >/dev/null 2>&1; then
  echo "==> allowing password-less TCP logins for postgres on 127.0.0.1 (test machine)"
  hba="$(as_root -u postgres psql -Atc 'show hba_file' 2>/dev/null || su postgres -c "psql -Atc 'show hba_file'")"
  as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  su postgres -c "psql -Atc 'select pg_reload_conf()'" >/dev/null
fi

# MariaDB
if ! mariadb-admin -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1; then
  echo "==> starting MariaDB"
  as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  for _ in $(seq 1 60); do mariadb-admin -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1 && break; sleep 0.5; done
fi
if ! mariadb -h 127.0.0.1 -P 3306 -uroot -e 'select 1' >/dev/null 2>&1; then
  echo "==> allowing password-less TCP logins for root (test machine)"
  as_root mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD(''); CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION; FLUSH PRIVILEGES;"
fi

# Web console browser tests: Debian's Chromium and the npm packages of ui/
# (playwright-core drives the browser; nothing is downloaded at test time).
if command -v node >/dev/null 2>&1; then
  if [ ! -x /usr/bin/chromium ]; then
    echo "==> installing chromium"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  if [ ! -d "$(dirname "$0")/../ui/node_modules" ]; then
    echo "==> npm ci --prefix ui"
    npm ci --prefix "$(dirname "$0")/../ui" --no-audit --no-fund >/dev/null
  fi
fi

# Optional per-feature setup shipped beside this script.
for extra in "$(dirname "$0")"/setup-*.sh; do
  [ -e "$extra" ] && bash "$extra"
done
echo "==> test services ready"
