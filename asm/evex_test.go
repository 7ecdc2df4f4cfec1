package asm

import (
	"bytes"
	"testing"
)

// TestEVEX checks the encodings of the bf16 instructions against GNU
// as's (`as` then `objdump -d` of the AT&T forms in the comments, which
// name src2, src1, dst as Go's assembler does), registers chosen to set
// every extension bit (R, X, B, R', V'), memory operands with every
// displacement form (none, compressed disp8, disp32; rbp/r13 and the SIB
// of rsp/r12), broadcast or whole.
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
	for _, c := range []struct {
		dst, src1, base int
		disp            int32
		bcst            bool
		want            []byte
	}{
		{3, 2, 0, 0, true, []byte{0x62, 0xf2, 0x6e, 0x58, 0x52, 0x18}},                           // vdpbf16ps (%rax){1to16},%zmm2,%zmm3
		{28, 17, 6, 8, true, []byte{0x62, 0x62, 0x76, 0x50, 0x52, 0x66, 0x02}},                   // vdpbf16ps 8(%rsi){1to16},%zmm17,%zmm28
		{0, 1, 12, 1024, true, []byte{0x62, 0xd2, 0x76, 0x58, 0x52, 0x84, 0x24, 0, 4, 0, 0}},     // vdpbf16ps 1024(%r12){1to16},%zmm1,%zmm0
		{6, 5, 5, -4, true, []byte{0x62, 0xf2, 0x56, 0x58, 0x52, 0x75, 0xff}},                    // vdpbf16ps -4(%rbp){1to16},%zmm5,%zmm6
		{6, 5, 13, 64, false, []byte{0x62, 0xd2, 0x56, 0x48, 0x52, 0x75, 0x01}},                  // vdpbf16ps 64(%r13),%zmm5,%zmm6
		{6, 5, 13, 0, false, []byte{0x62, 0xd2, 0x56, 0x48, 0x52, 0x75, 0x00}},                   // vdpbf16ps (%r13),%zmm5,%zmm6
		{31, 30, 4, 100, false, []byte{0x62, 0x62, 0x0e, 0x40, 0x52, 0xbc, 0x24, 0x64, 0, 0, 0}}, // vdpbf16ps 100(%rsp),%zmm30,%zmm31
		{9, 2, 9, 128, false, []byte{0x62, 0x52, 0x6e, 0x48, 0x52, 0x49, 0x02}},                  // vdpbf16ps 128(%r9),%zmm2,%zmm9
	} {
		got, err := vdpbf16ps.encodeMem(c.dst, c.src1, c.base, c.disp, c.bcst)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("VDPBF16PS %d(r%d) bcst %v, Z%d, Z%d = % x, %v; want % x", c.disp, c.base, c.bcst, c.src1, c.dst, got, err, c.want)
		}
	}
	if _, err := vdpbf16ps.encode(32, 0, 0); err == nil {
		t.Error("zmm32: no error")
	}
}
