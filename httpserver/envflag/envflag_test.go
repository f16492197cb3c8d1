package envflag

import (
	"errors"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

type settings struct {
	addr    string
	wait    time.Duration
	burst   int
	rate    float64
	verbose bool
}

func newSet(out io.Writer) (*Set, *settings) {
	var st settings
	s := New("prog [command] [flags]", "Does a thing.", out)
	s.Commands(Command{"serve", "serve (the default)"}, Command{"hash-secret", "print a secret"})
	s.String(&st.addr, "addr", "PROG_ADDR", ":8080", "listen `address`")
	s.Duration(&st.wait, "wait", "PROG_WAIT", 0, "how long to wait")
	s.Int(&st.burst, "burst", "PROG_BURST", 10, "burst")
	s.Float64(&st.rate, "rate", "PROG_RATE", 1.5, "rate")
	s.Bool(&st.verbose, "verbose", "PROG_VERBOSE", false, "say more")
	return s, &st
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    settings
		wantErr string
	}{
		{name: "defaults", want: settings{addr: ":8080", burst: 10, rate: 1.5}},
		{name: "env fills what flags leave", env: map[string]string{"PROG_ADDR": ":1", "PROG_WAIT": "2s", "PROG_BURST": "3", "PROG_RATE": "0.5", "PROG_VERBOSE": "true"},
			want: settings{addr: ":1", wait: 2 * time.Second, burst: 3, rate: 0.5, verbose: true}},
		{name: "flag wins over env", args: []string{"--addr", ":2", "--burst=4"}, env: map[string]string{"PROG_ADDR": ":1", "PROG_BURST": "3"},
			want: settings{addr: ":2", burst: 4, rate: 1.5}},
		{name: "flag given as its default still wins", args: []string{"--burst", "10"}, env: map[string]string{"PROG_BURST": "3"},
			want: settings{addr: ":8080", burst: 10, rate: 1.5}},
		{name: "empty env is unset", env: map[string]string{"PROG_ADDR": ""}, want: settings{addr: ":8080", burst: 10, rate: 1.5}},
		{name: "bad env value names the variable", env: map[string]string{"PROG_WAIT": "soon"}, wantErr: "PROG_WAIT: "},
		{name: "every bad variable is reported", env: map[string]string{"PROG_WAIT": "soon", "PROG_BURST": "many"}, wantErr: "PROG_BURST: "},
		{name: "positional argument refused", args: []string{"extra"}, wantErr: `unexpected arguments: ["extra"]`},
		{name: "unknown flag refused", args: []string{"--nope"}, wantErr: "flag provided but not defined: -nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, got := newSet(io.Discard)
			err := s.Parse(tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *got != tt.want {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestBadEnvValueIsNotEchoed(t *testing.T) {
	s, _ := newSet(io.Discard)
	err := s.Parse(nil, func(k string) string {
		if k == "PROG_BURST" {
			return "hunter2"
		}
		return ""
	})
	if err == nil {
		t.Fatal("got no error for PROG_BURST=hunter2")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q repeats the value", err)
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	s, _ := newSet(&out)
	if err := s.Parse([]string{"--help"}, func(string) string { return "" }); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v, want flag.ErrHelp", err)
	}
	help := out.String()
	for _, want := range []string{
		"Usage: prog [command] [flags]\n",
		"\nDoes a thing.\n",
		"\nCommands:\n  serve        serve (the default)\n  hash-secret  print a secret\n",
		"  --addr address\n        listen address (env PROG_ADDR, default \":8080\")\n",
		"  --wait duration\n        how long to wait (env PROG_WAIT, default \"0s\")\n",
		"  --verbose\n        say more (env PROG_VERBOSE, default \"false\")\n",
	} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if strings.Index(help, "--addr") > strings.Index(help, "--wait") {
		t.Errorf("flags not in definition order:\n%s", help)
	}
}

func TestHelpWithoutFlagsOrCommands(t *testing.T) {
	var out strings.Builder
	s := New("prog hash-secret", "Prints a secret.", &out)
	if err := s.Parse([]string{"-h"}, func(string) string { return "" }); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v, want flag.ErrHelp", err)
	}
	if got, want := out.String(), "Usage: prog hash-secret\n\nPrints a secret.\n\nNo flags.\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestFlagWithoutVariablePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("defining a flag without a variable did not panic")
		}
	}()
	var v string
	New("prog", "", io.Discard).String(&v, "x", "", "", "")
}

func TestIsSet(t *testing.T) {
	s, _ := newSet(io.Discard)
	if err := s.Parse([]string{"--addr", ":1"}, func(k string) string {
		return map[string]string{"PROG_WAIT": "1s", "PROG_RATE": ""}[k]
	}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"addr": true, "wait": true, "rate": false, "burst": false} {
		if got := s.IsSet(name); got != want {
			t.Errorf("IsSet(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestPeriod(t *testing.T) {
	tests := []struct {
		name, arg, env string
		want           time.Duration
		wantErr        bool
	}{
		{name: "default", want: 14 * 24 * time.Hour},
		{name: "days", arg: "90d", want: 90 * 24 * time.Hour},
		{name: "zero days", arg: "0d", want: 0},
		{name: "go duration", arg: "36h30m", want: 36*time.Hour + 30*time.Minute},
		{name: "seconds from env", env: "3s", want: 3 * time.Second},
		{name: "fractional days refused", arg: "1.5d", wantErr: true},
		{name: "negative days refused", arg: "-2d", wantErr: true},
		{name: "word refused", arg: "fortnight", wantErr: true},
		{name: "days beyond a Duration refused", arg: "200000d", wantErr: true},
		{name: "longest days", arg: "106751d", want: 106751 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got time.Duration
			s := New("prog", "", io.Discard)
			s.Period(&got, "every", "PROG_EVERY", 14*24*time.Hour, "how often")
			var args []string
			if tt.arg != "" {
				args = []string{"--every", tt.arg}
			}
			err := s.Parse(args, func(string) string { return tt.env })
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	var d time.Duration
	var help strings.Builder
	s := New("prog", "", &help)
	s.Period(&d, "every", "PROG_EVERY", 90*24*time.Hour, "how often")
	s.Period(&d, "often", "PROG_OFTEN", 30*time.Second, "how often")
	if err := s.Parse([]string{"--help"}, func(string) string { return "" }); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{`default "90d"`, `default "30s"`} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("help lacks %s:\n%s", want, help.String())
		}
	}
}

func TestPositional(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantArgs []string
		wantAddr string
		wantErr  string
	}{
		{name: "before flags", args: []string{"kid1", "--addr", ":1"}, wantArgs: []string{"kid1"}, wantAddr: ":1"},
		{name: "after flags", args: []string{"--addr", ":1", "kid1"}, wantArgs: []string{"kid1"}, wantAddr: ":1"},
		{name: "missing", args: []string{"--addr", ":1"}, wantErr: "missing argument KID"},
		{name: "dash-led after --", args: []string{"--addr", ":1", "--", "-kid"}, wantArgs: []string{"-kid"}, wantAddr: ":1"},
		{name: "one too many", args: []string{"kid1", "kid2"}, wantErr: `unexpected arguments: ["kid2"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var addr string
			s := New("prog", "", io.Discard)
			s.String(&addr, "addr", "PROG_ADDR", ":8080", "listen `address`")
			s.Positional("KID")
			err := s.Parse(tt.args, func(string) string { return "" })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(s.Args(), tt.wantArgs) || addr != tt.wantAddr {
				t.Errorf("got args %q addr %q, want %q %q", s.Args(), addr, tt.wantArgs, tt.wantAddr)
			}
		})
	}
}
