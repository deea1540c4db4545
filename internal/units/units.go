// Package units parses the sizes operators write in configuration and
// output specs: "4096", "64KiB", "8MiB", "512M", "1GiB", "2TB". K, M, G
// and T, with or without "i" and "B", are powers of 1024.
package units

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseBytes parses a size in bytes.
func ParseBytes(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult != 1 {
			t = t[:len(t)-1]
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q: want a size such as 4096, 64KiB, 8MiB, 1GiB or 1TiB", s)
	}
	return n * mult, nil
}
