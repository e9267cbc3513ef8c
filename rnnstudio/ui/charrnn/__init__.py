"""The char-RNN panel: its settings, loss plot, timeline and sampler, each a widget of its own."""
