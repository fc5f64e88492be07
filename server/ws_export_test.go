package server

import "time"

// SetWSQueue sets how many messages may wait for one board, for tests that
// need a slow board to overflow quickly. It applies to connections made
// afterwards; the returned func restores the default. Tests that use it
// must not run in parallel with other websocket tests.
func SetWSQueue(n int) (restore func()) {
	old := wsQueue.Swap(int64(n))
	return func() { wsQueue.Store(old) }
}

// SetWSSendBuffer sets each board socket's kernel send buffer, so that a
// board that stops reading blocks the server's writes after a few
// messages. Same rules as SetWSQueue.
func SetWSSendBuffer(bytes int) (restore func()) {
	old := wsSendBuffer.Swap(int64(bytes))
	return func() { wsSendBuffer.Store(old) }
}

// SetWSSessionCheck sets how often open boards' sessions are looked up
// again. Same rules as SetWSQueue.
func SetWSSessionCheck(d time.Duration) (restore func()) {
	old := wsSessionCheck.Swap(int64(d))
	return func() { wsSessionCheck.Store(old) }
}
