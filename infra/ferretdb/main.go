// Command ferretdb-local runs FerretDB v1.24 (MongoDB wire protocol, SQLite backend)
// embedded through its public package.
//
// Why a wrapper and not `go install .../cmd/ferretdb@v1.24.2`: a binary built that way
// panics at start-up because build/version/version.txt is only generated in FerretDB's
// own release pipeline. The embeddable package skips that check, and it is the same
// server code.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	dataDir := flag.String("data-dir", "data", "directory holding the SQLite databases")
	flag.Parse()

	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		slog.Error("cannot create data directory", "dir", *dataDir, "error", err)
		os.Exit(1)
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/",
	})
	if err != nil {
		slog.Error("cannot start FerretDB", "error", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	slog.Info("FerretDB listening", "addr", *listen, "data", *dataDir)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		slog.Error("FerretDB stopped", "error", err)
		os.Exit(1)
	}
}
