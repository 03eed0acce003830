package framework

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidateReportsFirstBadFieldByName(t *testing.T) {
	d := &FieldData{
		Raw: map[string]interface{}{"a_ok": "1", "b_bad": "x", "c_bad": "y", "d_bad": "z", "e_ok": "2"},
		Schema: map[string]*FieldSchema{
			"a_ok": {Type: TypeInt}, "b_bad": {Type: TypeInt}, "c_bad": {Type: TypeBool}, "d_bad": {Type: TypeInt}, "e_ok": {Type: TypeInt},
		},
	}
	// Map order varies between runs: the error must not.
	for i := 0; i < 50; i++ {
		err := d.Validate()
		if err == nil || !strings.Contains(err.Error(), `field "b_bad"`) {
			t.Fatalf("Validate = %v", err)
		}
	}
	d.Raw = map[string]interface{}{"a_ok": "1", "unknown": "x"}
	if err := d.Validate(); err != nil {
		t.Fatalf("valid data: %v", err)
	}
}

func TestDecodedValuesAreNotCopied(t *testing.T) {
	list := []string{"a", "b"}
	d := &FieldData{
		Raw: map[string]interface{}{"s": "text", "n": "lower", "l": "already", "list": list, "b": true},
		Schema: map[string]*FieldSchema{
			"s": {Type: TypeString}, "n": {Type: TypeNameString}, "l": {Type: TypeLowerCaseString},
			"list": {Type: TypeCommaStringSlice}, "b": {Type: TypeBool},
			"def": {Type: TypeString, Default: "aes256-gcm96"},
		},
	}
	if allocs := testing.AllocsPerRun(100, func() {
		for k := range d.Schema {
			d.Get(k)
		}
	}); allocs != 0 {
		t.Fatalf("reading decoded fields allocates %v times", allocs)
	}
	if d.Get("def") != "aes256-gcm96" || d.Get("l") != "already" || fmt.Sprint(d.Get("list")) != "[a b]" {
		t.Fatalf("values: %v %v %v", d.Get("def"), d.Get("l"), d.Get("list"))
	}
	d.Raw["n"] = "bad/name"
	if _, _, err := d.GetOkErr("n"); err == nil {
		t.Fatal("a bad name string was accepted")
	}
}

func TestParseDurationSecond(t *testing.T) {
	for in, want := range map[string]string{"+5": "5s", " 7 ": "7s", "-3": "-3s", "30s": "30s", "2h": "2h0m0s", "1d": "24h0m0s", "": "0s"} {
		if d, err := ParseDurationSecond(in); err != nil || d.String() != want {
			t.Errorf("ParseDurationSecond(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"1h30", "x", "5 s", "d"} {
		if d, err := ParseDurationSecond(in); err == nil {
			t.Errorf("ParseDurationSecond(%q) = %v, want an error", in, d)
		}
	}
}
