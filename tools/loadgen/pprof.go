package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// profiler fetches a server's profiles while a workload runs.
type profiler struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

// startProfiles waits out the warm-up, then fetches CPU, allocs, mutex and
// block profiles covering the measured window (less a second, so that the
// fetch ends before the load does) and finally a heap profile, into
// dir/<workload>.<kind>.pb.gz.
func startProfiles(ctx context.Context, baseURL, dir, workload string, warmup, duration time.Duration) *profiler {
	p := &profiler{}
	secs := max(1, int(duration.Seconds())-1)
	hc := &http.Client{Timeout: time.Duration(secs)*time.Second + time.Minute}
	base := strings.TrimRight(baseURL, "/") + "/debug/pprof/"
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			p.fail(err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(warmup):
		}
		// pprof answers the non-CPU profiles with seconds=N as the
		// difference between two snapshots N seconds apart.
		deltas := []struct{ file, path string }{
			{"cpu", "profile"}, {"allocs", "allocs"}, {"mutex", "mutex"}, {"block", "block"},
		}
		var wg sync.WaitGroup
		for _, d := range deltas {
			wg.Add(1)
			go func() {
				defer wg.Done()
				url := fmt.Sprintf("%s%s?seconds=%d", base, d.path, secs)
				p.fail(fetch(ctx, hc, url, filepath.Join(dir, workload+"."+d.file+".pb.gz")))
			}()
		}
		wg.Wait()
		p.fail(fetch(ctx, hc, base+"heap?gc=1", filepath.Join(dir, workload+".heap.pb.gz")))
	}()
	return p
}

func (p *profiler) fail(err error) {
	if err == nil {
		return
	}
	p.mu.Lock()
	p.errs = append(p.errs, err)
	p.mu.Unlock()
}

// wait returns once every profile was written, with the errors met.
func (p *profiler) wait() error {
	p.wg.Wait()
	return errors.Join(p.errs...)
}

func fetch(ctx context.Context, hc *http.Client, url, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
		return fmt.Errorf("fetch %s: status %d: %s", url, resp.StatusCode, strings.TrimSpace(string(msg)))
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return fmt.Errorf("fetch %s: %w", url, err)
	}
	return f.Close()
}
