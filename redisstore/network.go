package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

// NetworkStore keeps the service network and the catalogue as one JSON
// document each: they are small, read whole at start and on reload, and
// replaced whole by an administrator.
type NetworkStore struct {
	db *DB
}

var _ hotline.NetworkStore = (*NetworkStore)(nil)

// NewNetworkStore returns a network store on db.
func NewNetworkStore(db *DB) *NetworkStore { return &NetworkStore{db: db} }

// LoadNetwork implements hotline.NetworkStore.
func (s *NetworkStore) LoadNetwork(ctx context.Context) (*hotline.Network, error) {
	var n hotline.Network
	if err := s.load(ctx, "network", &n); err != nil {
		return nil, err
	}
	return &n, nil
}

// SaveNetwork implements hotline.NetworkStore.
func (s *NetworkStore) SaveNetwork(ctx context.Context, n *hotline.Network) error {
	if n == nil {
		return hotline.Errorf(hotline.EINVALID, "no network given")
	}
	return s.save(ctx, "network", n)
}

// LoadCatalogue implements hotline.NetworkStore.
func (s *NetworkStore) LoadCatalogue(ctx context.Context) (*hotline.Catalogue, error) {
	var c hotline.Catalogue
	if err := s.load(ctx, "catalogue", &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// SaveCatalogue implements hotline.NetworkStore.
func (s *NetworkStore) SaveCatalogue(ctx context.Context, c *hotline.Catalogue) error {
	if c == nil {
		return hotline.Errorf(hotline.EINVALID, "no catalogue given")
	}
	return s.save(ctx, "catalogue", c)
}

func (s *NetworkStore) load(ctx context.Context, name string, v any) error {
	b, err := s.db.client.Get(ctx, s.db.key(name)).Bytes()
	if errors.Is(err, redis.Nil) {
		return hotline.Errorf(hotline.ENOTFOUND, "no %s has been saved yet", name)
	} else if err != nil {
		return storeErr(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return hotline.Internal(fmt.Errorf("decode stored %s: %w", name, err))
	}
	return nil
}

func (s *NetworkStore) save(ctx context.Context, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return hotline.Internal(err)
	}
	return storeErr(s.db.client.Set(ctx, s.db.key(name), b, 0).Err())
}
