package readme

import (
	"reflect"
	"testing"
)

func TestBlocks(t *testing.T) {
	md := "# A\n\n```sh\ngo test\n```\n## B\n- item\n\n  ```go\n  x := 1\n\n  y := 2\n  ```\n"
	got, err := Blocks(md)
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{Lang: "sh", Heading: "# A", Line: 4, Text: "go test\n"},
		{Lang: "go", Heading: "## B", Line: 10, Text: "x := 1\n\ny := 2\n"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Blocks = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"```go\nx\n", "  ```go\n x\n  ```\n"} {
		if _, err := Blocks(bad); err == nil {
			t.Errorf("Blocks(%q) accepted", bad)
		}
	}
}
