# tools/mock-hub: hf-mock-hub, a local Hugging Face Hub for tests and the demo.
