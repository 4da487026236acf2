package forwarding

// Overlaps reports whether some packet could match both m and o: every
// field that both set has ranges in common, and the families agree. A home
// agent uses it to find a mobile node's flow binding that an operator rule
// would override.
func (m Match) Overlaps(o Match) bool {
	if m.Family != 0 && o.Family != 0 && m.Family != o.Family {
		return false
	}
	return m.Src.overlaps(o.Src) && m.Dst.overlaps(o.Dst) &&
		m.NextHeader.overlaps(o.NextHeader) && m.SrcPort.overlaps(o.SrcPort) && m.DstPort.overlaps(o.DstPort) &&
		m.TrafficClass.overlaps(o.TrafficClass) && m.FlowLabel.overlaps(o.FlowLabel) && m.SPI.overlaps(o.SPI)
}

func (r Range[T]) overlaps(o Range[T]) bool {
	return !r.Set || !o.Set || (r.Lo <= o.Hi && o.Lo <= r.Hi)
}

func (r AddrRange) overlaps(o AddrRange) bool {
	if !r.Set() || !o.Set() {
		return true
	}
	if r.From.Is4() != o.From.Is4() {
		return false
	}
	return r.From.Compare(o.To) <= 0 && o.From.Compare(r.To) <= 0
}
