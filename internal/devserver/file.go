package devserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"
)

// StartFile starts a server on the SQLite file db, its frontend on port (0:
// any free port), for `starter run --dev` and `starter server`, and returns
// its frontend address and a stop function. It holds an exclusive
// lock on db+".lock" while it runs: two servers on one file would fight over
// its history shard.
func StartFile(ctx context.Context, db string, port int, log *slog.Logger) (string, func() error, error) {
	lock, err := os.OpenFile(db+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", nil, fmt.Errorf("lock %s: %w", db, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return "", nil, fmt.Errorf("%s is in use by another zeroner process", db)
		}
		return "", nil, fmt.Errorf("lock %s: %w", db, err)
	}
	s, err := Start(ctx, Options{DBPath: db, Port: port, Logger: log})
	if err != nil {
		lock.Close()
		return "", nil, err
	}
	stop := func() error {
		err := s.Stop()
		lock.Close() // closing the file releases the lock
		return err
	}
	return s.Address(), stop, nil
}
