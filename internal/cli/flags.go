package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// flagSet wraps flag.FlagSet with grouped help output in the layout Vault
// uses ("HTTP Options:", "Output Options:", "Command Options:"). Flags are
// single-dash; the standard library also accepts the double-dash form.
type flagSet struct {
	fs      *flag.FlagSet
	groups  []*flagGroup
	current *flagGroup
}

type flagGroup struct {
	name  string
	flags []flagDoc
}

type flagDoc struct {
	name    string
	example string
	usage   string
}

func newFlagSet(name string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{fs: fs}
}

// section starts a new help group; flags added afterwards belong to it.
func (s *flagSet) section(name string) {
	for _, g := range s.groups {
		if g.name == name {
			s.current = g
			return
		}
	}
	s.current = &flagGroup{name: name}
	s.groups = append(s.groups, s.current)
}

func (s *flagSet) add(v flag.Value, name, example, usage string, aliases ...string) {
	if s.current == nil {
		s.section("Command Options")
	}
	s.fs.Var(v, name, usage)
	for _, a := range aliases {
		s.fs.Var(v, a, usage)
	}
	s.current.flags = append(s.current.flags, flagDoc{name: name, example: example, usage: usage})
}

func (s *flagSet) stringVar(p *string, name, def, usage string, aliases ...string) {
	*p = def
	s.add((*stringValue)(p), name, "string", usage, aliases...)
}

func (s *flagSet) boolVar(p *bool, name string, def bool, usage string, aliases ...string) {
	*p = def
	s.add((*boolValue)(p), name, "", usage, aliases...)
}

func (s *flagSet) intVar(p *int, name string, def int, usage string, aliases ...string) {
	*p = def
	s.add((*intValue)(p), name, "int", usage, aliases...)
}

func (s *flagSet) durationVar(p *time.Duration, name string, def time.Duration, usage string, aliases ...string) {
	*p = def
	s.add((*durationValue)(p), name, "duration", usage, aliases...)
}

func (s *flagSet) stringSliceVar(p *[]string, name, usage string, aliases ...string) {
	s.add((*stringSliceValue)(p), name, "string", usage, aliases...)
}

func (s *flagSet) stringMapVar(p *map[string]string, name, usage string, aliases ...string) {
	s.add((*stringMapValue)(p), name, "key=value", usage, aliases...)
}

func (s *flagSet) boolPtrVar(p *boolPtr, name, usage string) {
	s.add(p, name, "", usage)
}

// parse parses args. Flags must precede positional arguments, as in Vault.
func (s *flagSet) parse(args []string) error {
	return s.fs.Parse(args)
}

func (s *flagSet) args() []string { return s.fs.Args() }

// isSet reports whether the named flag was given on the command line.
func (s *flagSet) isSet(name string) bool {
	set := false
	s.fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

var reWhitespace = regexp.MustCompile(`\s+`)

// help renders the flag groups.
func (s *flagSet) help() string {
	var b strings.Builder
	for _, g := range s.groups {
		if len(g.flags) == 0 {
			continue
		}
		fmt.Fprintf(&b, "%s:\n\n", g.name)
		docs := append([]flagDoc(nil), g.flags...)
		sort.SliceStable(docs, func(i, j int) bool { return docs[i].name < docs[j].name })
		for _, d := range docs {
			if d.example != "" {
				fmt.Fprintf(&b, "  -%s=<%s>\n", d.name, d.example)
			} else {
				fmt.Fprintf(&b, "  -%s\n", d.name)
			}
			usage := reWhitespace.ReplaceAllString(d.usage, " ")
			fmt.Fprintf(&b, "%s\n\n", wrapAtLengthWithPadding(usage, 6))
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// trailingFlagWarning returns the warning Vault prints when flag-looking
// arguments follow positional ones (they are not parsed as flags).
func trailingFlagWarning(args []string) string {
	var trailing []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") || a == "-" {
			continue
		}
		trailing = append(trailing, a)
	}
	if len(trailing) == 0 {
		return ""
	}
	return fmt.Sprintf("Command flags must be provided before positional arguments. "+
		"The following arguments will not be parsed as flags: [%s]", strings.Join(trailing, ","))
}

type stringValue string

func (v *stringValue) Set(s string) error { *v = stringValue(s); return nil }
func (v *stringValue) String() string     { return string(*v) }

type boolValue bool

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*v = boolValue(b)
	return nil
}
func (v *boolValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) IsBoolFlag() bool { return true }

type intValue int

func (v *intValue) Set(s string) error {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 0, 64)
	if err != nil {
		return err
	}
	*v = intValue(n)
	return nil
}
func (v *intValue) String() string { return strconv.Itoa(int(*v)) }

type durationValue time.Duration

func (v *durationValue) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	*v = durationValue(d)
	return nil
}
func (v *durationValue) String() string { return time.Duration(*v).String() }

// parseDuration parses a CLI duration: a bare integer is seconds, "system"
// means -1 (use the system default), and "d" is accepted as a day suffix.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return 0, nil
	case s == "system":
		return -1, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseInt(strings.TrimSuffix(s, "d"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return d, nil
}

// stringSliceValue collects every occurrence of a repeatable flag.
type stringSliceValue []string

func (v *stringSliceValue) Set(s string) error {
	*v = append(*v, strings.TrimSpace(s))
	return nil
}
func (v *stringSliceValue) String() string { return strings.Join(*v, ",") }

// stringMapValue collects repeatable key=value flags.
type stringMapValue map[string]string

func (v *stringMapValue) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok {
		return errors.New("missing = in KV pair")
	}
	if *v == nil {
		*v = map[string]string{}
	}
	(*v)[k] = val
	return nil
}

func (v *stringMapValue) String() string {
	keys := make([]string, 0, len(*v))
	for k := range *v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+(*v)[k])
	}
	return strings.Join(parts, ",")
}

// boolPtr is a bool flag that remembers whether it was given.
type boolPtr struct {
	set bool
	val bool
}

func (b *boolPtr) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.set, b.val = true, v
	return nil
}
func (b *boolPtr) String() string   { return strconv.FormatBool(b.val) }
func (b *boolPtr) IsBoolFlag() bool { return true }
