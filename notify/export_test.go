package notify

import "time"

// SetSenderClock replaces the sender's clock, so that tests can step past
// a retry's backoff without waiting for it.
func SetSenderClock(s *Sender, now func() time.Time) { s.now = now }

// SetNotifierClock replaces the notifier's clock.
func SetNotifierClock(n *Notifier, now func() time.Time) { n.now = now }
