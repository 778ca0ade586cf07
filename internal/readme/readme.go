// Package readme reads the fenced code blocks of a Markdown file, for the
// tests that run the README's snippets and commands as written.
package readme

import (
	"fmt"
	"strings"
)

// Block is a fenced block: its language, the heading it is under, its first
// line's number and its text with the fence's indentation removed.
type Block struct {
	Lang, Heading string
	Line          int
	Text          string
}

// Blocks returns the fenced blocks of markdown in order. A block not closed,
// or with a line indented less than its fence, is an error.
func Blocks(markdown string) ([]Block, error) {
	var (
		blocks  []Block
		heading string
		cur     *Block
		indent  string
	)
	for i, line := range strings.Split(markdown, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		switch {
		case cur != nil && trimmed == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			l, ok := strings.CutPrefix(line, indent)
			if !ok && line != "" {
				return nil, fmt.Errorf("line %d: indented less than its block's fence", i+1)
			}
			cur.Text += l + "\n"
		case strings.HasPrefix(trimmed, "```"):
			indent = line[:len(line)-len(trimmed)]
			cur = &Block{Lang: strings.TrimPrefix(trimmed, "```"), Heading: heading, Line: i + 2}
		case strings.HasPrefix(line, "#"):
			heading = line
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: block not closed", cur.Line)
	}
	return blocks, nil
}
