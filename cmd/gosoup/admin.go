package main

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gosoup/gosoup/admin"
	"github.com/gosoup/gosoup/sfu"
)

// adminHandler is the /admin/ API (ingest, recordings), authorized by the
// join keys when there are some, else open to loopback clients only.
// Recordings are written to --record-dir (made absolute, so that the API
// answers full paths). Close on the returned handler finalizes the
// recordings still running.
func (c *config) adminHandler(srv *sfu.Server, rooms admin.Rooms, log *slog.Logger) *admin.Handler {
	dir := c.recordDir
	if dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		log.Info("recordings enabled", "dir", dir)
	}
	return admin.New(admin.Options{Server: srv, Keys: c.keys, RecordDir: dir, Logger: log, Rooms: rooms})
}

// checkRecordDir accepts an empty value (recording off) or an existing
// directory.
func checkRecordDir(s string) error {
	if s == "" {
		return nil
	}
	st, err := os.Stat(s)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return errors.New("not a directory")
	}
	return nil
}
