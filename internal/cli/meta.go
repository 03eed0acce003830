package cli

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/vault/api"
)

const defaultAddress = "https://127.0.0.1:8200"

// meta is the state shared by every command of one invocation: the I/O
// streams, the environment, the global HTTP and output flags, and the API
// client built from them.
type meta struct {
	stdin     io.Reader
	stdout    io.Writer
	stderr    io.Writer
	env       environ
	prog      string // name the binary was invoked as: "vault" or "coffer"
	stdoutTTY bool   // stdout is a terminal: raw values get a newline
	stdinTTY  bool   // stdin is a terminal: prompts read without echo

	flagAddress          string
	flagCACert           string
	flagCAPath           string
	flagClientCert       string
	flagClientKey        string
	flagTLSServerName    string
	flagTLSSkipVerify    bool
	flagNamespace        string
	flagWrapTTL          time.Duration
	flagFormat           string
	flagField            string
	flagOutputCurlString bool
	flagHeader           map[string]string

	client *api.Client
}

// flagSet returns a flag set holding the HTTP and output options every
// command accepts, with defaults taken from the environment.
func (m *meta) flagSet(name string) *flagSet {
	s := newFlagSet(name)
	s.section("HTTP Options")
	s.stringVar(&m.flagAddress, "address", m.env.str("ADDR", defaultAddress),
		"Address of the server. This can also be specified via the VAULT_ADDR environment variable.")
	s.stringVar(&m.flagCACert, "ca-cert", m.env.str("CACERT", ""),
		"Path on the local disk to a single PEM-encoded CA certificate to verify "+
			"the server's SSL certificate. This takes precedence over -ca-path. "+
			"This can also be specified via the VAULT_CACERT environment variable.")
	s.stringVar(&m.flagCAPath, "ca-path", m.env.str("CAPATH", ""),
		"Path on the local disk to a directory of PEM-encoded CA certificates to "+
			"verify the server's SSL certificate. This can also be specified via the "+
			"VAULT_CAPATH environment variable.")
	s.stringVar(&m.flagClientCert, "client-cert", m.env.str("CLIENT_CERT", ""),
		"Path on the local disk to a single PEM-encoded CA certificate to use for "+
			"TLS authentication to the server. If this flag is specified, -client-key "+
			"is also required. This can also be specified via the VAULT_CLIENT_CERT "+
			"environment variable.")
	s.stringVar(&m.flagClientKey, "client-key", m.env.str("CLIENT_KEY", ""),
		"Path on the local disk to a single PEM-encoded private key matching the "+
			"client certificate from -client-cert. This can also be specified via the "+
			"VAULT_CLIENT_KEY environment variable.")
	s.stringVar(&m.flagNamespace, "namespace", m.env.str("NAMESPACE", ""),
		"The namespace to use for the command. Coffer has a single root namespace; "+
			"the value is accepted and ignored.", "ns")
	s.stringVar(&m.flagTLSServerName, "tls-server-name", m.env.str("TLS_SERVER_NAME", ""),
		"Name to use as the SNI host when connecting to the server via TLS. This "+
			"can also be specified via the VAULT_TLS_SERVER_NAME environment variable.")
	s.boolVar(&m.flagTLSSkipVerify, "tls-skip-verify", m.env.boolean("SKIP_VERIFY", false),
		"Disable verification of TLS certificates. Using this option is highly "+
			"discouraged as it decreases the security of data transmissions to and "+
			"from the server. This can also be specified via the VAULT_SKIP_VERIFY "+
			"environment variable.")
	wrap, _ := parseDuration(m.env.str("WRAP_TTL", ""))
	s.durationVar(&m.flagWrapTTL, "wrap-ttl", wrap,
		"Wraps the response in a cubbyhole token with the requested TTL. The "+
			"TTL is specified as a numeric string with suffix like \"30s\" or \"5m\". "+
			"This can also be specified via the VAULT_WRAP_TTL environment variable.")
	s.boolVar(&m.flagOutputCurlString, "output-curl-string", false,
		"Instead of executing the request, print an equivalent cURL command "+
			"string and exit.")
	s.stringMapVar(&m.flagHeader, "header",
		"Key-value pair provided as key=value to provide http header added to any "+
			"request done by the CLI. Headers starting with 'X-Vault-' are forbidden. "+
			"This can be specified multiple times.")

	s.section("Output Options")
	s.stringVar(&m.flagField, "field", "",
		"Print only the field with the given name. Specifying this option will "+
			"take precedence over other formatting directives. The result will not "+
			"have a trailing newline making it ideal for piping to other processes.")
	s.stringVar(&m.flagFormat, "format", m.env.str("FORMAT", "table"),
		"Print the output in the given format. Valid formats are \"table\", "+
			"\"json\", or \"yaml\". This can also be specified via the VAULT_FORMAT "+
			"environment variable.")
	s.section("Command Options")
	return s
}

