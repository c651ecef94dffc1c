package assets

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// fmtArgs reads a fmt format and returns, for each argument it takes by
// index from 0, the verbs that print it (sorted, one letter each; '*' for
// a width or precision). An argument the format skips (it can, with
// explicit indexes) has "". A translation may reorder its arguments with
// %[n]d, so two languages' formats agree when fmtArgs gives both the same.
func fmtArgs(format string) ([]string, error) {
	var args [][]rune
	use := func(n int, verb rune) {
		for len(args) <= n {
			args = append(args, nil)
		}
		if !slices.Contains(args[n], verb) {
			args[n] = append(args[n], verb)
		}
	}
	n := 0 // the argument the next verb prints
	// index reads an explicit [n] at i, if there is one.
	index := func(i int) (int, error) {
		if i >= len(format) || format[i] != '[' {
			return i, nil
		}
		end := strings.IndexByte(format[i:], ']')
		if end < 0 {
			return i, fmt.Errorf("%q: unclosed [ at %d", format, i)
		}
		k, err := strconv.Atoi(format[i+1 : i+end])
		if err != nil || k < 1 {
			return i, fmt.Errorf("%q: bad argument index %q", format, format[i:i+end+1])
		}
		n = k - 1
		return i + end + 1, nil
	}
	// number reads a width or precision at i: digits, or * (an argument).
	number := func(i int) (int, error) {
		i, err := index(i)
		if err != nil {
			return i, err
		}
		if i < len(format) && format[i] == '*' {
			use(n, '*')
			n++
			return i + 1, nil
		}
		for i < len(format) && format[i] >= '0' && format[i] <= '9' {
			i++
		}
		return i, nil
	}
	for i := 0; i < len(format); {
		if format[i] != '%' {
			i++
			continue
		}
		i++
		for i < len(format) && strings.IndexByte("+-# 0", format[i]) >= 0 {
			i++
		}
		var err error
		if i, err = number(i); err != nil {
			return nil, err
		}
		if i < len(format) && format[i] == '.' {
			if i, err = number(i + 1); err != nil {
				return nil, err
			}
		}
		if i, err = index(i); err != nil {
			return nil, err
		}
		if i >= len(format) {
			return nil, fmt.Errorf("%q ends inside a verb", format)
		}
		verb, size := utf8.DecodeRuneInString(format[i:])
		i += size
		if verb == '%' {
			continue
		}
		use(n, verb)
		n++
	}
	out := make([]string, len(args))
	for k, vs := range args {
		slices.Sort(vs)
		out[k] = string(vs)
	}
	return out, nil
}

// sameArgs reports how format b (a translation) takes other arguments
// than format a, "" when it takes the same.
func sameArgs(a, b string) string {
	fa, err := fmtArgs(a)
	if err != nil {
		return err.Error()
	}
	fb, err := fmtArgs(b)
	if err != nil {
		return err.Error()
	}
	if !slices.Equal(fa, fb) {
		return fmt.Sprintf("arguments %q, want %q", fb, fa)
	}
	return ""
}

func TestFmtArgs(t *testing.T) {
	for _, tc := range []struct {
		format string
		want   []string
	}{
		{"plain", nil},
		{"100%% done", nil},
		{"%d of %s", []string{"d", "s"}},
		{"%[2]s의 %[1]d", []string{"d", "s"}},
		{"%6.1fs %-10s %v", []string{"f", "s", "v"}},
		{"%[1]d %[1]v", []string{"dv"}},
		{"%*d", []string{"*", "d"}},
		{"%.*f", []string{"*", "f"}},
		{"%[3]s", []string{"", "", "s"}},
		{"%.1f%% (%d hits)", []string{"f", "d"}},
		{"%d 다음 %s", []string{"d", "s"}},
	} {
		got, err := fmtArgs(tc.format)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("fmtArgs(%q) = %q, %v; want %q", tc.format, got, err, tc.want)
		}
	}
	for _, bad := range []string{"%", "%[1", "%[0]d", "%[x]d", "50%"} {
		if got, err := fmtArgs(bad); err == nil {
			t.Errorf("fmtArgs(%q) = %q, want an error", bad, got)
		}
	}
	for _, tc := range []struct{ a, b, why string }{
		{"%d of %s", "%[2]s의 %[1]d", ""},
		{"%d of %s", "%[2]d의 %[1]s", `arguments ["s" "d"], want ["d" "s"]`},
		{"%d of %s", "%d", `arguments ["d"], want ["d" "s"]`},
		{"%.1f", "%.0f", ""},
	} {
		if got := sameArgs(tc.a, tc.b); got != tc.why {
			t.Errorf("sameArgs(%q, %q) = %q, want %q", tc.a, tc.b, got, tc.why)
		}
	}
}
