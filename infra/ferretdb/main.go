// Command ferretdb-local runs FerretDB v1.24 (MongoDB wire protocol) on PostgreSQL,
// embedded through its public package: FerretDB's production configuration. The SQLite
// backend (--data-dir without --postgresql-url) remains for a quick look without PostgreSQL.
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
	postgresURL := flag.String("postgresql-url", "", "PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5433/ferretdb")
	dataDir := flag.String("data-dir", "data", "directory holding the SQLite databases (without --postgresql-url)")
	flag.Parse()

	config := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if *postgresURL != "" {
		config.Handler = "postgresql"
		config.PostgreSQLURL = *postgresURL
	} else {
		if err := os.MkdirAll(*dataDir, 0o755); err != nil {
			slog.Error("cannot create data directory", "dir", *dataDir, "error", err)
			os.Exit(1)
		}
		config.Handler = "sqlite"
		config.SQLiteURL = "file:" + *dataDir + "/"
	}
	f, err := ferretdb.New(config)
	if err != nil {
		slog.Error("cannot start FerretDB", "error", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	slog.Info("FerretDB listening", "addr", *listen, "handler", config.Handler)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		slog.Error("FerretDB stopped", "error", err)
		os.Exit(1)
	}
}
