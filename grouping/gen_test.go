package grouping_test

import (
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/needgen"
)

// The generator of histories whose true groups are known is package
// internal/needgen (the end-to-end benchmark bench/grouping uses it too);
// these are the names the tests know it by.
var (
	shanghai   = needgen.Shanghai
	handNeeds  = needgen.HandNeeds
	noiseWords = needgen.NoiseWords
	pairScores = needgen.PairScores
	familyZH   = needgen.FamilyZH
	titlesZH   = needgen.TitlesZH
)

// history is a window of records and, per ticket, its true group (""
// for a one-off): a generated one (historyOf) or a scenario's.
type history struct {
	from, to time.Time
	records  []hotline.NeedRecord
	truth    map[string]string
}

func historyOf(h *needgen.History) *history {
	return &history{from: h.From, to: h.To, records: h.Records, truth: h.Truth}
}
