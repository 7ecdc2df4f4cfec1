package plot

import (
	"image/color"
	"math"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// palette are the series' colours, all distinct on white: Tableau's ten,
// black and a dark teal.
var palette = []color.Color{
	rgb(0x1f77b4), rgb(0xd62728), rgb(0x2ca02c), rgb(0xff7f0e),
	rgb(0x9467bd), rgb(0x8c564b), rgb(0xe377c2), rgb(0x7f7f7f),
	rgb(0xbcbd22), rgb(0x17becf), rgb(0x000000), rgb(0x005f5f),
}

func rgb(v uint32) color.Color {
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

// markers are the series' marker shapes, as many as colours: circle,
// square, triangle up and down, diamond, open and filled, a cross and a
// plus.
var markers = []draw.GlyphDrawer{
	polygon{circle: true}, polygon{corners: square, filled: true},
	polygon{corners: up}, polygon{corners: diamond, filled: true},
	polygon{corners: down}, polygon{circle: true, filled: true},
	polygon{corners: square}, polygon{corners: up, filled: true},
	polygon{corners: diamond}, polygon{corners: down, filled: true},
	strokes{cross}, strokes{plus},
}

// dashPatterns are the line styles, one per round of the palette: series
// i and i+len(palette) share colour and marker but not the dashes.
var dashPatterns = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(3)},
	{vg.Points(2), vg.Points(2)},
	{vg.Points(6), vg.Points(2), vg.Points(2), vg.Points(2)},
}

// style is the i-th series' look: its colour, marker and dashes.
type style struct {
	color  color.Color
	marker draw.GlyphDrawer
	dashes []vg.Length
}

func styleOf(i int) style {
	return style{
		color:  palette[i%len(palette)],
		marker: markers[i%len(markers)],
		dashes: dashPatterns[i/len(palette)%len(dashPatterns)],
	}
}

// Corners of the polygon markers on the unit circle.
var (
	square  = []vg.Point{{X: -0.8, Y: -0.8}, {X: 0.8, Y: -0.8}, {X: 0.8, Y: 0.8}, {X: -0.8, Y: 0.8}}
	up      = []vg.Point{{X: 0, Y: 1.1}, {X: -0.95, Y: -0.55}, {X: 0.95, Y: -0.55}}
	down    = []vg.Point{{X: 0, Y: -1.1}, {X: 0.95, Y: 0.55}, {X: -0.95, Y: 0.55}}
	diamond = []vg.Point{{X: 0, Y: 1.1}, {X: 1.1, Y: 0}, {X: 0, Y: -1.1}, {X: -1.1, Y: 0}}
	cross   = [][2]vg.Point{{{X: -0.8, Y: -0.8}, {X: 0.8, Y: 0.8}}, {{X: -0.8, Y: 0.8}, {X: 0.8, Y: -0.8}}}
	plus    = [][2]vg.Point{{{X: -1, Y: 0}, {X: 1, Y: 0}}, {{X: 0, Y: -1}, {X: 0, Y: 1}}}
)

// markerStroke is the width of open markers' outlines.
const markerStroke = 1.2

// polygon is a marker: a circle or a polygon of corners (scaled by the
// radius), filled or outlined.
type polygon struct {
	circle  bool
	corners []vg.Point
	filled  bool
}

// DrawGlyph implements draw.GlyphDrawer.
func (g polygon) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius
	var p vg.Path
	if g.circle {
		p.Move(vg.Point{X: pt.X + r, Y: pt.Y})
		p.Arc(pt, r, 0, 2*math.Pi)
	} else {
		for i, q := range g.corners {
			at := vg.Point{X: pt.X + r*q.X, Y: pt.Y + r*q.Y}
			if i == 0 {
				p.Move(at)
			} else {
				p.Line(at)
			}
		}
	}
	p.Close()
	if g.filled {
		c.SetColor(sty.Color)
		c.Fill(p)
		return
	}
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(markerStroke)})
	c.Stroke(p)
}

// strokes is a marker of line segments (scaled by the radius).
type strokes struct{ segments [][2]vg.Point }

// DrawGlyph implements draw.GlyphDrawer.
func (g strokes) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	c.SetLineStyle(draw.LineStyle{Color: sty.Color, Width: vg.Points(markerStroke)})
	r := sty.Radius * 1.2
	for _, s := range g.segments {
		var p vg.Path
		p.Move(vg.Point{X: pt.X + r*s[0].X, Y: pt.Y + r*s[0].Y})
		p.Line(vg.Point{X: pt.X + r*s[1].X, Y: pt.Y + r*s[1].Y})
		c.Stroke(p)
	}
}
