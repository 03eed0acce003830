package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
)

// transitPlaintexts and transitPlaintextSize shape the transit-encrypt
// workload: 100-byte random plaintexts, encoded once at setup so that the
// load generator spends no CPU on them per request.
const (
	transitPlaintexts    = 100
	transitPlaintextSize = 100
)

// setupTransitEncrypt mounts transit and creates one aes256-gcm96 key;
// each request encrypts one of 100 random 100-byte plaintexts with it.
func setupTransitEncrypt(ctx context.Context, e *env) (*instance, error) {
	path := "bench-transit-" + e.id
	if err := e.mount(ctx, path, "transit", nil); err != nil {
		return nil, err
	}
	inst := &instance{teardown: e.unmount(path)}
	if err := e.api.call(ctx, http.MethodPost, path+"/keys/bench", map[string]string{"type": "aes256-gcm96"}, nil); err != nil {
		return inst, fmt.Errorf("create key: %w", err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	bodies := make([][]byte, transitPlaintexts)
	pt := make([]byte, transitPlaintextSize)
	for i := range bodies {
		for j := range pt {
			pt[j] = byte(rng.Uint32())
		}
		b, err := json.Marshal(map[string]string{"plaintext": base64.StdEncoding.EncodeToString(pt)})
		if err != nil {
			return inst, err
		}
		bodies[i] = b
	}
	encrypt := path + "/encrypt/bench"
	inst.op = func(ctx context.Context, rng *rand.Rand) error {
		return e.api.send(ctx, http.MethodPost, encrypt, bodies[rng.IntN(len(bodies))], nil)
	}
	return inst, nil
}
