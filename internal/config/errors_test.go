package config

import (
	"errors"
	"testing"
)

// base is a valid configuration that the cases below extend.
const base = `storage "inmem" {}
listener "tcp" { tls_disable = true }
`

func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"unknown top-level key", base + "\n\n\n\n" + `listner "tcp" {}`,
			`config.hcl:7: unknown key "listner"`},
		{"unknown scalar", base + `disable_mlok = true`,
			`config.hcl:3: unknown key "disable_mlok"`},
		{"tls10 refused", "storage \"inmem\" {}\n\nlistener \"tcp\" { tls_disable = 1\n  tls_min_version = \"tls10\" }",
			`config.hcl:4: listener "tcp": tls_min_version "tls10" is not accepted; use "tls12" or "tls13"`},
		{"tls11 max refused", "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = 1\n  tls_max_version = \"tls11\"\n}",
			`config.hcl:4: listener "tcp": tls_max_version "tls11" is not accepted; use "tls12" or "tls13"`},
		{"unknown tls version", "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = 1\n  tls_min_version = \"tls14\"\n}",
			`config.hcl:4: listener "tcp": tls_min_version "tls14" is not a TLS version; use "tls12" or "tls13"`},
		{"max below min", "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = 1\n  tls_min_version = \"tls13\"\n  tls_max_version = \"tls12\"\n}",
			`config.hcl:5: listener "tcp": tls_max_version "tls12" is lower than tls_min_version "tls13"`},
		{"unknown listener key", "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = 1\n  adress = \"x\"\n}",
			`config.hcl:4: listener "tcp": unknown key "adress"`},
		{"unknown listener telemetry key", "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = 1\n  telemetry { metrics = true }\n}",
			`config.hcl:4: listener "tcp": telemetry: unknown key "metrics"`},
		{"tls files required", "storage \"inmem\" {}\nlistener \"tcp\" {\n  address = \"0.0.0.0:8200\"\n  tls_cert_file = \"c.pem\"\n}",
			`config.hcl:2: listener "tcp": tls_key_file is required unless tls_disable = true`},
		{"both tls files required", "storage \"inmem\" {}\nlistener \"tcp\" {}",
			"config.hcl:2: listener \"tcp\": tls_cert_file is required unless tls_disable = true\n" +
				`config.hcl:2: listener "tcp": tls_key_file is required unless tls_disable = true`},
		{"bad tls_disable", "storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = \"yes\" }",
			`config.hcl:2: listener "tcp": tls_disable: "yes" is not a boolean`},
		{"bad address", "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = 1\n  address = \"localhost\"\n}",
			`config.hcl:4: listener "tcp": address "localhost" must be host:port, as in "0.0.0.0:8200"`},
		{"bad max_request_size", "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = 1\n  max_request_size = \"32MB\"\n}",
			`config.hcl:4: listener "tcp": max_request_size: "32MB" is not an integer`},
		{"negative request duration", "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = 1\n  max_request_duration = \"-5s\"\n}",
			`config.hcl:4: listener "tcp": max_request_duration must not be negative`},
		{"unix listener", "storage \"inmem\" {}\nlistener \"unix\" { address = \"/run/coffer.sock\" }",
			`config.hcl:2: listener "unix" is not supported; use listener "tcp"`},
		{"listener without label", "storage \"inmem\" {}\nlistener {\n  address = \"x\"\n}",
			`config.hcl:2: listener needs a type label, as in listener "<type>" { ... }`},
		{"listener as value", "storage \"inmem\" {}\nlistener = \"tcp\"",
			`config.hcl:2: listener needs a type label, as in listener "<type>" { ... }`},
		{"no listener", `storage "inmem" {}`,
			`config.hcl: no listener block; add listener "tcp" { ... }`},
		{"no storage", `listener "tcp" { tls_disable = true }`,
			`config.hcl: no storage block; add storage "raft" { path = "..." } or storage "inmem" {}`},
		{"unsupported storage", "storage \"file\" { path = \"/data\" }\nlistener \"tcp\" { tls_disable = true }",
			`config.hcl:1: storage "file" is not supported; use "raft" or "inmem"`},
		{"unsupported backend", "backend \"consul\" {}\nlistener \"tcp\" { tls_disable = true }",
			`config.hcl:1: backend "consul" is not supported; use "raft" or "inmem"`},
		{"storage twice", base + `storage "raft" { path = "/data" }`,
			`config.hcl:3: storage "raft": storage is already defined at config.hcl:1`},
		{"backend after storage", base + `backend "inmem" {}`,
			`config.hcl:3: backend "inmem": storage is already defined at config.hcl:1`},
		{"ha_storage refused", base + `ha_storage "raft" { path = "/ha" }`,
			`config.hcl:3: ha_storage is not supported; raft storage provides high availability by itself`},
		{"raft path required", "storage \"raft\" {\n  node_id = \"a\"\n}\nlistener \"tcp\" { tls_disable = true }",
			`config.hcl:1: storage "raft": path is required`},
		{"unknown raft key", "storage \"raft\" {\n  path = \"/d\"\n  nodeid = \"a\"\n}\nlistener \"tcp\" { tls_disable = true }",
			`config.hcl:3: storage "raft": unknown key "nodeid"`},
		{"inmem takes no keys", "storage \"inmem\" {\n  path = \"/d\"\n}\nlistener \"tcp\" { tls_disable = true }",
			`config.hcl:2: storage "inmem": unknown key "path"`},
		{"bad performance_multiplier", "storage \"raft\" {\n  path = \"/d\"\n  performance_multiplier = \"fast\"\n}\nlistener \"tcp\" { tls_disable = true }",
			`config.hcl:3: storage "raft": performance_multiplier: "fast" is not an integer`},
		{"retry_join needs leader", "storage \"raft\" {\n  path = \"/d\"\n  retry_join {\n    leader_tls_servername = \"x\"\n  }\n}\nlistener \"tcp\" { tls_disable = true }",
			`config.hcl:3: storage "raft": retry_join: leader_api_addr is required`},
		{"retry_join unknown key", "storage \"raft\" {\n  path = \"/d\"\n  retry_join {\n    leader_api_addr = \"https://a:8200\"\n    leader_ca_file = \"ca.pem\"\n  }\n}\nlistener \"tcp\" { tls_disable = true }",
			`config.hcl:5: storage "raft": retry_join: unknown key "leader_ca_file"`},
		{"retry_join auto_join", "storage \"raft\" {\n  path = \"/d\"\n  retry_join {\n    auto_join = \"provider=aws\"\n    leader_api_addr = \"https://a:8200\"\n  }\n}\nlistener \"tcp\" { tls_disable = true }",
			`config.hcl:4: storage "raft": retry_join: auto_join is not supported; name each leader with leader_api_addr`},
		{"retry_join bad url", "storage \"raft\" {\n  path = \"/d\"\n  retry_join {\n    leader_api_addr = \"node-b:8200\"\n  }\n}\nlistener \"tcp\" { tls_disable = true }",
			`config.hcl:4: storage "raft": retry_join: leader_api_addr "node-b:8200" must be a URL such as "https://vault-2.example.com:8200"`},
		{"unsupported seal", base + `seal "gcpckms" { project = "p" }`,
			`config.hcl:3: seal "gcpckms" is not supported; use one of "shamir", "awskms", "transit"`},
		{"shamir takes no keys", base + "seal \"shamir\" {\n  key_shares = 5\n}",
			`config.hcl:4: seal "shamir": unknown key "key_shares"`},
		{"seal option must be a value", base + "seal \"awskms\" {\n  region = \"x\"\n  tags { a = \"b\" }\n}",
			`config.hcl:5: seal "awskms": tags must be a single value, not a block or list`},
		{"two active seals", base + "seal \"awskms\" {}\nseal \"transit\" {}",
			`config.hcl:4: two seal blocks are both active; mark the seal being migrated from with disabled = true`},
		{"two disabled seals", base + "seal \"awskms\" { disabled = true }\nseal \"transit\" { disabled = true }",
			`config.hcl:4: two seal blocks are both disabled; a seal migration needs exactly one disabled seal`},
		{"three seals", base + "seal \"awskms\" {}\nseal \"transit\" { disabled = true }\nseal \"shamir\" { disabled = true }",
			`config.hcl:5: at most two seal blocks are allowed: the active seal and, during a migration, the disabled one`},
		{"bad log level", base + `log_level = "verbose"`,
			`config.hcl:3: log_level "verbose" is not valid; use one of trace, debug, info, warn, error`},
		{"bad log format", base + `log_format = "text"`,
			`config.hcl:3: log_format "text" is not valid; use standard or json`},
		{"bad duration", base + `default_lease_ttl = "1 week"`,
			`config.hcl:3: default_lease_ttl: "1 week" is not a valid duration`},
		{"negative ttl", base + `max_lease_ttl = "-1h"`,
			`config.hcl:3: max_lease_ttl must not be negative`},
		{"default above max", base + "max_lease_ttl = \"24h\"\ndefault_lease_ttl = \"48h\"",
			`config.hcl:4: default_lease_ttl (48h) must not exceed max_lease_ttl (24h)`},
		{"default above default max", base + `default_lease_ttl = "1000h"`,
			`config.hcl:3: default_lease_ttl (1000h) must not exceed max_lease_ttl (768h)`},
		{"api_addr without scheme", base + `api_addr = "vault.example.com:8200"`,
			`config.hcl:3: api_addr "vault.example.com:8200" must be a URL such as "https://vault.example.com:8200"`},
		{"cluster_addr without host", base + `cluster_addr = "https://"`,
			`config.hcl:3: cluster_addr "https://" must be a URL such as "https://vault.example.com:8201"`},
		{"bool where string", base + `api_addr = true`,
			`config.hcl:3: api_addr must be a string, not true`},
		{"block where value", base + "ui {\n  enabled = true\n}",
			`config.hcl:3: ui must be a single value, not a block or list`},
		{"bad ui", base + `ui = "on"`,
			`config.hcl:3: ui: "on" is not a boolean`},
		{"unknown telemetry key", base + "telemetry {\n  statsd_address = \"127.0.0.1:8125\"\n}",
			`config.hcl:4: telemetry: unknown key "statsd_address"`},
		{"bad retention", base + "telemetry {\n  prometheus_retention_time = \"forever\"\n}",
			`config.hcl:4: telemetry: prometheus_retention_time: "forever" is not a valid duration`},
		{"two telemetry blocks", base + "telemetry {}\ntelemetry {}",
			`config.hcl:4: only one telemetry block is allowed per file`},
		{"telemetry as value", base + `telemetry = 1`,
			`config.hcl:3: telemetry must be a block, not a single value`},
		{"unsupported audit", base + `audit "kafka" {}`,
			`config.hcl:3: audit "kafka" is not supported; use one of "file", "syslog", "socket"`},
		{"duplicate audit path", base + "audit \"file\" { file_path = \"a\" }\naudit \"file\" \"file\" {\n  options { file_path = \"b\" }\n}",
			`config.hcl:4: audit "file" "file": audit path "file/" is already used at config.hcl:3`},
		{"audit type key", base + `audit "file" { type = "file" }`,
			`config.hcl:3: audit "file": type is given by the block label`},
		{"syntax error", base + "listener \"tcp\" {\n  address = \n}",
			`config.hcl:5: syntax error: Unknown token: 5:1 RBRACE }`},
		{"duplicate assignment", base + "ui = true\nui = false",
			`config.hcl:4: syntax error: The argument "ui" at 4:1 was already set. Each argument can only be defined once`},
		{"several problems in line order", base + "ui = \"on\"\nlog_level = \"loud\"\nfoo = 1",
			"config.hcl:3: ui: \"on\" is not a boolean\n" +
				"config.hcl:4: log_level \"loud\" is not valid; use one of trace, debug, info, warn, error\n" +
				`config.hcl:5: unknown key "foo"`},
		{"json unknown key", "{\n  \"storage\": {\"inmem\": {}},\n  \"listener\": {\"tcp\": {\"tls_disable\": true}},\n  \"listner\": {}\n}",
			`config.hcl:4: unknown key "listner"`},
		{"json tls10", "{\n  \"storage\": {\"inmem\": {}},\n  \"listener\": {\"tcp\": {\n    \"tls_disable\": true,\n    \"tls_min_version\": \"tls10\"\n  }}\n}",
			`config.hcl:5: listener "tcp": tls_min_version "tls10" is not accepted; use "tls12" or "tls13"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Parse("config.hcl", tt.text)
			if err == nil {
				t.Fatalf("no error; config %+v", cfg)
			}
			if cfg != nil {
				t.Errorf("config returned with an error")
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "config.hcl" {
				t.Errorf("error %T does not unwrap to an *Error naming config.hcl", err)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&Error{File: "a.hcl", Line: 3, Msg: "m"}, "a.hcl:3: m"},
		{&Error{File: "a.hcl", Msg: "m"}, "a.hcl: m"},
		{Errors{{File: "a.hcl", Line: 1, Msg: "x"}, {File: "b.hcl", Line: 2, Msg: "y"}}, "a.hcl:1: x\nb.hcl:2: y"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	var ce *Error
	if !errors.As(error(Errors{{File: "b.hcl", Line: 9, Msg: "z"}}), &ce) || ce.Line != 9 {
		t.Errorf("errors.As did not find the *Error")
	}
}
