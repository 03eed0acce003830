#!/usr/bin/env bash
# The operator runbook for dynamic secrets, run with the `vault` command
# name against Coffer. Host names are pointed at local services through
# environment variables; everything else is as operators type it.
# Needs: VAULT_ADDR, VAULT_CACERT, PG_URL_HOSTPORT, MYSQL_HOSTPORT,
# AWS_IAM_ENDPOINT, AWS_ACCESS, AWS_SECRET, VAULT_DB_PASSWORD,
# VAULT_MYSQL_PASSWORD, AUDIT_LOG, WORK.
set -euo pipefail
cd "$WORK"

# Step 1: initialise, audit, AppRole, policy
vault operator init -key-shares=5 -key-threshold=3 -format=json > init.json
export VAULT_TOKEN="$(jq -r .root_token init.json)"
vault audit enable file file_path="$AUDIT_LOG"
vault auth enable approle
vault policy write db-consumer - <<EOP
# Allow reading dynamic database credentials
path "database/creds/app-readonly" {
  capabilities = ["read"]
}
path "database/creds/app-readwrite" {
  capabilities = ["read"]
}
# Allow renewing and revoking own leases
path "sys/leases/renew" {
  capabilities = ["update"]
}
path "sys/leases/revoke" {
  capabilities = ["update"]
}
# Allow reading own token info
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
EOP
vault write auth/approle/role/webapp \
  token_policies="db-consumer" \
  token_ttl=1h \
  token_max_ttl=4h \
  secret_id_ttl=720h \
  secret_id_num_uses=0

# Step 2: database secrets engine
vault secrets enable database
vault write database/config/production-postgres \
  plugin_name=postgresql-database-plugin \
  allowed_roles="app-readonly,app-readwrite,app-admin" \
  connection_url="postgresql://{{username}}:{{password}}@${PG_URL_HOSTPORT}/appdb?sslmode=disable" \
  username="vault_admin" \
  password="$VAULT_DB_PASSWORD" \
  password_authentication="scram-sha-256"
vault write -force database/rotate-root/production-postgres
vault write database/roles/app-readonly \
  db_name=production-postgres \
  creation_statements="CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; \
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{name}}\"; \
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO \"{{name}}\";" \
  revocation_statements="REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM \"{{name}}\"; \
    DROP ROLE IF EXISTS \"{{name}}\";" \
  default_ttl="1h" \
  max_ttl="24h"
vault write database/roles/app-readwrite \
  db_name=production-postgres \
  creation_statements="CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; \
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO \"{{name}}\"; \
    ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO \"{{name}}\";" \
  revocation_statements="REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM \"{{name}}\"; \
    DROP ROLE IF EXISTS \"{{name}}\";" \
  default_ttl="30m" \
  max_ttl="8h"
vault write database/config/production-mysql \
  plugin_name=mysql-database-plugin \
  allowed_roles="mysql-readonly,mysql-readwrite" \
  connection_url="{{username}}:{{password}}@tcp(${MYSQL_HOSTPORT})/" \
  username="vault_admin" \
  password="$VAULT_MYSQL_PASSWORD"
vault write database/roles/mysql-readonly \
  db_name=production-mysql \
  creation_statements="CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; \
    GRANT SELECT ON appdb.* TO '{{name}}'@'%';" \
  revocation_statements="DROP USER IF EXISTS '{{name}}'@'%';" \
  default_ttl="1h" \
  max_ttl="24h"
echo "Testing PostgreSQL dynamic credentials:"
vault read database/creds/app-readonly
vault read -format=json database/creds/app-readonly > pg-creds.json
vault read -format=json database/creds/mysql-readonly > mysql-creds.json

# Step 3: AWS secrets engine
vault secrets enable aws
vault write aws/config/root \
  access_key="$AWS_ACCESS" \
  secret_key="$AWS_SECRET" \
  region="us-east-1" \
  iam_endpoint="$AWS_IAM_ENDPOINT" \
  sts_endpoint="$AWS_IAM_ENDPOINT"
