package hclconf

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/hcl"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr bool
	}{
		{"", 0, false},
		{"90", 90 * time.Second, false},
		{" 30s ", 30 * time.Second, false},
		{"10m", 10 * time.Minute, false},
		{"768h", 768 * time.Hour, false},
		{"1h30m", 90 * time.Minute, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"-5", -5 * time.Second, false},
		{"1.5d", 0, true},
		{"d", 0, true},
		{"1 week", 0, true},
		{"99999999999999999", 0, true},
		{"2d", 48 * time.Hour, false},
		{"soon", 0, true},
		{"xd", 0, true},
		{"99999999999999999999", 0, true},
		{"9999999999999999d", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestParseErrorLine(t *testing.T) {
	_, err := hcl.Parse("a = 1\nb = {\n")
	if err == nil {
		t.Fatal("parse accepted an unclosed object")
	}
	pe := ParseError("f.hcl", err)
	if pe.File != "f.hcl" || pe.Line == 0 {
		t.Errorf("ParseError = %+v, want a line in f.hcl", pe)
	}
	if got := lineInText(`The argument "ui" at 4:1 was already set.`); got != 4 {
		t.Errorf("lineInText = %d, want 4", got)
	}
	if got := lineInText("no position here"); got != 0 {
		t.Errorf("lineInText = %d, want 0", got)
	}
}

func TestErrorsCollect(t *testing.T) {
	var es Errors
	if es.Err() != nil {
		t.Fatal("no problems should be a nil error")
	}
	d := &Decoder{File: "a.hcl", Errs: &es}
	d.Add(Pos{File: "a.hcl", Line: 3}, `listener "tcp"`, "unknown key %q", "adress")
	es.Add(Pos{File: "a.hcl"}, "", "no storage block")
	err := es.Err()
	want := "a.hcl:3: listener \"tcp\": unknown key \"adress\"\na.hcl: no storage block"
	if err == nil || err.Error() != want {
		t.Fatalf("Err() = %v, want %q", err, want)
	}
	var one *Error
	if !errors.As(err, &one) || one.Line != 3 {
		t.Errorf("errors.As found %+v, want the first problem", one)
	}
}

func TestErrorsSort(t *testing.T) {
	es := Errors{
		{File: "b.hcl", Line: 2, Msg: "b2"},
		{File: "a.hcl, b.hcl", Msg: "whole"},
		{File: "a.hcl", Line: 9, Msg: "a9"},
		{File: "b.hcl", Line: 1, Msg: "b1"},
		{File: "a.hcl", Line: 3, Msg: "a3"},
	}
	es.Sort([]string{"a.hcl", "b.hcl"})
	var got []string
	for _, e := range es {
		got = append(got, e.Msg)
	}
	if want := "a3 a9 b1 b2 whole"; fmt.Sprint(got) != "["+want+"]" {
		t.Errorf("sorted %v, want [%s]", got, want)
	}
}
