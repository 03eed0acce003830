# Every supported setting.
storage "raft" {
  path                   = "/var/lib/coffer/raft"
  node_id                = "node-a"
  performance_multiplier = 1
  trailing_logs          = 10000
  snapshot_threshold     = "8192"
  snapshot_interval      = "120"
  max_entry_size         = 1048576

  retry_join {
    leader_api_addr         = "https://node-b.example.com:8200"
    leader_ca_cert_file     = "/etc/coffer/tls/ca.pem"
    leader_client_cert_file = "/etc/coffer/tls/client.pem"
    leader_client_key_file  = "/etc/coffer/tls/client-key.pem"
    leader_tls_servername   = "coffer.example.com"
  }

  retry_join {
    leader_api_addr = "https://node-c.example.com:8200"
    leader_ca_cert  = <<PEM
-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIUTEST
-----END CERTIFICATE-----
PEM
  }
}

listener "tcp" {
  address                            = "0.0.0.0:8200"
  cluster_address                    = "0.0.0.0:8201"
  tls_cert_file                      = "/etc/coffer/tls/server.pem"
  tls_key_file                       = "/etc/coffer/tls/server-key.pem"
  tls_client_ca_file                 = "/etc/coffer/tls/ca.pem"
  tls_min_version                    = "tls13"
  tls_max_version                    = "tls13"
  tls_require_and_verify_client_cert = "true"
  max_request_size                   = -1
  max_request_duration               = "2m"

  telemetry {
    unauthenticated_metrics_access = true
  }
}

listener "tcp" {
  address          = "127.0.0.1:8300"
  tls_disable      = "true"
  max_request_size = 1048576
}

# A migration from AWS KMS to transit: the old seal is disabled.
seal "transit" {
  address         = "https://transit.example.com:8200"
  token           = "s.transit-token"
  key_name        = "autounseal"
  mount_path      = "transit/"
  disable_renewal = false
}

seal "awskms" {
  region     = "eu-west-1"
  kms_key_id = "alias/coffer"
  disabled   = true
}

api_addr                    = "https://node-a.example.com:8200"
cluster_addr                = "https://node-a.example.com:8201"
cluster_name                = "coffer-prod"
disable_mlock               = true
ui                          = true
log_level                   = "DEBUG"
log_format                  = "json"
pid_file                    = "/run/coffer.pid"
default_lease_ttl           = "1h"
max_lease_ttl               = "30d"
disable_cache               = true
plugin_directory            = "/usr/lib/coffer/plugins"
raw_storage_endpoint        = true
introspection_endpoint      = true
disable_performance_standby = true
cluster_cipher_suites       = "TLS_AES_128_GCM_SHA256,TLS_CHACHA20_POLY1305_SHA256"

telemetry {
  prometheus_retention_time = 3600
  disable_hostname          = true
  usage_gauge_period        = "5m"
}

audit "file" "to-stdout" {
  description = "Audit log on standard output."
  options {
    file_path = "stdout"
    log_raw   = "true"
  }
}

audit "file" {
  path      = "file/"
  file_path = "/var/log/coffer/audit.log"
  log_raw   = false
  mode      = 0600
}

audit "syslog" {}