vault write aws/config/lease \
  lease="30m" \
  lease_max="1h"
vault write aws/roles/s3-readonly \
  credential_type=iam_user \
  policy_document=-<<EOP
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation"],
      "Resource": ["arn:aws:s3:::app-data-bucket", "arn:aws:s3:::app-data-bucket/*"]
    }
  ]
}
EOP
vault write aws/roles/ec2-admin \
  credential_type=assumed_role \
  role_arns="arn:aws:iam::123456789012:role/VaultEC2AdminRole" \
  default_sts_ttl="30m" \
  max_sts_ttl="1h"
vault write aws/roles/cross-account-readonly \
  credential_type=federation_token \
  policy_document=-<<EOP
{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["sts:AssumeRole"],
      "Resource": "arn:aws:iam::987654321098:role/CrossAccountReadOnly"
    }
  ]
}
EOP
echo "Testing AWS STS credentials:"
vault read aws/creds/ec2-admin
vault read -format=json aws/creds/s3-readonly > aws-creds.json

# Step 4: PKI
vault secrets enable -path=pki pki
vault secrets tune -max-lease-ttl=87600h pki
vault write pki/root/generate/internal \
  common_name="Corp Internal Root CA" \
  ttl=87600h \
  key_type=ec \
  key_bits=384
vault secrets enable -path=pki_int pki
vault secrets tune -max-lease-ttl=43800h pki_int
vault write -format=json pki_int/intermediate/generate/internal \
  common_name="Corp Intermediate CA" \
  key_type=ec \
  key_bits=256 | jq -r '.data.csr' > intermediate.csr
vault write -format=json pki/root/sign-intermediate \
  csr=@intermediate.csr \
  format=pem_bundle \
  ttl=43800h | jq -r '.data.certificate' > intermediate.cert.pem
vault write pki_int/intermediate/set-signed certificate=@intermediate.cert.pem
vault write pki_int/config/urls \
  issuing_certificates="https://vault.corp.local:8200/v1/pki_int/ca" \
  crl_distribution_points="https://vault.corp.local:8200/v1/pki_int/crl"
vault write pki_int/roles/web-server \
  allowed_domains="corp.local,internal.corp.com" \
  allow_subdomains=true \
  max_ttl=720h \
  key_type=ec \
  key_bits=256 \
  require_cn=true \
  enforce_hostnames=true
vault write pki_int/roles/service-mesh \
  allowed_domains="service.consul" \
  allow_subdomains=true \
  max_ttl=24h \
  key_type=ec \
  key_bits=256 \
  allow_ip_sans=true \
  server_flag=true \
  client_flag=true
vault write -format=json pki_int/issue/web-server \
  common_name="api.corp.local" \
  alt_names="api.internal.corp.com" \
  ttl=720h > leaf.json

# Step 6: leases
vault list sys/leases/lookup/database/creds/app-readonly
vault write sys/leases/lookup lease_id="$(jq -r .lease_id pg-creds.json)"
vault lease revoke -prefix database/creds/app-readonly

# The audit queries (first one with the parentheses jq needs)
jq -r 'select(.type == "response" and (.request.path | startswith("database/creds/"))) | "\(.time) \(.request.path) \(.auth.display_name)"' "$AUDIT_LOG" | tail -100 > audit-creds.txt
jq -r 'select(.type == "request" and (.request.path | startswith("database/creds/"))) | .auth.display_name' "$AUDIT_LOG" | sort | uniq -c | sort -rn | head -10
jq -r 'select(.type == "response" and .error != null and (.request.path | startswith("auth/"))) | "\(.time) \(.request.path) \(.error)"' "$AUDIT_LOG" | tail -20

vault read -format=json sys/report > report.json
echo RUNBOOK-OK