// parseFlags parses args, reports trailing flags and validates -format.
// A non-zero return is the exit code for a usage error.
func (m *meta) parseFlags(s *flagSet, args []string, allowRaw bool) int {
	err := s.parse(args)
	if err == nil {
		if w := trailingFlagWarning(s.args()); w != "" && m.format() == "table" {
			m.warn(w)
		}
		err = m.validateFormat(allowRaw)
	}
	if err != nil {
		m.errorf("%s", err)
		return 1
	}
	return 0
}

func (m *meta) validateFormat(allowRaw bool) error {
	switch m.format() {
	case "table", "json", "yaml", "yml":
		return nil
	case "raw":
		if allowRaw {
			return nil
		}
		return errors.New("This command does not support the -format=raw option.")
	}
	return fmt.Errorf("Invalid output format: %s", m.format())
}

// format is the selected output format, lower case; table by default.
func (m *meta) format() string {
	f := strings.ToLower(strings.TrimSpace(m.flagFormat))
	if f == "" {
		return "table"
	}
	return f
}

// apiClient builds the HTTP client from flags and environment. The token is
// VAULT_TOKEN (or COFFER_TOKEN) if set, otherwise the token helper's.
func (m *meta) apiClient() (*api.Client, error) {
	if m.client != nil {
		return m.client, nil
	}
	c, err := m.newClient()
	if err != nil {
		return nil, err
	}
	token := m.env.str("TOKEN", "")
	if token == "" {
		token, err = m.tokenHelper().get()
		if err != nil {
			return nil, fmt.Errorf("failed to get token from token helper: %w", err)
		}
	}
	c.SetToken(token)
	m.client = c
	return c, nil
}

// newClient builds a client without any token.
func (m *meta) newClient() (*api.Client, error) {
	cfg := &api.Config{
		Address:      m.flagAddress,
		HttpClient:   cleanhttp.DefaultPooledClient(),
		Timeout:      60 * time.Second,
		MinRetryWait: time.Second,
		MaxRetryWait: 1500 * time.Millisecond,
		Backoff:      retryablehttp.RateLimitLinearJitterBackoff,
	}
	cfg.HttpClient.Transport.(*http.Transport).TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	cfg.HttpClient.CheckRedirect = func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}
	if v := m.env.str("CLIENT_TIMEOUT", ""); v != "" {
		d, err := parseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("could not parse VAULT_CLIENT_TIMEOUT: %w", err)
		}
		cfg.Timeout = d
	}
	if v := m.env.str("MAX_RETRIES", ""); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("could not parse VAULT_MAX_RETRIES: %w", err)
		}
		cfg.MaxRetries = n
	}
	cfg.OutputCurlString = m.flagOutputCurlString
	tlsCfg := &api.TLSConfig{
		CACert:        m.flagCACert,
		CAPath:        m.flagCAPath,
		ClientCert:    m.flagClientCert,
		ClientKey:     m.flagClientKey,
		TLSServerName: m.flagTLSServerName,
		Insecure:      m.flagTLSSkipVerify,
	}
	if err := cfg.ConfigureTLS(tlsCfg); err != nil {
		return nil, fmt.Errorf("failed to setup TLS config: %w", err)
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("failed to create client: %w", err)
	}
	// Coffer has one root namespace; a namespace from the environment or the
	// -namespace flag is ignored.
	c.ClearNamespace()
	c.SetToken("")
	wrapTTL := m.flagWrapTTL
	c.SetWrappingLookupFunc(func(operation, path string) string {
		if wrapTTL != 0 {
			return wrapTTL.String()
		}
		return ""
	})
	var forbidden []string
	for k, v := range m.flagHeader {
		if strings.HasPrefix(k, "X-Vault-") {
			forbidden = append(forbidden, k)
			continue
		}
		c.AddHeader(k, v)
	}
	if len(forbidden) > 0 {
		return nil, fmt.Errorf("failed to setup Headers[%s]: Header starting by 'X-Vault-' are for internal usage only", strings.Join(forbidden, ", "))
	}
	return c, nil
}

