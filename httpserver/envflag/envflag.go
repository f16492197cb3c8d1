// Package envflag is the command line of every program in the project: each
// flag has an environment variable (the flag wins when both are set), and
// --help prints one layout everywhere: usage, what the program does, its
// subcommands, then each flag with its variable and default.
package envflag

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Command is a subcommand listed in the help.
type Command struct {
	Name, Summary string
}

// Set is a flag.FlagSet whose every flag has an environment variable.
type Set struct {
	fs       *flag.FlagSet
	usage    string
	about    string
	commands []Command
	env      map[string]string // flag name -> variable
	order    []string          // flag names as defined, for the help
	set      map[string]bool   // flags given or read from their variable by Parse
	argNames []string          // positional arguments Parse accepts, in order
	args     []string
}

// New starts a set. usage is the synopsis after "Usage: ", such as
// "authserver [command] [flags]"; about says in a sentence what it does.
// Help and parse errors go to out.
func New(usage, about string, out io.Writer) *Set {
	s := &Set{usage: usage, about: about, env: map[string]string{}}
	s.fs = flag.NewFlagSet(strings.Fields(usage + " x")[0], flag.ContinueOnError)
	s.fs.SetOutput(out)
	s.fs.Usage = s.printUsage
	return s
}

// Commands lists the subcommands in the help, in this order.
func (s *Set) Commands(cmds ...Command) { s.commands = cmds }

func (s *Set) define(name, env string) {
	if env == "" {
		panic("envflag: flag --" + name + " has no environment variable")
	}
	s.env[name] = env
	s.order = append(s.order, name)
}

// String defines a string flag read from env when not given.
func (s *Set) String(p *string, name, env, def, usage string) {
	s.define(name, env)
	s.fs.StringVar(p, name, def, usage)
}

// Duration defines a duration flag read from env when not given.
func (s *Set) Duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	s.define(name, env)
	s.fs.DurationVar(p, name, def, usage)
}

// Period defines a duration flag that also takes whole days, such as 14d,
// for schedules counted in days; its default prints in days when whole.
func (s *Set) Period(p *time.Duration, name, env string, def time.Duration, usage string) {
	s.define(name, env)
	*p = def
	s.fs.Var((*period)(p), name, usage)
}

type period time.Duration

func (d *period) String() string { return FormatPeriod(time.Duration(*d)) }

// FormatPeriod writes d as a Period flag takes it: in whole days when it
// is some, else as a Go duration.
func FormatPeriod(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

func (d *period) Set(v string) error {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		// 106751 days is the longest time.Duration holds.
		n, err := strconv.ParseInt(days, 10, 32)
		if err != nil || n < 0 || n > int64(math.MaxInt64/(24*time.Hour)) {
			return errors.New("want a duration such as 90s, 36h or 14d")
		}
		*d = period(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	v2, err := time.ParseDuration(v)
	if err != nil {
		return errors.New("want a duration such as 90s, 36h or 14d")
	}
	*d = period(v2)
	return nil
}

// Positional names the positional arguments Parse accepts, all required, in
// this order, before, after or among the flags.
func (s *Set) Positional(names ...string) { s.argNames = names }

// Args returns the positional arguments Parse read.
func (s *Set) Args() []string { return s.args }

// Int defines an int flag read from env when not given.
func (s *Set) Int(p *int, name, env string, def int, usage string) {
	s.define(name, env)
	s.fs.IntVar(p, name, def, usage)
}

// Float64 defines a float64 flag read from env when not given.
func (s *Set) Float64(p *float64, name, env string, def float64, usage string) {
	s.define(name, env)
	s.fs.Float64Var(p, name, def, usage)
}

// Bool defines a bool flag read from env when not given.
func (s *Set) Bool(p *bool, name, env string, def bool, usage string) {
	s.define(name, env)
	s.fs.BoolVar(p, name, def, usage)
}

// Parse reads the flags in args, then sets every flag that was not given
// from its environment variable when that is not empty. Positional
// arguments are refused. After printing the help for -h or --help it
// returns flag.ErrHelp.
func (s *Set) Parse(args []string, getenv func(string) string) error {
	s.args = nil
	for {
		if err := s.fs.Parse(args); err != nil {
			return err
		}
		if s.fs.NArg() == 0 {
			break
		}
		if len(s.args) == len(s.argNames) {
			return fmt.Errorf("unexpected arguments: %q (see --help)", s.fs.Args())
		}
		s.args = append(s.args, s.fs.Arg(0))
		args = s.fs.Args()[1:]
	}
	if len(s.args) < len(s.argNames) {
		return fmt.Errorf("missing argument %s (see --help)", s.argNames[len(s.args)])
	}
	given := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	s.set = given
	var errs []error
	for _, name := range s.order {
		if given[name] {
			continue
		}
		if v := getenv(s.env[name]); v != "" {
			given[name] = true
			// The value is not repeated: it may be a secret.
			if err := s.fs.Set(name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.env[name], err))
			}
		}
	}
	return errors.Join(errs...)
}

// IsSet reports whether Parse found the flag on the command line or in its variable, so that a default can
// depend on other settings.
func (s *Set) IsSet(name string) bool { return s.set[name] }

func (s *Set) printUsage() {
	w := s.fs.Output()
	fmt.Fprintf(w, "Usage: %s\n", s.usage)
	if s.about != "" {
		fmt.Fprintf(w, "\n%s\n", s.about)
	}
	if len(s.commands) > 0 {
		fmt.Fprintln(w, "\nCommands:")
		width := 0
		for _, c := range s.commands {
			width = max(width, len(c.Name))
		}
		for _, c := range s.commands {
			fmt.Fprintf(w, "  %-*s  %s\n", width, c.Name, c.Summary)
		}
	}
	if len(s.order) == 0 {
		fmt.Fprintln(w, "\nNo flags.")
		return
	}
	fmt.Fprintln(w, "\nFlags (each also read from its environment variable; the flag wins):")
	for _, name := range s.order {
		f := s.fs.Lookup(name)
		kind, usage := flag.UnquoteUsage(f)
		if kind != "" {
			kind = " " + kind
		}
		def := ""
		if f.DefValue != "" {
			def = fmt.Sprintf(", default %q", f.DefValue)
		}
		fmt.Fprintf(w, "  --%s%s\n        %s (env %s%s)\n", name, kind, usage, s.env[name], def)
	}
}
