"""After ``azd provision``: the api identity's database role, then the schema.

Run by ``postprovision.sh`` with the azd environment in ``os.environ``. The
server accepts Entra ID tokens only, so this signs in as the deploying
principal (the server's Entra administrator, see infra/modules/postgres.bicep)
with a token from the Azure CLI, and:

1. opens the firewall to this machine's public address for the duration;
2. creates the api identity's role with ``pgaadauth_create_principal_with_oid``
   (idempotent: skipped when the role exists);
3. runs ``synapse db upgrade`` as the administrator (libpq reads the token
   from ``PGPASSWORD``);
4. grants the api role what the app needs on the tables, sequences and
   functions the migrations created, and by default on future ones.

Every step is idempotent, so it runs on every ``azd provision``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote

REQUIRED = ("AZURE_RESOURCE_GROUP", "POSTGRES_SERVER_NAME", "POSTGRES_HOST", "POSTGRES_DATABASE",
            "POSTGRES_ADMIN_NAME", "AZURE_API_IDENTITY_NAME", "AZURE_API_IDENTITY_PRINCIPAL_ID")


def az(*args: str) -> str:
    done = subprocess.run(["az", *args, "--only-show-errors"], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def public_ip() -> str:
    with urllib.request.urlopen("https://api.ipify.org?format=json", timeout=15) as resp:
        return str(json.load(resp)["ip"])


@contextlib.contextmanager
def firewall_opening(resource_group: str, server: str) -> Iterator[None]:
    ip = public_ip()
    rule = "azd-postprovision-" + ip.replace(".", "-").replace(":", "-")
    print(f"postprovision: allowing {ip} through the PostgreSQL firewall ({rule})")
    az("postgres", "flexible-server", "firewall-rule", "create", "--resource-group", resource_group,
       "--name", server, "--rule-name", rule, "--start-ip-address", ip, "--end-ip-address", ip)
    try:
        yield
    finally:
        az("postgres", "flexible-server", "firewall-rule", "delete", "--resource-group", resource_group,
           "--name", server, "--rule-name", rule, "--yes")
        print(f"postprovision: firewall rule {rule} removed")


def grant_statements(role: str, admin: str, database: str) -> list[tuple[str, tuple[str, ...]]]:
    """(SQL template, identifiers) pairs; templates use {} for quoted identifiers."""
    dml = "SELECT, INSERT, UPDATE, DELETE"
    return [
        ("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}", (database, role)),
        ("GRANT USAGE ON SCHEMA public TO {}", (role,)),
        (f"GRANT {dml} ON ALL TABLES IN SCHEMA public TO {{}}", (role,)),
        ("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {}", (role,)),
        ("GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {}", (role,)),
        (f"ALTER DEFAULT PRIVILEGES FOR ROLE {{}} IN SCHEMA public GRANT {dml} ON TABLES TO {{}}", (admin, role)),
        ("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {}",
         (admin, role)),
        ("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO {}", (admin, role)),
    ]


def main() -> int:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        print(f"postprovision: missing azd outputs {', '.join(missing)}; run `azd provision` first",
              file=sys.stderr)
        return 1
    import psycopg
    from psycopg import sql

    env = os.environ
    host, database, admin = env["POSTGRES_HOST"], env["POSTGRES_DATABASE"], env["POSTGRES_ADMIN_NAME"]
    role, role_oid = env["AZURE_API_IDENTITY_NAME"], env["AZURE_API_IDENTITY_PRINCIPAL_ID"]
    token = az("account", "get-access-token", "--resource-type", "oss-rdbms", "--query", "accessToken",
               "-o", "tsv")

    with firewall_opening(env["AZURE_RESOURCE_GROUP"], env["POSTGRES_SERVER_NAME"]):
        # Entra principals are created from the "postgres" database.
        with psycopg.connect(host=host, dbname="postgres", user=admin, password=token, sslmode="require",
                             autocommit=True, connect_timeout=30) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if exists:
                print(f"postprovision: database role {role} exists")
            else:
                conn.execute("SELECT * FROM pgaadauth_create_principal_with_oid(%s, %s, 'service', false, false)",
                             (role, role_oid))
                print(f"postprovision: created database role {role} for the api identity")

        url = f"postgresql://{quote(admin, safe='')}@{host}:5432/{database}?sslmode=require"
        migrate_env = {**env, "SYNAPSE_DATABASE_URL": url, "PGPASSWORD": token,
                       "SYNAPSE_DB_ENTRA_AUTH": "false", "SYNAPSE_ENV": "development"}
        print("postprovision: synapse db upgrade")
        subprocess.run(["uv", "run", "--frozen", "synapse", "db", "upgrade"], check=True, env=migrate_env)

        with psycopg.connect(host=host, dbname=database, user=admin, password=token, sslmode="require",
                             autocommit=True, connect_timeout=30) as conn:
            for template, names in grant_statements(role, admin, database):
                conn.execute(sql.SQL(template).format(*(sql.Identifier(n) for n in names)))
        print(f"postprovision: granted {role} data access on {database}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
