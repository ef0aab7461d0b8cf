"""Developer tooling: `make run` (`run_local`) and the process plumbing that it, the tests and
the benchmarks share (`processes`). Never shipped in the image."""
