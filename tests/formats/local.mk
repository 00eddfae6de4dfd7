# tests/formats: Check suites of the format readers and writers.
