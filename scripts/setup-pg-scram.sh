#!/usr/bin/env bash
# Makes the local PostgreSQL check passwords with SCRAM-SHA-256 for the
# database engine's tests: members of the NOLOGIN role "coffer_scram" must
# log in over 127.0.0.1 with scram-sha-256, while everything else keeps the
# test machine's trust rules. Tests put their users in that role to prove
# that a password really works (or, after rotation, really stops working);
# without this setup they skip those checks with a message. Safe to run
# again.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
psql_pg() { psql -h 127.0.0.1 -U postgres -w -v ON_ERROR_STOP=1 -Atc "$1"; }

line='host all +coffer_scram 127.0.0.1/32 scram-sha-256'

psql_pg "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'coffer_scram') THEN
    CREATE ROLE coffer_scram NOLOGIN;
  END IF;
END \$\$;" >/dev/null

hba="$(psql_pg 'show hba_file')"
if ! as_root grep -qxF "$line" "$hba"; then
  # Insert before the first rule so it wins over the trust lines.
  first="$(as_root grep -nvE '^[[:space:]]*(#|$)' "$hba" | head -1 | cut -d: -f1 || true)"
  if [ -n "$first" ]; then
    as_root sed -i "${first}i ${line}" "$hba"
  else
    echo "$line" | as_root tee -a "$hba" >/dev/null
  fi
  echo "==> pg_hba: scram-sha-256 required for members of coffer_scram on 127.0.0.1"
fi
psql_pg 'select pg_reload_conf()' >/dev/null
psql_pg "select 1 from pg_hba_file_rules where '+coffer_scram' = any(user_name) and auth_method = 'scram-sha-256' and error is null" | grep -q 1
