package bench

import (
	"io"
	"os"
	"time"

	"github.com/jedib0t/go-pretty/v6/progress"

	"github.com/scrapebench/scrapebench/strategies"
)

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar shows one run's jobs done on a terminal.
type progressBar struct {
	pw      progress.Writer
	tracker *progress.Tracker
	done    chan struct{}
}

func startProgress(w io.Writer, label string, total int) *progressBar {
	pw := progress.NewWriter()
	pw.SetOutputWriter(w)
	pw.SetAutoStop(false)
	pw.SetTrackerLength(30)
	pw.SetMessageLength(24)
	pw.SetUpdateFrequency(200 * time.Millisecond)
	pw.Style().Visibility.ETA = true
	pw.Style().Visibility.Percentage = true
	pw.Style().Visibility.Value = true
	pw.Style().Options.TimeInProgressPrecision = time.Second
	t := &progress.Tracker{Message: label, Total: int64(total), Units: progress.UnitsDefault}
	pw.AppendTracker(t)
	b := &progressBar{pw: pw, tracker: t, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		pw.Render()
	}()
	return b
}

func (b *progressBar) hooks() strategies.Hooks {
	return strategies.Hooks{
		OnStored: func(string, string, time.Duration) { b.tracker.Increment(1) },
		OnFailed: func(string, string) { b.tracker.IncrementWithError(1) },
	}
}

func (b *progressBar) stop() {
	b.tracker.MarkAsDone()
	b.pw.Stop()
	<-b.done
}
