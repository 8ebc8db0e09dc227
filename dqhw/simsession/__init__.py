"""`dqhw sim BUILD`: a build's frame sets through its RTL (or its HLS C++) and the golden model, in
shards side by side or merged from many machines, with live progress and a report."""
