package schema

//go:generate go run ./gendoc ../../docs/schema.md