func (m *meta) tokenHelper() tokenHelper {
	return tokenHelper{home: m.env.raw("HOME")}
}

// output writes a line to stdout.
func (m *meta) output(s string) { fmt.Fprintln(m.stdout, s) }

// warn writes a line to stderr.
func (m *meta) warn(s string) { fmt.Fprintln(m.stderr, s) }

// errorf writes a formatted line to stderr.
func (m *meta) errorf(format string, args ...interface{}) {
	fmt.Fprintf(m.stderr, format+"\n", args...)
}

// apiError reports a failed request as "<what>: <error>" and returns 2, the
// exit code for remote errors. With -output-curl-string the request was not
// sent; its curl equivalent is printed instead and 0 returned.
func (m *meta) apiError(err error, format string, args ...interface{}) int {
	if code, ok := m.curlString(err); ok {
		return code
	}
	m.errorf("%s: %s", fmt.Sprintf(format, args...), err)
	return 2
}

// clientError reports a failure to build the client.
func (m *meta) clientError(err error) int {
	m.errorf("%s", err)
	return 2
}

func (m *meta) curlString(err error) (int, bool) {
	var ose *api.OutputStringError
	if !errors.As(err, &ose) {
		return 0, false
	}
	s, cerr := ose.CurlString()
	if cerr != nil {
		m.errorf("Error creating request string: %s", cerr)
		return 1, true
	}
	m.output(s)
	return 0, true
}

// begin is the prologue of a command that talks to the server: it parses
// the flags, checks that between min and max positional arguments remain
// (see argCount) and builds the API client. A non-zero code means the
// command has reported the problem and returns that code.
func (m *meta) begin(f *flagSet, args []string, allowRaw bool, min, max int) (rest []string, client *api.Client, code int) {
	if code := m.parseFlags(f, args, allowRaw); code != 0 {
		return nil, nil, code
	}
	rest = f.args()
	if !m.argCount(rest, min, max) {
		return nil, nil, 1
	}
	client, err := m.apiClient()
	if err != nil {
		return nil, nil, m.clientError(err)
	}
	return rest, client, 0
}

// exactArgs checks that there are exactly n positional arguments, with the
// message Vault's raft commands print ("Incorrect arguments").
func (m *meta) exactArgs(args []string, n int) bool {
	if len(args) != n {
		m.errorf("Incorrect arguments (expected %d, got %d)", n, len(args))
		return false
	}
	return true
}

// argCount checks the number of positional arguments against [min, max]
// (max < 0 means unbounded) and prints Vault's message when it is off.
func (m *meta) argCount(args []string, min, max int) bool {
	want := fmt.Sprint(min)
	if max != min {
		if max < 0 {
			want = fmt.Sprintf("at least %d", min)
		} else {
			want = fmt.Sprintf("%d-%d", min, max)
		}
	}
	switch {
	case len(args) < min:
		m.errorf("Not enough arguments (expected %s, got %d)", want, len(args))
		return false
	case max >= 0 && len(args) > max:
		m.errorf("Too many arguments (expected %s, got %d)", want, len(args))
		return false
	}
	return true
}
