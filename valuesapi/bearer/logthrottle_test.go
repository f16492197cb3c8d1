package bearer

import (
	"testing"
	"time"
)

func TestLogThrottle(t *testing.T) {
	l := logThrottle{every: time.Minute}
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at             time.Duration
		wantOK         bool
		wantSuppressed int
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{30 * time.Second, false, 0},
		{time.Minute, true, 2},
		{time.Minute + time.Second, false, 0},
		{3 * time.Minute, true, 1},
	}
	for _, s := range steps {
		n, ok := l.allow(t0.Add(s.at))
		if ok != s.wantOK || n != s.wantSuppressed {
			t.Errorf("at %v: got (%d, %v), want (%d, %v)", s.at, n, ok, s.wantSuppressed, s.wantOK)
		}
	}
}
