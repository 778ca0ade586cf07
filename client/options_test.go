package client_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchsec/latch/client"
	"github.com/latchsec/latch/internal/simulator"
)

// New refuses every option (and Config field) it cannot honour with an
// *OptionError wrapping ErrInvalidOptions, before it touches the state
// directory. In particular no option switches a cap off: a negative count
// used to remove the limit, since the checks compared with ==.
func TestNewRefusesInvalidOptions(t *testing.T) {
	t.Parallel()
	repo := simulator.New(t, simulator.Options{})
	good := client.Config{TrustedRoot: repo.TrustedRoot(), MetadataURLs: []string{"https://example.com/m/"}}
	pin := "0000000000000000000000000000000000000000000000000000000000000000"
	for _, tc := range []struct {
		name   string
		cfg    func(*client.Config)
		opts   []client.Option
		option string // OptionError.Option
	}{
		{"max delegations -1", nil, []client.Option{client.WithMaxDelegations(-1)}, "WithMaxDelegations"},
		{"max delegations 0", nil, []client.Option{client.WithMaxDelegations(0)}, "WithMaxDelegations"},
		{"max root rotations -1", nil, []client.Option{client.WithMaxRootRotations(-1)}, "WithMaxRootRotations"},
		{"max root rotations 0", nil, []client.Option{client.WithMaxRootRotations(0)}, "WithMaxRootRotations"},
		{"max delegations above the ceiling", nil, []client.Option{client.WithMaxDelegations(client.MaxDelegationsCeiling + 1)}, "WithMaxDelegations"},
		{"max root rotations above the ceiling", nil, []client.Option{client.WithMaxRootRotations(client.MaxRootRotationsCeiling + 1)}, "WithMaxRootRotations"},
		{"root limit above the ceiling", nil, []client.Option{client.WithLimits(client.Limits{Root: client.LimitCeiling + 1})}, "WithLimits"},
		{"targets limit above the ceiling", nil, []client.Option{client.WithLimits(client.Limits{Targets: 1 << 62})}, "WithLimits"},
		{"negative root limit", nil, []client.Option{client.WithLimits(client.Limits{Root: -1})}, "WithLimits"},
		{"negative timestamp limit", nil, []client.Option{client.WithLimits(client.Limits{Timestamp: -1})}, "WithLimits"},
		{"negative snapshot limit", nil, []client.Option{client.WithLimits(client.Limits{Snapshot: -1})}, "WithLimits"},
		{"negative targets limit", nil, []client.Option{client.WithLimits(client.Limits{Targets: -1})}, "WithLimits"},
		{"negative clock tolerance", nil, []client.Option{client.WithClockToleranceUnsafe(-time.Second)}, "WithClockToleranceUnsafe"},
		{"zero transfer timeout", nil, []client.Option{client.WithTransferLimits(0, 1024, time.Second)}, "WithTransferLimits"},
		{"negative transfer timeout", nil, []client.Option{client.WithTransferLimits(-time.Second, 1024, time.Second)}, "WithTransferLimits"},
		{"zero throughput", nil, []client.Option{client.WithTransferLimits(time.Minute, 0, time.Second)}, "WithTransferLimits"},
		{"negative throughput", nil, []client.Option{client.WithTransferLimits(time.Minute, -1, time.Second)}, "WithTransferLimits"},
		{"zero window", nil, []client.Option{client.WithTransferLimits(time.Minute, 1024, 0)}, "WithTransferLimits"},
		{"zero header timeout", nil, []client.Option{client.WithMetadataTimeouts(0, time.Second)}, "WithMetadataTimeouts"},
		{"negative header timeout", nil, []client.Option{client.WithMetadataTimeouts(-time.Second, time.Second)}, "WithMetadataTimeouts"},
		{"zero per-file timeout", nil, []client.Option{client.WithMetadataTimeouts(time.Second, 0)}, "WithMetadataTimeouts"},
		{"negative per-file timeout", nil, []client.Option{client.WithMetadataTimeouts(time.Second, -1)}, "WithMetadataTimeouts"},
		{"header timeout above per-file", nil, []client.Option{client.WithMetadataTimeouts(2*time.Second, time.Second)}, "WithMetadataTimeouts"},
		{"no pins", nil, []client.Option{client.WithSPKIPins()}, "WithSPKIPins"},
		{"malformed pin", nil, []client.Option{client.WithSPKIPins(pin, "sha256/AAAA")}, "WithSPKIPins"},
		{"nil fetcher", nil, []client.Option{client.WithFetcher(nil)}, "WithFetcher"},
		{"nil clock", nil, []client.Option{client.WithClock(nil)}, "WithClock"},
		{"fetcher and transport options", nil, []client.Option{client.WithFetcher(fastFetcher()), client.WithSPKIPins(pin)}, "WithFetcher"},
		{"no trusted root", func(c *client.Config) { c.TrustedRoot = nil }, nil, "Config.TrustedRoot"},
		{"no state directory", func(c *client.Config) { c.StateDir = "" }, nil, "Config.StateDir"},
		{"relative mirror", func(c *client.Config) { c.MetadataURLs = []string{"metadata/"} }, nil, "Config.MetadataURLs"},
		{"mirror with a query", func(c *client.Config) { c.TargetURLs = []string{"https://example.com/t/?x=1"} }, nil, "Config.TargetURLs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := good
			cfg.StateDir = filepath.Join(t.TempDir(), "state")
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			c, err := client.New(cfg, tc.opts...)
			if err == nil {
				c.Close()
				t.Fatal("New accepted the options")
			}
			wantIs(t, err, client.ErrInvalidOptions)
			if oe := wantAs[*client.OptionError](t, err); oe.Option != tc.option {
				t.Errorf("OptionError %+v, want Option %q", oe, tc.option)
			}
			if cfg.StateDir != "" {
				if _, err := os.Stat(cfg.StateDir); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("state directory created by a refused New: %v", err)
				}
			}
		})
	}

	// The boundaries that mean something are accepted.
	cfg := good
	cfg.StateDir = t.TempDir()
	c, err := client.New(cfg, client.WithMaxDelegations(1), client.WithMaxRootRotations(1),
		client.WithLimits(client.Limits{Root: 1 << 10}), client.WithClockToleranceUnsafe(0), client.WithMetadataTimeouts(time.Second, time.Second),
		client.WithLogger(nil), client.WithProgress(nil), client.WithRootCAs(nil))
	if err != nil {
		t.Fatalf("New with the smallest meaningful values: %v", err)
	}
	c.Close()
	cfg.StateDir = t.TempDir()
	ceil := client.LimitCeiling
	c, err = client.New(cfg, client.WithMaxDelegations(client.MaxDelegationsCeiling), client.WithMaxRootRotations(client.MaxRootRotationsCeiling),
		client.WithLimits(client.Limits{Root: ceil, Timestamp: ceil, Snapshot: ceil, Targets: ceil}))
	if err != nil {
		t.Fatalf("New with the largest values: %v", err)
	}
	c.Close()
}
