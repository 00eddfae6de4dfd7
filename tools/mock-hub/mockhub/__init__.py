"""hf-mock-hub: a local Hugging Face Hub for hfasync's tests and demo (Python standard library only).

Modules: repos (repositories on disk: settings, snapshots, hashes, commits), state (request
counters, request log, faults), server (HTTP plumbing shared by both ports: responses, ranges,
fault-aware body streaming), hub (the Hub port's routes), cdn (the CDN port), cli (options, --help).
"""
