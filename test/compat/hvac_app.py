#!/usr/bin/python3
"""A small service that uses Coffer the way real applications use Vault,
through the hvac client: AppRole login, dynamic PostgreSQL credentials that
it connects with and renews at 70% of their TTL in a background thread,
KV v2 reads and writes, and a few operator calls. It prints one JSON
object with what it observed and exits non-zero on the first failure.

Environment: VAULT_ADDR, VAULT_CACERT, ROLE_ID, SECRET_ID, DB_ROLE,
PG_HOST, PG_PORT, PG_DATABASE.
"""
import json
import os
import sys
import threading
import time

import hvac
import psycopg2


def main():
    out = {}
    client = hvac.Client(url=os.environ["VAULT_ADDR"], verify=os.environ.get("VAULT_CACERT", True))

    login = client.auth.approle.login(role_id=os.environ["ROLE_ID"], secret_id=os.environ["SECRET_ID"])
    client.token = login["auth"]["client_token"]
    out["login_policies"] = login["auth"]["policies"]
    out["login_renewable"] = login["auth"]["renewable"]

    me = client.auth.token.lookup_self()["data"]
    out["self_display_name"] = me["display_name"]
    out["self_ttl_positive"] = me["ttl"] > 0

    creds = client.secrets.database.generate_credentials(name=os.environ["DB_ROLE"])
    lease_id, ttl = creds["lease_id"], creds["lease_duration"]
    user, password = creds["data"]["username"], creds["data"]["password"]
    out["lease_prefix_ok"] = lease_id.startswith("database/creds/" + os.environ["DB_ROLE"] + "/")
    out["lease_renewable"] = creds["renewable"]
    out["lease_duration"] = ttl

    conn = psycopg2.connect(host=os.environ["PG_HOST"], port=int(os.environ["PG_PORT"]),
                            dbname=os.environ["PG_DATABASE"], user=user, password=password)
    with conn.cursor() as cur:
        cur.execute("SELECT current_user")
        out["db_user_matches"] = cur.fetchone()[0] == user
    conn.close()

    renewals, errors = [], []
    stop = threading.Event()

    def renew_loop():
        while not stop.wait(ttl * 0.7):
            try:
                r = client.sys.renew_lease(lease_id=lease_id, increment=ttl)
                renewals.append(r["lease_duration"])
            except Exception as e:  # noqa: BLE001 - reported to the caller
                errors.append(repr(e))
                return

    t = threading.Thread(target=renew_loop, daemon=True)
    t.start()
    time.sleep(ttl * 1.6)
    stop.set()
    t.join()
    out["renewals"] = len(renewals)
    out["renew_errors"] = errors
    out["renewed_duration_ok"] = all(0 < d <= ttl for d in renewals)

    # The credentials still work after their original TTL, thanks to renewal.
    conn = psycopg2.connect(host=os.environ["PG_HOST"], port=int(os.environ["PG_PORT"]),
                            dbname=os.environ["PG_DATABASE"], user=user, password=password)
    conn.close()
    out["db_login_after_renewal"] = True

    client.sys.revoke_lease(lease_id=lease_id)
    try:
        psycopg2.connect(host=os.environ["PG_HOST"], port=int(os.environ["PG_PORT"]),
                         dbname=os.environ["PG_DATABASE"], user=user, password=password).close()
        out["db_login_refused_after_revoke"] = False
    except psycopg2.OperationalError:
        out["db_login_refused_after_revoke"] = True

    client.secrets.kv.v2.create_or_update_secret(path="app/config", secret={"feature": "on"})
    kv = client.secrets.kv.v2.read_secret_version(path="app/config")
    out["kv_value"] = kv["data"]["data"]["feature"]
    out["kv_version"] = kv["data"]["metadata"]["version"]

    health = client.sys.read_health_status(method="GET")
    out["health_initialized"] = health["initialized"]
    out["health_sealed"] = health["sealed"]
    mounts = client.sys.list_mounted_secrets_engines()
    out["mounts_have_database"] = "database/" in mounts["data"] and "database/" in mounts
    leader = client.sys.read_leader_status()
    out["leader_has_ha_enabled"] = "ha_enabled" in leader

    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - the test reads this line
        print(json.dumps({"error": repr(e)}))
        sys.exit(1)
