.PHONY: build test test-deps vet bench dev

build:
	go build -o bin/coffer ./cmd/coffer
	ln -sf coffer bin/vault

test-deps:
	./scripts/test-deps.sh

# Installs and starts PostgreSQL and MariaDB when missing, then runs every test.
test: test-deps
	go vet ./...
	go test ./...

bench:
	go test -run '^$$' -bench . -benchmem ./...

dev:
	go run ./cmd/coffer server -dev
