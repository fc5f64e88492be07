package server

import "golang.org/x/crypto/bcrypt"

// Tests hash at bcrypt's lowest cost: at full cost under the race
// detector a single login of an unknown user takes seconds.
func init() { passwordCost = bcrypt.MinCost }
