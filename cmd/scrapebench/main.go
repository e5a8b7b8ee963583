// Command scrapebench benchmarks collection strategies against a mock or
// the real Pangolinfo Scrape API. One file per subcommand; the logic lives
// in the mockapi, strategies and bench packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
)

// Exit statuses, as DESIGN.md's CLI contract fixes them.
const (
	exitOK     = 0
	exitFailed = 1 // a check failed: regression, incomplete or wrong results
	exitUsage  = 2 // usage or configuration error
)

// usageError is a mistake in the command line or configuration: exit 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// env is what a subcommand may touch of the process.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is one subcommand: its flags are parsed by run itself.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, e *env) error
}

var commands = map[string]command{
	"mock":    {"run the mock Pangolinfo Scrape API", runMock},
	"run":     {"run a scenario's strategies, verify every result, print the comparison tables", runRun},
	"sweep":   {"run one strategy across settings and recommend one", runSweep},
	"compare": {"compare two run reports; exit 1 on a regression", runCompare},
	"report":  {"re-render a saved report, draw it to SVG or PNG", runReport},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
}

// run dispatches args to a subcommand and maps its error to an exit status.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(e.stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "scrapebench: unknown command %q\n\n", args[0])
		printUsage(e.stderr)
		return exitUsage
	}
	err := cmd.run(ctx, args[1:], e)
	var ue usageError
	switch {
	case err == nil, errors.Is(err, pflag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "scrapebench %s: %v\nRun 'scrapebench %s --help' for usage.\n", args[0], err, args[0])
		return exitUsage
	default:
		fmt.Fprintf(e.stderr, "scrapebench %s: %v\n", args[0], err)
		return exitFailed
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "scrapebench: benchmark scrape-API collection strategies against a mock or the real API.")
	fmt.Fprintln(w, "\nUsage: scrapebench <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-9s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'scrapebench <command> --help' for a command's flags.")
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// whose usage shows synopsis (first line: the command line) and every flag
// with its default.
func newFlagSet(name, synopsis string, e *env) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.Usage = func() {
		line, rest, _ := strings.Cut(strings.TrimSpace(synopsis), "\n")
		fmt.Fprintf(e.stdout, "Usage: scrapebench %s\n%s\n\nFlags:\n", line, rest)
		fs.VisitAll(func(f *pflag.Flag) {
			// pflag hides zero defaults; show them, since 0 often means "no limit".
			if (f.DefValue == "0" || f.DefValue == "false") && !strings.Contains(f.Usage, "(default") {
				f.Usage += " (default " + f.DefValue + ")"
			}
		})
		fmt.Fprint(e.stdout, fs.FlagUsages())
	}
	return fs
}

// parseFlags parses args, turning parse errors into usage errors (exit 2)
// and --help into pflag.ErrHelp (exit 0, usage on stdout).
func parseFlags(fs *pflag.FlagSet, args []string) error {
	usage := fs.Usage
	fs.Usage = func() {} // errors are printed once, by run
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	if errors.Is(err, pflag.ErrHelp) {
		fs.Usage()
		return err
	}
	if err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
