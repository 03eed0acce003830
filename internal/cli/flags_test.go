package cli

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{in: "", want: 0},
		{in: "30", want: 30 * time.Second},
		{in: "30s", want: 30 * time.Second},
		{in: "5m", want: 5 * time.Minute},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "2d", want: 48 * time.Hour},
		{in: "system", want: -1},
		{in: "soon", wantErr: true},
		{in: "xd", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("parseDuration(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if got != tt.want {
			t.Errorf("parseDuration(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestFlagSetParsing(t *testing.T) {
	var (
		force    bool
		ttl      time.Duration
		n        int
		policies []string
		meta     map[string]string
		cas      boolPtr
		name     string
	)
	newSet := func() *flagSet {
		force, ttl, n, policies, meta, cas, name = false, 0, 0, nil, nil, boolPtr{}, ""
		s := newFlagSet("test")
		s.boolVar(&force, "force", false, "force", "f")
		s.durationVar(&ttl, "ttl", 0, "ttl")
		s.intVar(&n, "key-shares", 5, "shares", "n")
		s.stringSliceVar(&policies, "policy", "policy")
		s.stringMapVar(&meta, "metadata", "metadata")
		s.boolPtrVar(&cas, "cas-required", "cas")
		s.stringVar(&name, "name", "def", "name")
		return s
	}

	t.Run("single and double dash, aliases, repeats", func(t *testing.T) {
		s := newSet()
		args := []string{"-f", "--ttl=1h", "-n", "3", "-policy=a", "--policy", "b",
			"-metadata=k=v", "-metadata", "x=y=z", "-cas-required", "path", "k=v"}
		if err := s.parse(args); err != nil {
			t.Fatal(err)
		}
		if !force || ttl != time.Hour || n != 3 || name != "def" {
			t.Fatalf("force=%v ttl=%v n=%d name=%q", force, ttl, n, name)
		}
		if !reflect.DeepEqual(policies, []string{"a", "b"}) {
			t.Fatalf("policies = %v", policies)
		}
		if !reflect.DeepEqual(meta, map[string]string{"k": "v", "x": "y=z"}) {
			t.Fatalf("metadata = %v", meta)
		}
		if !cas.set || !cas.val {
			t.Fatalf("cas-required = %+v", cas)
		}
		if !reflect.DeepEqual(s.args(), []string{"path", "k=v"}) {
			t.Fatalf("args = %v", s.args())
		}
		if !s.isSet("ttl") || s.isSet("name") {
			t.Fatal("isSet is wrong")
		}
	})

	t.Run("flags after positional arguments are not parsed", func(t *testing.T) {
		s := newSet()
		if err := s.parse([]string{"path", "-f"}); err != nil {
			t.Fatal(err)
		}
		if force {
			t.Fatal("-f after a positional argument was parsed as a flag")
		}
		want := "Command flags must be provided before positional arguments. " +
			"The following arguments will not be parsed as flags: [-f]"
		if got := trailingFlagWarning(s.args()); got != want {
			t.Fatalf("warning = %q", got)
		}
		if got := trailingFlagWarning([]string{"path", "-"}); got != "" {
			t.Fatalf("a lone - was reported as a flag: %q", got)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, args := range [][]string{{"-bogus"}, {"-ttl=forever"}, {"-metadata=novalue"}, {"-key-shares=x"}} {
			if err := newSet().parse(args); err == nil {
				t.Errorf("parse(%v) succeeded", args)
			}
		}
	})

	t.Run("unset bool pointer", func(t *testing.T) {
		s := newSet()
		if err := s.parse(nil); err != nil {
			t.Fatal(err)
		}
		if cas.set {
			t.Fatal("cas-required reported as set")
		}
	})
}

func TestFlagHelp(t *testing.T) {
	m, _, _ := testMeta("table")
	m.env = environ{lookup: envMap(nil)}
	var force bool
	s := m.flagSet("write")
	s.boolVar(&force, "force", false, "Allow the operation to continue with no key=value pairs.", "f")
	h := s.help()
	for _, want := range []string{"HTTP Options:", "Output Options:", "Command Options:", "  -address=<string>", "  -force\n", "  -format=<string>"} {
		if !strings.Contains(h, want) {
			t.Errorf("help lacks %q:\n%s", want, h)
		}
	}
	if strings.Index(h, "HTTP Options:") > strings.Index(h, "Command Options:") {
		t.Error("command options listed before HTTP options")
	}
}
