// Package spec reads, validates and prints netc's network description
// language, which names a ResNet and says where its normalization goes.
//
// A spec has one directive per line. Fields are separated by spaces or
// tabs, options are written key=value, and # starts a comment that runs to
// the end of the line:
//
//	# resnet338.spec: the paper's ResNet-338 with Mixture BN
//	model resnet338       # also the generated Go package name
//	input 3 224 224       # channels height width [mean=M] [std=S]
//	classes 1000
//	stem imagenet         # imagenet | cifar
//	block bottleneck      # basic | bottleneck | preact
//	depth 338             # or: stages 3 42 64 3 (blocks per stage)
//	width 64              # the stem's width; the first stage's is width·widen, doubled at each stage
//	widen 1               # the Wide ResNet's widening factor
//	norm mbn              # bn | mbn | gn [groups=G] | none: the default
//	norm gn groups=16 stage=1
//
// The directives are:
//
//	model NAME                      lowercase Go package name, at most 64 bytes
//	input C H W [mean=M] [std=S]    C <= 1024, H and W <= 8192; M and S: one number or C, comma-separated
//	classes K                       2 <= K <= 100000
//	stem imagenet|cifar             imagenet: 4 stages follow; cifar: 3
//	block basic|bottleneck|preact
//	depth D                         a standard depth, see below
//	stages N1 N2 N3 [N4]            blocks per stage (at most 1024), one count per stage
//	width W                         W <= 4096
//	widen K                         W·K <= 4096
//	norm KIND [groups=G] [stage=S | stages=S1,S2,...]
//
// model, input, classes, stem, block and exactly one of depth and stages are
// required; each may appear once. width defaults to 64, widen to 1, mean
// and std to 0.5 (which maps pixels in [0,1] to [-1,1]). A norm line
// without stage or stages sets the default norm (bn when absent); one with
// them overrides the norm of the stages it names, where S is stem or a
// stage number from 1.
// Two overrides that name one stage must give it the same norm. groups is
// for gn only and defaults to 32; it must divide the channels of every norm
// layer it applies to.
//
// The stem has width channels; the residual stages have width·widen
// channels, doubled at each stage (a Wide ResNet: width 16, widen 10 give
// 160, 320, 640 after a 16-channel stem). widen multiplies every conv of
// basic and preact blocks and the inner 1x1 and 3x3 convs of a bottleneck,
// whose output stays 4·width (torchvision's wide_resnet50_2 is width 64,
// widen 2).
//
// basic and bottleneck blocks are post-activation (each conv followed by
// its norm, a ReLU after the residual add, the block's last norm starting
// with gamma 0; the stem has a norm and ReLU). preact is the pre-activation
// basic block of the Wide ResNet: norm, ReLU, 3x3 conv, norm, ReLU, 3x3
// conv, the add with no ReLU after it; where the shape changes, a 1x1 conv
// shortcut takes the pre-activated input; the stem is a conv alone (so a
// norm override may not name it) and a final norm and ReLU come before
// pooling. Every gamma of a preact network starts at 1.
//
// The model name is the generated Go package's name without its
// underscores, so neither may be a Go keyword, main or init. The limits
// (see [MaxWidth] and the others) are generous for real networks and keep
// absurd ones from being built at all.
//
// The standard depths are 50, 101, 152, 200, 338, 518 and 638 for
// bottleneck blocks after the imagenet stem, 18 and 34 for basic and
// preact blocks after the imagenet stem, 20, 32, 44, 56 and 110 for basic
// blocks after the cifar stem, and 6n+4 (10, 16, 22, 28, ...: n blocks per
// stage, the Wide ResNet's count) for preact blocks after the cifar stem.
// Any other layout is written with stages.
//
// Errors carry the position of the offending field (columns count bytes);
// a missing directive is reported at the end of the file. [Format] prints a
// spec in canonical form, keeping its comments.
package spec
