package mysql

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	driver "github.com/go-sql-driver/mysql"

	"github.com/coffer-dev/coffer/internal/engine/database/dbplugin"
)

func TestEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"it's", "it''s"},
		{`back\slash`, `back\\slash`},
		{`\'`, `\\''`},
	}
	for _, tt := range tests {
		if got := escapeString(tt.in); got != tt.want {
			t.Errorf("escapeString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := quoteString("a'b"); got != "'a''b'" {
		t.Errorf("quoteString = %s", got)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		statement bool
	}{
		{"syntax", &driver.MySQLError{Number: 1064, Message: "syntax"}, true},
		{"unknown user", &driver.MySQLError{Number: 1396, Message: "Operation DROP USER failed"}, true},
		{"access denied at login", &driver.MySQLError{Number: 1045, Message: "Access denied"}, false},
		{"too many connections", &driver.MySQLError{Number: 1040}, false},
		{"network", errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), false},
		{"bad connection", driver.ErrInvalidConn, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := classify(fmt.Errorf("statement 1: %w", tt.err), nil)
			var se *dbplugin.StatementError
			if errors.As(err, &se) != tt.statement {
				t.Fatalf("classify(%v) = %T", tt.err, err)
			}
		})
	}
}

func TestInitialize(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		cfg  dbplugin.ConnectionConfig
		want string
	}{
		{"empty", dbplugin.ConnectionConfig{}, "connection_url cannot be empty"},
		{"template in username", dbplugin.ConnectionConfig{ConnectionURL: "x@tcp(h)/", Username: "{{username}}"}, "cannot contain the template"},
		{"bad dsn", dbplugin.ConnectionConfig{ConnectionURL: "{{username}}:{{password}}@tcp(h", Password: "topsecret"}, "invalid connection_url"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(false).Initialize(ctx, dbplugin.InitializeRequest{Config: tt.cfg})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "topsecret") {
				t.Fatalf("error %v, want %q without the password", err, tt.want)
			}
		})
	}
	for _, legacy := range []bool{false, true} {
		d := New(legacy)
		resp, err := d.Initialize(ctx, dbplugin.InitializeRequest{Config: dbplugin.ConnectionConfig{ConnectionURL: "{{username}}:{{password}}@tcp(127.0.0.1:1)/"}})
		if err != nil {
			t.Fatal(err)
		}
		want := 32
		if legacy {
			want = 16
		}
		if resp.MaxUsernameLength != want || resp.DefaultUsernameTemplate == "" {
			t.Fatalf("legacy=%v: %+v", legacy, resp)
		}
		if _, err := d.DeleteUser(ctx, dbplugin.DeleteUserRequest{Username: "u"}); err == nil {
			t.Fatal("DeleteUser against a closed port succeeded")
		} else {
			var ce *dbplugin.ConnectionError
			if !errors.As(err, &ce) {
				t.Fatalf("unreachable server gave %T: %v", err, err)
			}
		}
		_ = d.Close()
	}
}
