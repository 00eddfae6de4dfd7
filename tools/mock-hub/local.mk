# tools/mock-hub: hf-mock-hub, a local Hugging Face Hub for tests and the demo.
# Python 3 standard library only: nothing to build; shipped in the tarball and tested by
# test-mock-hub.sh, which runs test_mock_hub.py from the source tree.
MOCK_HUB_FILES = \
	tools/mock-hub/hf-mock-hub \
	tools/mock-hub/mockhub/__init__.py \
	tools/mock-hub/mockhub/cdn.py \
	tools/mock-hub/mockhub/cli.py \
	tools/mock-hub/mockhub/hub.py \
	tools/mock-hub/mockhub/repos.py \
	tools/mock-hub/mockhub/server.py \
	tools/mock-hub/mockhub/state.py

EXTRA_DIST += $(MOCK_HUB_FILES) tools/mock-hub/test_mock_hub.py tools/mock-hub/test-mock-hub.sh
TESTS += tools/mock-hub/test-mock-hub.sh
