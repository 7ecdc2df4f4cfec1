package codegen

import (
	"github.com/dave/jennifer/jen"
)

// predictBytes bounds the arena of one PredictBatch pass; predictMax
// bounds its images.
const (
	predictBytes = 64 << 20
	predictMax   = 256
)

// predictBatchSize is how many images one PredictBatch pass runs: as
// many as fit in predictBytes of arena (perImage floats each), at least
// one and at most predictMax.
func predictBatchSize(perImage int) int {
	return max(1, min(predictMax, predictBytes/(4*perImage)))
}

// emitPredict writes Predict and PredictBatch, which classify images on
// replicas of the model taken from a pool, so that any number of calls
// may run at once, and replica; perImage is the arena floats per image.
func emitPredict(f *jen.File, perImage int) {
	m := jen.Id("m").Op("*").Id("Model")
	rt := func(name string) *jen.Statement { return jen.Qual(nnPath, name) }

	f.Comment("PredictBatchSize is the most images PredictBatch runs in one forward pass: as many as fit in 64 MiB of activations (at least one, at most 256).")
	f.Const().Id("PredictBatchSize").Op("=").Lit(predictBatchSize(perImage))
	f.Comment("Predict classifies one image, InputC×InputH×InputW pixels in [0,1] channel-major, in inference mode (running statistics, the adversarial branch of MBN): the class and the softmax probabilities. It panics if img has another length.")
	f.Comment("")
	f.Comment("Predict is safe for concurrent use: each call runs on a replica of the model (its parameters, buffers of its own) that no other call uses at the same time.")
	f.Func().Params(m).Id("Predict").Params(jen.Id("img").Index().Float32()).Params(jen.Id("class").Int(), jen.Id("probs").Index().Float32()).Block(
		jen.List(jen.Id("classes"), jen.Id("ps")).Op(":=").Id("m").Dot("PredictBatch").Call(jen.Index().Index().Float32().Values(jen.Id("img"))),
		jen.Return(jen.Id("classes").Index(jen.Lit(0)), jen.Id("ps").Index(jen.Lit(0))),
	)

	f.Comment("PredictBatch classifies images as Predict does, in batched forward passes of up to PredictBatchSize images (nn.PredictBatch), and returns their classes and softmax probabilities in order. Each image's answer is bitwise the one Predict gives it. It panics if an image has another length than InputC×InputH×InputW.")
	f.Comment("")
	f.Comment("PredictBatch is safe for concurrent use, as Predict is.")
	f.Func().Params(m).Id("PredictBatch").Params(jen.Id("imgs").Index().Index().Float32()).Params(jen.Index().Int(), jen.Index().Index().Float32()).Block(
		jen.List(jen.Id("r"), jen.Id("ok")).Op(":=").Id("m").Dot("replicas").Dot("Get").Call().Assert(jen.Op("*").Id("Model")),
		jen.If(jen.Op("!").Id("ok")).Block(jen.Id("r").Op("=").Id("m").Dot("replica").Call()),
		jen.Defer().Id("m").Dot("replicas").Dot("Put").Call(jen.Id("r")),
		jen.Return(rt("PredictBatch").Call(jen.Id("r"), jen.Id("imgs"), jen.Id("PredictBatchSize"), jen.Op("&").Id("r").Dot("batch"))),
	)

	f.Comment("replica is a model with m's parameters and running statistics (shared, not copied) and buffers of its own, for forward passes only.")
	f.Func().Params(m).Id("replica").Params().Op("*").Id("Model").Block(
		jen.Id("r").Op(":=").Op("&").Id("Model").Values(jen.Dict{
			jen.Id("P"):       jen.Id("m").Dot("P"),
			jen.Id("spec"):    jen.Id("m").Dot("spec"),
			jen.Id("in"):      jen.Id("m").Dot("in").Dot("Replica").Call(),
			jen.Id("maxpool"): jen.Id("m").Dot("maxpool").Dot("Replica").Call(),
		}),
		jen.Id("r").Dot("pass").Dot("ISA").Op("=").Id("m").Dot("pass").Dot("ISA"),
		jen.Id("r").Dot("P").Dot("replicate").Call(),
		jen.Return(jen.Id("r")),
	)
}
