package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	// Fields after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{name: "plain", stat: "1234 (valuesapi) S 1 1234 1234 0 -1 4194560 900 0 0 0 250 75 0 0 20 0 8 0 100 0 0", want: 3250 * time.Millisecond},
		// A name may hold spaces and parentheses; only the last ')' ends it.
		{name: "odd name", stat: "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 5", want: 30 * time.Millisecond},
		{name: "no name", stat: "7 R 1 7", wantErr: true},
		{name: "short", stat: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 1", wantErr: true},
		{name: "not a number", stat: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 x 2 0", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU(tt.stat)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseSchedstat(t *testing.T) {
	got, err := parseSchedstat("572165740 852118 28\n")
	if err != nil || got != 572165740*time.Nanosecond {
		t.Errorf("got %v, %v, want 572.16574ms", got, err)
	}
	for _, bad := range []string{"", "x 1 2"} {
		if _, err := parseSchedstat(bad); err == nil {
			t.Errorf("parseSchedstat(%q): got no error", bad)
		}
	}
}

func TestParseVmRSS(t *testing.T) {
	status := "Name:\tvaluesapi\nVmPeak:\t 1262372 kB\nVmHWM:\t   14000 kB\nVmRSS:\t   12908 kB\nRssAnon:\t    5000 kB\n"
	got, err := parseVmRSS(status)
	if err != nil || got != 12908 {
		t.Errorf("got %d, %v, want 12908", got, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmRSS:\t12 MB\n", "VmRSS:\tmany kB\n"} {
		if _, err := parseVmRSS(bad); err == nil {
			t.Errorf("parseVmRSS(%q): got no error", bad)
		}
	}
}

// TestOwnProcess reads this test's own /proc entries: the readers find the files and the numbers make sense.
func TestOwnProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	cpu, err := processCPU(os.Getpid())
	if err != nil || cpu <= 0 {
		t.Errorf("processCPU = %v, %v, want > 0", cpu, err)
	}
	rss, err := rssKiB(os.Getpid())
	if err != nil || rss <= 0 {
		t.Errorf("rssKiB = %d, %v, want > 0", rss, err)
	}
}
