package sqlstore

import (
	"context"
	"sync"
	"time"
)

// subscribers hands out the channels of Subscribe and wakes them after
// each commit that recorded events. The watcher of the dialect (PostgreSQL
// LISTEN) runs while there is at least one subscriber.
type subscribers struct {
	mu     sync.Mutex
	next   int
	chans  map[int]chan struct{}
	cancel context.CancelFunc // the watcher's, nil when none runs
	done   chan struct{}
}

// wake signals every subscriber without blocking: a channel that already
// holds a value keeps that one.
func (b *subscribers) wake() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ch := range b.chans {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// stop ends the watcher, if any, and waits for it.
func (b *subscribers) stop() {
	b.mu.Lock()
	halt := b.detach()
	b.mu.Unlock()
	halt()
}

// detach takes the watcher out, with b.mu held, and returns what ends it
// and waits for it, to call without b.mu.
func (b *subscribers) detach() func() {
	cancel, done := b.cancel, b.done
	b.cancel, b.done = nil, nil
	return func() {
		if cancel != nil {
			cancel()
			<-done
		}
	}
}

// Subscribe implements store.Store.
func (s *Store) Subscribe() (<-chan struct{}, func()) {
	b := &s.subs
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.chans == nil {
		b.chans = map[int]chan struct{}{}
	}
	id := b.next
	b.next++
	ch := make(chan struct{}, 1)
	b.chans[id] = ch
	if s.d.WatchOutbox != nil && b.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		b.cancel, b.done = cancel, done
		go s.watch(ctx, done)
	}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.chans, id)
			halt := func() {}
			if len(b.chans) == 0 {
				halt = b.detach()
			}
			b.mu.Unlock()
			halt()
		})
	}
}

// watch runs the dialect's watcher until ctx ends, starting it again after
// a failure (the database restarted, the connection dropped) with a
// growing pause. Each start wakes the subscribers, since notifications sent
// while no one listened are lost.
func (s *Store) watch(ctx context.Context, done chan struct{}) {
	defer close(done)
	pause := 100 * time.Millisecond
	for {
		started := time.Now()
		err := s.d.WatchOutbox(ctx, s.instance, s.subs.wake)
		if ctx.Err() != nil {
			return
		}
		s.subs.wake()
		if time.Since(started) > time.Minute {
			pause = 100 * time.Millisecond
		}
		s.log.Warn("outbox listener stopped, restarting", "err", err, "in", pause)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		pause = min(2*pause, 10*time.Second)
	}
}
