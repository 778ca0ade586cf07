package main

import (
	"fmt"
	"io"
)

// glossary explains the words of TUF the report uses, each before its
// first use; demo_test checks that.
var glossary = []struct{ term, meaning string }{
	{"root", "the keys of every role; shipped inside the app, it is the anchor of all trust"},
	{"targets", "the length and hashes of every release file (TUF calls the files targets)"},
	{"delegation", "targets handing the files below some path over to other keys"},
	{"snapshot", "the version of every targets file at one moment"},
	{"timestamp", "short-lived and signed often: names the newest snapshot"},
	{"threshold", "how many of a role's keys must sign; fewer signatures count as none"},
	{"rollback", "an attack: an older signed file served again, to undo an update"},
	{"freeze", "an attack: stale metadata served on and on, so that no update is ever seen"},
	{"mix-and-match", "an attack: signed files from different moments served together"},
}

// printGlossary writes the glossary.
func printGlossary(out io.Writer) {
	say(out, "", "", "TUF in brief: each kind of signed metadata is a role with keys "+
		"of its own; latch trusts a file only if enough of its role's keys signed it "+
		"and it is no older than what it trusted.")
	for _, g := range glossary {
		fmt.Fprintf(out, "  %-14s %s\n", g.term, g.meaning)
	}
	fmt.Fprintln(out)
}
