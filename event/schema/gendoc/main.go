// Command gendoc writes docs/schema.md from the argus.v1 JSON Schema:
//
//	go run ./event/schema/gendoc docs/schema.md
package main

import (
	"fmt"
	"os"

	"github.com/argus-sensor/argus-sensor/event/schema"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendoc OUTPUT.md")
		os.Exit(2)
	}
	md, err := schema.Markdown()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(os.Args[1], md, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gendoc:", err)
		os.Exit(1)
	}
}
