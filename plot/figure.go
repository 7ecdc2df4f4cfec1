package plot

import (
	"io"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// figure is what a figure draws: a title, panels stacked top to bottom,
// and one legend for all of them, beside the panels (on the right) when
// it is narrow enough, else below them in columns; never over data.
type figure struct {
	title  string
	panels []*gplot.Plot
	legend []entry
}

// entry is one legend entry: a series' label and its line and marker.
type entry struct {
	label  string
	thumbs []gplot.Thumbnailer
}

// Layout constants: the gap between parts, the widest legend that goes
// beside the panels (a share of the width), the legend's and the title's
// font sizes.
const (
	gap           = 3 * vg.Millimeter
	besideShare   = 0.3
	legendFont    = 10
	titleFont     = 13
	legendIconLen = 24
	legendPadding = 2
)

// drawn is where a figure's parts went on its canvas (origin bottom left).
type drawn struct {
	width, height vg.Length
	data          []vg.Rectangle // each panel's data area
	legend        []vg.Rectangle // each legend column
}

func newLegend(entries []entry) gplot.Legend {
	l := gplot.NewLegend()
	l.TextStyle.Font.Size = legendFont
	l.ThumbnailWidth = legendIconLen
	l.Top, l.Left = true, true
	l.Padding = legendPadding
	for _, e := range entries {
		l.Add(e.label, e.thumbs...)
	}
	return l
}

func titleStyle() text.Style {
	return text.Style{
		Font:    font.From(gplot.DefaultFont, titleFont),
		XAlign:  draw.XCenter,
		YAlign:  draw.YTop,
		Handler: gplot.DefaultTextHandler,
	}
}

// legendSize is the size of entries drawn as one column.
func legendSize(entries []entry) (w, h vg.Length) {
	l := newLegend(entries)
	r := l.Rectangle(draw.Canvas{})
	return r.Size().X, r.Size().Y
}

// draw draws the figure on a new canvas: o's width, and o's height per
// panel plus the title's and (below) the legend's.
func (f *figure) draw(o Options) (*vgimg.Canvas, drawn) {
	w, h := o.size(len(f.panels))
	var titleH vg.Length
	if f.title != "" {
		titleH = titleStyle().Rectangle(f.title).Size().Y + gap
	}
	// The panels' area (x0, y0, x1, y1) and the legend's columns.
	var columns [][]entry
	var colRects []vg.Rectangle
	x1, y0 := w, vg.Length(0)
	height := h + titleH
	if lw, lh := legendSize(f.legend); len(f.legend) > 0 && lw+2*gap <= besideShare*w {
		x1 = w - lw - 2*gap
		columns = [][]entry{f.legend}
		// Top-aligned with the panels, below the title.
		colRects = []vg.Rectangle{{Min: vg.Point{X: w - lw - gap, Y: h - lh - gap}, Max: vg.Point{X: w - gap, Y: h - gap}}}
	} else if len(f.legend) > 0 {
		cols := max(1, min(len(f.legend), int((w-gap)/(lw+gap))))
		rows := (len(f.legend) + cols - 1) / cols
		_, lh := legendSize(f.legend[:rows])
		y0 = lh + 2*gap
		height += y0
		colW := (w - gap) / vg.Length(cols)
		for c := range cols {
			part := f.legend[min(c*rows, len(f.legend)):min((c+1)*rows, len(f.legend))]
			if len(part) == 0 {
				break
			}
			columns = append(columns, part)
			x := gap + colW*vg.Length(c)
			colRects = append(colRects, vg.Rectangle{Min: vg.Point{X: x, Y: gap}, Max: vg.Point{X: x + colW, Y: gap + lh}})
		}
	}
	img := vgimg.New(w, height)
	dc := draw.New(img)
	dc.SetColor(rgb(0xffffff))
	dc.Fill(dc.Rectangle.Path())
	if f.title != "" {
		dc.FillText(titleStyle(), vg.Point{X: w / 2, Y: height - gap/2}, f.title)
	}
	area := draw.Crop(dc, 0, x1-w, y0, -titleH)
	var canvases []draw.Canvas
	if len(f.panels) == 1 {
		canvases = []draw.Canvas{area}
	} else {
		rows := make([][]*gplot.Plot, len(f.panels))
		for i, p := range f.panels {
			rows[i] = []*gplot.Plot{p}
		}
		tiles := draw.Tiles{Rows: len(f.panels), Cols: 1, PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadX: vg.Millimeter, PadY: 2 * vg.Millimeter}
		for _, row := range gplot.Align(rows, tiles, area) {
			canvases = append(canvases, row[0])
		}
	}
	d := drawn{width: w, height: height, legend: colRects}
	for i, p := range f.panels {
		p.Draw(canvases[i])
		d.data = append(d.data, p.DataCanvas(canvases[i]).Rectangle)
	}
	for i, col := range columns {
		l := newLegend(col)
		l.Draw(draw.Canvas{Canvas: dc.Canvas, Rectangle: colRects[i]})
	}
	return img, d
}

// write draws the figure as a PNG image to w.
func (f *figure) write(w io.Writer, o Options) error {
	img, _ := f.draw(o)
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}
