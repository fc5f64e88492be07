package grouping

// Exhaustive makes g compare every record with every group instead of
// searching its word index, for tests that check the search is exact.
func Exhaustive(g *Grouper) { g.exhaustive = true }
