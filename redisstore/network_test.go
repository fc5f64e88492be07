package redisstore_test

import (
	"context"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
)

func TestNetworkAndCatalogueRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewNetworkStore(b.db)
		ctx := context.Background()

		_, err := s.LoadNetwork(ctx)
		AssertCode(t, err, hotline.ENOTFOUND)
		_, err = s.LoadCatalogue(ctx)
		AssertCode(t, err, hotline.ENOTFOUND)

		n := &hotline.Network{
			Units: []hotline.Unit{
				{ID: "d", Kind: hotline.KindDistrict, Tier: hotline.TierDistrict, NameZH: "区民政局"},
				{ID: "sc", Kind: hotline.KindServiceCenter, Tier: hotline.TierStreet, NameZH: "街道服务中心", ParentID: "d"},
				{ID: "c01", Kind: hotline.KindCommittee, Tier: hotline.TierCommittee, NameZH: "第一居委会", ParentID: "sc",
					Lat: 31.2397123, Long: 121.4331987, Categories: []string{"home_repair", "meal_delivery"}, Capacity: 20},
			},
			Areas: []hotline.Area{{UnitID: "c01", Polygon: hotline.Polygon{{
				{121.43, 31.23}, {121.44, 31.23}, {121.44, 31.24}, {121.43, 31.24}, {121.43, 31.23}}}}},
			Gazetteer: []hotline.GazetteerEntry{{Road: "长寿路", From: 1, To: 199, Parity: "odd", Committee: "c01"}},
		}
		c := &hotline.Catalogue{Categories: []hotline.Category{
			{Code: "home_repair", NameZH: "居家维修", NameEN: "Home repair", Group: "home", Tiers: []hotline.Tier{1, 2}},
			{Code: "counselling", NameZH: "心理咨询", Group: "care", Tiers: []hotline.Tier{2}, Sensitive: true, Keywords: []string{"心理"}},
		}}
		if err := s.SaveNetwork(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveCatalogue(ctx, c); err != nil {
			t.Fatal(err)
		}
		gotN, err := s.LoadNetwork(ctx)
		if err != nil {
			t.Fatal(err)
		}
		gotC, err := s.LoadCatalogue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := asJSON(t, gotN), asJSON(t, n); g != w {
			t.Errorf("network:\n got %s\nwant %s", g, w)
		}
		if g, w := asJSON(t, gotC), asJSON(t, c); g != w {
			t.Errorf("catalogue:\n got %s\nwant %s", g, w)
		}
		if u, ok := gotN.CommitteeAt(31.235, 121.435); !ok || u.ID != "c01" {
			t.Errorf("loaded network places a point in %q, want c01", u.ID)
		}

		// Saving replaces, it does not merge.
		if err := s.SaveCatalogue(ctx, &hotline.Catalogue{}); err != nil {
			t.Fatal(err)
		}
		gotC, err = s.LoadCatalogue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(gotC.Categories) != 0 {
			t.Errorf("catalogue after replacing with an empty one has %d categories", len(gotC.Categories))
		}
	})
}
