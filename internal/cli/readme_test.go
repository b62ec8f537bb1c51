package cli

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// helpDefaults returns every flag of the starter's commands with the
// defaults their help gives, from `starter CMD -h`: "(default X)", or
// "(0: X)" where zero stands for X. A flag with no default has "" (the
// help prints none for a zero value); one that several commands share may
// have a default in each.
func helpDefaults(t *testing.T) map[string][]string {
	t.Helper()
	flagLine := regexp.MustCompile(`^  -([a-z0-9-]+)`)
	def := regexp.MustCompile(`\((default|0:) ([^()]*)\)$`)
	flags := map[string][]string{}
	for cmd := range commands() {
		var out bytes.Buffer
		Main(context.Background(), []string{cmd, "-h"}, Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
		name := ""
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			line := sc.Text()
			if m := flagLine.FindStringSubmatch(line); m != nil {
				name = m[1]
				if _, ok := flags[name]; !ok {
					flags[name] = nil
				}
				continue
			}
			if m := def.FindStringSubmatch(line); m != nil && name != "" && strings.HasPrefix(line, "    \t") {
				d, _, _ := strings.Cut(strings.Trim(m[2], `"`), ", ")
				flags[name] = append(flags[name], d)
				if m[1] == "0:" {
					flags[name] = append(flags[name], "0")
				}
			}
		}
	}
	for name, defs := range flags {
		if len(defs) == 0 {
			flags[name] = []string{""}
		}
	}
	if len(flags) < 50 {
		t.Fatalf("read %d flags from the commands' help, want the whole set", len(flags))
	}
	return flags
}

// The README's flag tables name only flags that exist, and where a table
// gives a plain default (a number, a duration, a word in backquotes, off)
// it is the default the flag has.
func TestReadmeFlagTables(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	flags := helpDefaults(t)
	flagName := regexp.MustCompile("`--([a-z0-9-]+)`")
	plain := regexp.MustCompile("^(`[^` ]+`|[0-9][0-9.]*[a-z]*|off)$")
	defCol, rows, checked := -1, 0, 0
	for i, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "|") {
			defCol = -1
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		if cells[0] == "flag" {
			defCol = -1
			for j, c := range cells {
				if c == "default" {
					defCol = j
				}
			}
			continue
		}
		if !strings.HasPrefix(cells[0], "`--") {
			continue
		}
		rows++
		var names []string
		for _, m := range flagName.FindAllStringSubmatch(cells[0], -1) {
			names = append(names, m[1])
			if _, ok := flags[m[1]]; !ok {
				t.Errorf("README.md:%d names --%s, which no command has", i+1, m[1])
			}
		}
		if defCol < 0 || defCol >= len(cells) || len(names) == 0 {
			continue
		}
		defs := strings.Split(cells[defCol], ", ")
		if len(defs) != len(names) {
			continue // a default said in words
		}
		for k, d := range defs {
			if !plain.MatchString(d) {
				continue
			}
			checked++
			want, ok := flags[names[k]]
			if !ok {
				continue
			}
			if !slices.ContainsFunc(want, func(h string) bool { return sameDefault(strings.Trim(d, "`"), h) }) {
				t.Errorf("README.md:%d gives --%s the default %s; its help says %q", i+1, names[k], d, want)
			}
		}
	}
	t.Logf("%d flag rows, %d defaults checked", rows, checked)
	if rows < 40 || checked < 20 {
		t.Fatalf("read %d flag rows and checked %d defaults: the tables' shape changed", rows, checked)
	}
}

// sameDefault compares a README default with a help default: durations by
// value; "off" and 0 with a default the help does not print (a zero value).
func sameDefault(readme, help string) bool {
	if readme == help || ((readme == "off" || readme == "0") && (help == "" || help == "false")) {
		return true
	}
	a, errA := time.ParseDuration(readme)
	b, errB := time.ParseDuration(help)
	return errA == nil && errB == nil && a == b
}
