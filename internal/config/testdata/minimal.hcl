# The smallest useful configuration: everything else takes its default.
storage "inmem" {}

listener "tcp" {
  tls_disable = 1
}
