package pki

import (
	"crypto/x509"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// TestRoleNamePolicy issues through real roles: each case names the role,
// the request, and either the error or the SANs expected in the leaf.
func TestRoleNamePolicy(t *testing.T) {
	h := newHarness(t)
	h.rootCA(nil)
	type m = map[string]interface{}
	cases := []struct {
		name    string
		role    m
		req     m
		wantErr string
		dns     []string
		emails  []string
		uris    []string
	}{
		{name: "subdomain allowed", role: m{"allowed_domains": "example.com", "allow_subdomains": true},
			req: m{"common_name": "www.example.com"}, dns: []string{"www.example.com"}},
		{name: "deep subdomain allowed", role: m{"allowed_domains": "example.com", "allow_subdomains": true},
			req: m{"common_name": "a.b.example.com"}, dns: []string{"a.b.example.com"}},
		{name: "bare domain needs allow_bare_domains", role: m{"allowed_domains": "example.com", "allow_subdomains": true},
			req: m{"common_name": "example.com"}, wantErr: "common name example.com not allowed by this role"},
		{name: "other domain denied", role: m{"allowed_domains": "example.com", "allow_subdomains": true},
			req: m{"common_name": "www.example.org"}, wantErr: "common name www.example.org not allowed by this role"},
		{name: "suffix trick denied", role: m{"allowed_domains": "example.com", "allow_subdomains": true},
			req: m{"common_name": "evilexample.com"}, wantErr: "common name evilexample.com not allowed by this role"},
		{name: "bare domain allowed", role: m{"allowed_domains": "example.com", "allow_bare_domains": true},
			req: m{"common_name": "example.com"}, dns: []string{"example.com"}},
		{name: "bare only denies subdomains", role: m{"allowed_domains": "example.com", "allow_bare_domains": true},
			req: m{"common_name": "www.example.com"}, wantErr: "common name www.example.com not allowed"},
		{name: "wildcard under subdomains", role: m{"allowed_domains": "example.com", "allow_subdomains": true},
			req: m{"common_name": "*.example.com"}, dns: []string{"*.example.com"}},
		{name: "wildcards can be disabled", role: m{"allowed_domains": "example.com", "allow_subdomains": true, "allow_wildcard_certificates": false},
			req: m{"common_name": "*.example.com"}, wantErr: "common name *.example.com not allowed"},
		{name: "glob matches", role: m{"allowed_domains": "ftp*.example.com", "allow_glob_domains": true},
			req: m{"common_name": "ftp01.example.com"}, dns: []string{"ftp01.example.com"}},
		{name: "glob does not match", role: m{"allowed_domains": "ftp*.example.com", "allow_glob_domains": true},
			req: m{"common_name": "www.example.com"}, wantErr: "common name www.example.com not allowed"},
		{name: "glob needs allow_glob_domains", role: m{"allowed_domains": "ftp*.example.com"},
			req: m{"common_name": "ftp01.example.com"}, wantErr: "not allowed by this role"},
		{name: "localhost by default", role: m{},
			req: m{"common_name": "localhost"}, dns: []string{"localhost"}},
		{name: "localhost disabled", role: m{"allow_localhost": false},
			req: m{"common_name": "localhost"}, wantErr: "common name localhost not allowed"},
		{name: "any name", role: m{"allow_any_name": true},
			req: m{"common_name": "anything.example.net"}, dns: []string{"anything.example.net"}},
		{name: "any name still enforces hostnames", role: m{"allow_any_name": true},
			req: m{"common_name": "bad_host.example.net"}, wantErr: "common name bad_host.example.net not allowed"},
		{name: "hostnames not enforced", role: m{"allow_any_name": true, "enforce_hostnames": false},
			req: m{"common_name": "bad_host.example.net"}, dns: nil},
		{name: "enforce_hostnames on subdomain", role: m{"allowed_domains": "example.com", "allow_subdomains": true},
			req: m{"common_name": "a..example.com"}, wantErr: "not allowed by this role"},
		{name: "alt name outside the domains", role: m{"allowed_domains": "example.com", "allow_subdomains": true},
			req: m{"common_name": "www.example.com", "alt_names": "api.example.com,evil.org"}, wantErr: "subject alternate name evil.org not allowed by this role"},
		{name: "alt names added", role: m{"allowed_domains": "example.com", "allow_subdomains": true},
			req: m{"common_name": "www.example.com", "alt_names": "api.example.com"}, dns: []string{"api.example.com", "www.example.com"}},
		{name: "exclude cn from sans", role: m{"allowed_domains": "example.com", "allow_subdomains": true},
			req: m{"common_name": "www.example.com", "alt_names": "api.example.com", "exclude_cn_from_sans": true}, dns: []string{"api.example.com"}},
		{name: "email common name", role: m{"allowed_domains": "example.com", "allow_bare_domains": true},
			req: m{"common_name": "ops@example.com"}, emails: []string{"ops@example.com"}},
		{name: "email outside domains", role: m{"allowed_domains": "example.com", "allow_bare_domains": true},
			req: m{"common_name": "www.example.com", "alt_names": "ops@evil.org"}, wantErr: "not allowed by this role"},
		{name: "cn_validations email only", role: m{"allowed_domains": "example.com", "allow_subdomains": true, "cn_validations": "email"},
			req: m{"common_name": "www.example.com"}, wantErr: "common name www.example.com not allowed"},
		{name: "ip sans allowed by default", role: m{"allowed_domains": "example.com", "allow_subdomains": true},
			req: m{"common_name": "www.example.com", "ip_sans": "10.0.0.1,::1"}, dns: []string{"www.example.com"}},
		{name: "ip sans disabled", role: m{"allowed_domains": "example.com", "allow_subdomains": true, "allow_ip_sans": false},
			req: m{"common_name": "www.example.com", "ip_sans": "10.0.0.1"}, wantErr: "IP Subject Alternative Names are not allowed in this role, but was provided [10.0.0.1]"},
		{name: "ip san malformed", role: m{"allowed_domains": "example.com", "allow_subdomains": true},
			req: m{"common_name": "www.example.com", "ip_sans": "10.0.0.300"}, wantErr: `the value "10.0.0.300" is not a valid IP address`},
		{name: "uri sans not allowed", role: m{"allowed_domains": "example.com", "allow_subdomains": true},
			req: m{"common_name": "www.example.com", "uri_sans": "spiffe://corp/svc"}, wantErr: "URI Subject Alternative Names are not allowed in this role, but were provided via the API"},
		{name: "uri sans glob", role: m{"allowed_domains": "example.com", "allow_subdomains": true, "allowed_uri_sans": "spiffe://corp/*"},
			req: m{"common_name": "www.example.com", "uri_sans": "spiffe://corp/svc"}, dns: []string{"www.example.com"}, uris: []string{"spiffe://corp/svc"}},
		{name: "uri sans outside glob", role: m{"allowed_domains": "example.com", "allow_subdomains": true, "allowed_uri_sans": "spiffe://corp/*"},
			req: m{"common_name": "www.example.com", "uri_sans": "spiffe://other/svc"}, wantErr: "URI Subject Alternative Names were provided via the API which are not valid for this role"},
		{name: "other san allowed", role: m{"allow_any_name": true, "allowed_other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:*@example.com"},
			req: m{"common_name": "host.example.com", "other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:ops@example.com"}, dns: []string{"host.example.com"}},
		{name: "other san oid denied", role: m{"allow_any_name": true, "allowed_other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:*"},
			req: m{"common_name": "host.example.com", "other_sans": "1.2.3.4;UTF8:x"}, wantErr: "other SAN OID 1.2.3.4 not allowed by this role"},
		{name: "other san value denied", role: m{"allow_any_name": true, "allowed_other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:*@example.com"},
			req: m{"common_name": "host.example.com", "other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:ops@evil.org"}, wantErr: "other SAN ops@evil.org not allowed for OID 1.3.6.1.4.1.311.20.2.3 by this role"},
		{name: "cn required", role: m{"allowed_domains": "example.com"},
			req: m{}, wantErr: `the common_name field is required`},
		{name: "cn optional", role: m{"allowed_domains": "example.com", "require_cn": false},
			req: m{}, dns: nil},
		{name: "subject serial denied by default", role: m{"allow_any_name": true},
			req: m{"common_name": "a.example.com", "serial_number": "1234"}, wantErr: "serial_number 1234 not allowed by this role"},
		{name: "subject serial glob", role: m{"allow_any_name": true, "allowed_serial_numbers": "12*"},
			req: m{"common_name": "a.example.com", "serial_number": "1234"}, dns: []string{"a.example.com"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			role := fmt.Sprintf("r%d", i)
			data := map[string]interface{}{"key_type": "ec"}
			for k, v := range tc.role {
				data[k] = v
			}
			h.write("roles/"+role, data)
			if tc.wantErr != "" {
				h.badRequest("issue/"+role, tc.req, tc.wantErr)
				return
			}
			leaf := mustCert(t, respStr(h.write("issue/"+role, tc.req), "certificate"))
			if got := strings.Join(leaf.DNSNames, ","); got != strings.Join(tc.dns, ",") {
				t.Errorf("DNS SANs = %q, want %q", got, strings.Join(tc.dns, ","))
			}
			if got := strings.Join(leaf.EmailAddresses, ","); got != strings.Join(tc.emails, ",") {
				t.Errorf("e-mail SANs = %q, want %q", got, strings.Join(tc.emails, ","))
			}
			var uris []string
			for _, u := range leaf.URIs {
				uris = append(uris, u.String())
			}
			if strings.Join(uris, ",") != strings.Join(tc.uris, ",") {
				t.Errorf("URI SANs = %v, want %v", uris, tc.uris)
			}
			if cn, ok := tc.req["common_name"].(string); ok && leaf.Subject.CommonName != cn {
				t.Errorf("CN = %q, want %q", leaf.Subject.CommonName, cn)
			}
			if s, ok := tc.req["serial_number"].(string); ok && leaf.Subject.SerialNumber != s {
				t.Errorf("subject serial = %q, want %q", leaf.Subject.SerialNumber, s)
			}
		})
	}
}

func TestOtherSANInCertificate(t *testing.T) {
	h := newHarness(t)
	h.rootCA(nil)
	h.write("roles/upn", map[string]interface{}{"allow_any_name": true, "allowed_other_sans": "*", "key_type": "ec"})
	leaf := mustCert(t, respStr(h.write("issue/upn", map[string]interface{}{
		"common_name": "host.example.com", "other_sans": "1.3.6.1.4.1.311.20.2.3;UTF8:ops@example.com", "ip_sans": "192.0.2.7",
	}), "certificate"))
	names, err := csrOtherNames(&x509.CertificateRequest{Extensions: leaf.Extensions})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0].oid != "1.3.6.1.4.1.311.20.2.3" || names[0].value != "ops@example.com" {
		t.Fatalf("other names = %+v", names)
	}
	if len(leaf.DNSNames) != 1 || len(leaf.IPAddresses) != 1 {
		t.Fatalf("standard SANs lost when other names were added: dns=%v ip=%v", leaf.DNSNames, leaf.IPAddresses)
	}
	if _, err := exec.LookPath("openssl"); err == nil {
		cmd := exec.Command("openssl", "x509", "-noout", "-ext", "subjectAltName")
		cmd.Stdin = strings.NewReader(certPEM(leaf.Raw))
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ops@example.com") || !strings.Contains(string(out), "192.0.2.7") {
			t.Fatalf("openssl does not read the SAN extension: %v\n%s", err, out)
		}
	}
}

func TestGlobAndHostname(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "anything", true},
		{"ftp*.example.com", "ftp1.example.com", true},
		{"ftp*.example.com", "ftp.a.example.com", true},
		{"ftp*.example.com", "www.example.com", false},
		{"*.corp/*", "svc.corp/a/b", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	} {
		if got := globMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"example.com", true}, {"a-b.example.com", true}, {"*.example.com", true}, {"example.com.", true},
		{"-a.example.com", false}, {"a_b.example.com", false}, {"a..b", false}, {strings.Repeat("a", 64) + ".com", false},
		{"", false}, {"exa mple.com", false},
	} {
		if got := isHostname(tc.s); got != tc.want {
			t.Errorf("isHostname(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
