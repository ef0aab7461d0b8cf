"""One module per fault; each `run(harness)` returns its figures, targets and notes."""
