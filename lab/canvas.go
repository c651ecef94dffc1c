package lab

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// canvas is a grid of cells for the topology diagram. Lines drawn with
// line() merge at crossings into box-drawing glyphs; text and boxes are
// placed as they are. Rendering groups runs of one style.
type canvas struct {
	w, h   int
	cells  []cell
	styles []style
}

type cell struct {
	r    rune  // 0 is the right half of a wide rune
	st   int16 // style index, -1 for none
	conn uint8 // line ends: connUp, connDown, connLeft, connRight
	kind uint8 // lineNormal, lineDashed, lineHeavy
}

const (
	connUp uint8 = 1 << iota
	connDown
	connLeft
	connRight
)

const (
	lineNone uint8 = iota
	lineNormal
	lineDashed
	lineHeavy
)

func newCanvas(w, h int, styles []style) *canvas {
	c := &canvas{w: w, h: h, cells: make([]cell, w*h), styles: styles}
	for i := range c.cells {
		c.cells[i] = cell{r: ' ', st: -1}
	}
	return c
}

func (c *canvas) in(x, y int) bool { return x >= 0 && y >= 0 && x < c.w && y < c.h }

func (c *canvas) set(x, y int, r rune, st int) {
	if c.in(x, y) {
		c.cells[y*c.w+x] = cell{r: r, st: int16(st)}
	}
}

// text writes s at x, y and returns the cells it took.
func (c *canvas) text(x, y int, s string, st int) int {
	n := 0
	for _, r := range s {
		rw := ansi.StringWidth(string(r))
		if rw == 0 {
			continue
		}
		c.set(x+n, y, r, st)
		if rw == 2 {
			c.set(x+n+1, y, 0, st)
		}
		n += rw
	}
	return n
}

// conn adds line ends to a cell.
func (c *canvas) conn(x, y int, bits, kind uint8, st int) {
	if !c.in(x, y) {
		return
	}
	cl := &c.cells[y*c.w+x]
	if cl.conn == 0 && cl.r != ' ' {
		return // never draw over text
	}
	cl.conn |= bits
	if kind >= cl.kind {
		cl.kind = kind
		cl.st = int16(st)
	}
}

// hline draws from x0 to x1 on row y.
func (c *canvas) hline(x0, x1, y int, kind uint8, st int) {
	if x0 > x1 {
		x0, x1 = x1, x0
	}
	for x := x0; x <= x1; x++ {
		var b uint8
		if x > x0 {
			b |= connLeft
		}
		if x < x1 {
			b |= connRight
		}
		if x0 == x1 {
			b = connLeft | connRight
		}
		c.conn(x, y, b, kind, st)
	}
}

// vline draws from y0 to y1 in column x.
func (c *canvas) vline(x, y0, y1 int, kind uint8, st int) {
	if y0 > y1 {
		y0, y1 = y1, y0
	}
	for y := y0; y <= y1; y++ {
		var b uint8
		if y > y0 {
			b |= connUp
		}
		if y < y1 {
			b |= connDown
		}
		if y0 == y1 {
			continue
		}
		c.conn(x, y, b, kind, st)
	}
}

// box draws a border w×h at x, y.
func (c *canvas) box(x, y, w, h int, double bool, st int) {
	g := []rune("┌┐└┘─│")
	if double {
		g = []rune("╔╗╚╝═║")
	}
	c.set(x, y, g[0], st)
	c.set(x+w-1, y, g[1], st)
	c.set(x, y+h-1, g[2], st)
	c.set(x+w-1, y+h-1, g[3], st)
	for i := x + 1; i < x+w-1; i++ {
		c.set(i, y, g[4], st)
		c.set(i, y+h-1, g[4], st)
	}
	for j := y + 1; j < y+h-1; j++ {
		c.set(x, j, g[5], st)
		c.set(x+w-1, j, g[5], st)
	}
}

var (
	lightGlyphs = [16]rune{' ', '│', '│', '│', '─', '┘', '┐', '┤', '─', '└', '┌', '├', '─', '┴', '┬', '┼'}
	heavyGlyphs = [16]rune{' ', '┃', '┃', '┃', '━', '┛', '┓', '┫', '━', '┗', '┏', '┣', '━', '┻', '┳', '╋'}
)

func glyph(conn, kind uint8) rune {
	switch kind {
	case lineHeavy:
		return heavyGlyphs[conn]
	case lineDashed:
		switch conn {
		case connLeft, connRight, connLeft | connRight:
			return '╌'
		case connUp, connDown, connUp | connDown:
			return '╎'
		}
	}
	return lightGlyphs[conn]
}

// lines renders the canvas.
func (c *canvas) lines() []string {
	out := make([]string, c.h)
	var b, run strings.Builder
	for y := 0; y < c.h; y++ {
		b.Reset()
		cur := int16(-1)
		for x := 0; x < c.w; x++ {
			cl := c.cells[y*c.w+x]
			if cl.r == 0 {
				continue
			}
			r := cl.r
			if cl.conn != 0 {
				r = glyph(cl.conn, cl.kind)
			}
			st := cl.st
			if r == ' ' {
				st = -1
			}
			if st != cur {
				c.flush(&b, &run, cur)
				cur = st
			}
			run.WriteRune(r)
		}
		c.flush(&b, &run, cur)
		out[y] = b.String()
	}
	return out
}

func (c *canvas) flush(b, run *strings.Builder, st int16) {
	if run.Len() == 0 {
		return
	}
	if st >= 0 && int(st) < len(c.styles) {
		b.WriteString(c.styles[st].Render(run.String()))
	} else {
		b.WriteString(run.String())
	}
	run.Reset()
}
