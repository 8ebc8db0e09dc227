"""Folding: the fastest balanced folding within the board budget or the cheapest reaching a frame
rate (`search`), and finn-format folding files: read, mapped to finn's node names, checked, written
(`config`)."""
