package asm

import (
	"bytes"
	"testing"
)

// TestEVEX checks the encodings of the bf16 instructions against GNU
// as's (`as` then `objdump -d` of the AT&T forms in the comments, which
// name src2, src1, dst as Go's assembler does), registers chosen to set
// every extension bit (R, X, B, R', V').
func TestEVEX(t *testing.T) {
	for _, c := range []struct {
		op              evexOp
		src2, src1, dst int
		want            []byte
	}{
		{vdpbf16ps, 1, 2, 3, []byte{0x62, 0xf2, 0x6e, 0x48, 0x52, 0xd9}},         // vdpbf16ps %zmm1,%zmm2,%zmm3
		{vdpbf16ps, 31, 17, 8, []byte{0x62, 0x12, 0x76, 0x40, 0x52, 0xc7}},       // vdpbf16ps %zmm31,%zmm17,%zmm8
		{vdpbf16ps, 9, 24, 23, []byte{0x62, 0xc2, 0x3e, 0x40, 0x52, 0xf9}},       // vdpbf16ps %zmm9,%zmm24,%zmm23
		{vcvtne2ps2bf16, 1, 2, 3, []byte{0x62, 0xf2, 0x6f, 0x48, 0x72, 0xd9}},    // vcvtne2ps2bf16 %zmm1,%zmm2,%zmm3
		{vcvtne2ps2bf16, 30, 15, 20, []byte{0x62, 0x82, 0x07, 0x48, 0x72, 0xe6}}, // vcvtne2ps2bf16 %zmm30,%zmm15,%zmm20
	} {
		got, err := c.op.encode(c.dst, c.src1, c.src2)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s Z%d, Z%d, Z%d = % x, %v; want % x", c.op.name, c.src2, c.src1, c.dst, got, err, c.want)
		}
	}
	if _, err := vdpbf16ps.encode(32, 0, 0); err == nil {
		t.Error("zmm32: no error")
	}
}
