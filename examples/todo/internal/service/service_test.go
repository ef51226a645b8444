package service_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bemi-go/bemi/capture"
	"github.com/bemi-go/bemi/core/pgtest"
	"github.com/bemi-go/bemi/examples/todo/internal/service"
)

// TestFailedWorkerWithoutSlot starts the service without setup, so the
// worker finds no replication slot and stops: Failed must report it.
func TestFailedWorkerWithoutSlot(t *testing.T) {
	svc, err := service.Start(context.Background(), service.Config{
		DatabaseURL: pgtest.NewDatabase(t),
		Addr:        "127.0.0.1:0",
		Slot:        "never_created",
		NoSetup:     true,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("start service: %v", err)
	}
	defer svc.Close(context.Background())

	select {
	case err := <-svc.Failed():
		var slotErr *capture.SlotError
		if !errors.As(err, &slotErr) {
			t.Errorf("Failed() = %v, want a *capture.SlotError", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Failed() reported nothing within a minute")
	}
}

func TestStartMissingDatabaseURL(t *testing.T) {
	_, err := service.Start(context.Background(), service.Config{}, slog.Default())
	if err == nil || !strings.Contains(err.Error(), "missing database URL") {
		t.Errorf("err = %v, want missing database URL", err)
	}
}

// TestStartAddressInUse checks that Start fails with the address when
// another server listens on it.
func TestStartAddressInUse(t *testing.T) {
	url := pgtest.NewDatabase(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	first, err := service.Start(context.Background(), service.Config{
		DatabaseURL: url, Addr: "127.0.0.1:0", Slot: "in_use",
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close(context.Background())

	addr := strings.TrimPrefix(first.URL, "http://")
	_, err = service.Start(context.Background(), service.Config{
		DatabaseURL: url, Addr: addr, Slot: "in_use", NoWorker: true,
	}, logger)
	if err == nil || !strings.Contains(err.Error(), "listen on "+addr) {
		t.Errorf("err = %v, want a listen error for %s", err, addr)
	}
}
