"""The LSTM internals lab: one widget per inner tab, sharing one GatesCursor."""
