# The older "backend" name for storage, string booleans, durations given as
# plain seconds, and "none" for the usage gauge period.
backend "raft" {
  path = "/data"
}

listener "tcp" {
  address              = "[::]:8200"
  tls_disable          = "1"
  max_request_duration = 30
}

seal "shamir" {}

default_lease_ttl = 3600
max_lease_ttl     = "86400"
ui                = "false"
log_level         = "warning"

telemetry {
  usage_gauge_period = "none"
}
