package audit_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/latchsec/latch/internal/audit"
)

func Example() {
	dir, err := os.MkdirTemp("", "audit-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	// The client keeps the anchor in its rollback state; MemAnchor stands
	// in for it here.
	anchor := &audit.MemAnchor{}
	clock := func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) }
	log, err := audit.Open(audit.Options{Dir: dir, Now: clock}, anchor)
	if err != nil {
		panic(err)
	}
	log.Append(audit.KindRefresh, map[string]any{"root": 5, "timestamp": 812, "snapshot": 640, "targets": 77})
	log.Append(audit.KindDownload, map[string]any{"target": "app/1.4.2/linux-amd64", "length": 1048576, "mirror": "https://cdn.example.com/targets/"})
	log.Close()

	b, _ := os.ReadFile(filepath.Join(dir, "audit.log"))
	first, _, _ := bytes.Cut(b, []byte("\n"))
	fmt.Printf("%s\n", first)

	head, _ := anchor.Load()
	sum, err := audit.VerifyAnchored(dir, head)
	fmt.Println(sum.Records, sum.Last.Seq, err)
	// Output:
	// {"seq":1,"time":"2025-01-02T03:04:05Z","kind":"refresh","fields":{"root":5,"snapshot":640,"targets":77,"timestamp":812},"prev":"0000000000000000000000000000000000000000000000000000000000000000"}
	// 2 2 <nil>
}
