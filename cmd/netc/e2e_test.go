package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAttackBreaksStandardModel trains a model on clean MNIST images and
// checks that untargeted PGD at ε = 0.3 breaks it, more with more steps:
// the attacker works end to end through the CLI.
func TestAttackBreaksStandardModel(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on real MNIST for about a minute")
	}
	dir := t.TempDir()
	code, _, stderr := runCapture(t, "train", "../../specs/mnist-resnet.spec", "--data", "mnist", "--out", dir,
		"--attack-steps", "0", "--limit", "12800", "--lr", "0.2", "--decay", "0.75", "--label-smoothing", "0", "--test-limit", "0")
	if code == 2 && strings.Contains(stderr, "download MNIST yourself") {
		t.Skipf("MNIST unavailable: %s", stderr)
	}
	if code != 0 {
		t.Fatalf("netc train: exit %d: %s", code, stderr)
	}
	code, out, stderr := runCapture(t, "eval", dir, "--pgd", "10,20,40", "--eps", "0.3", "--step", "0.01",
		"--attack", "untargeted", "--limit", "200", "--json")
	if code != 0 {
		t.Fatalf("netc eval: exit %d: %s", code, stderr)
	}
	var all struct {
		Clean   float64 `json:"clean_accuracy"`
		Attacks []struct {
			PGD []struct {
				Iters    int     `json:"iters"`
				Accuracy float64 `json:"accuracy"`
				Final    float64 `json:"final_accuracy"`
			} `json:"pgd"`
		} `json:"attacks"`
	}
	if err := json.Unmarshal([]byte(out), &all); err != nil || len(all.Attacks) != 1 {
		t.Fatalf("eval --json printed %q: %v", out, err)
	}
	res := struct {
		Clean float64
		PGD   []struct {
			Iters    int     `json:"iters"`
			Accuracy float64 `json:"accuracy"`
			Final    float64 `json:"final_accuracy"`
		}
	}{all.Clean, all.Attacks[0].PGD}
	t.Logf("clean %.3f, PGD %+v", res.Clean, res.PGD)
	if res.Clean < 0.7 {
		t.Errorf("clean accuracy %.3f after 12800 images, want >= 0.7", res.Clean)
	}
	if len(res.PGD) != 3 || res.PGD[2].Iters != 40 {
		t.Fatalf("PGD points %+v, want 10, 20, 40", res.PGD)
	}
	if acc := res.PGD[2].Accuracy; acc >= 0.05 {
		t.Errorf("PGD-40 accuracy %.3f, want < 0.05 on a model trained without adversarial images", acc)
	}
	for i := 1; i < len(res.PGD); i++ {
		if res.PGD[i].Final > res.PGD[i-1].Final {
			t.Errorf("accuracy rises from PGD-%d to PGD-%d: %+v", res.PGD[i-1].Iters, res.PGD[i].Iters, res.PGD)
		}
	}
}
