#!/bin/sh
# Runs the hf-mock-hub tests (Python 3 standard library only) from the source tree, which may
# differ from the build tree (make distcheck); skipped (exit 77) where there is no Python 3.9+.
srcdir=${HF_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
python=${PYTHON3:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    echo "test-mock-hub: no Python 3.9 or later ($python): skipped"
    exit 77
fi
PYTHONDONTWRITEBYTECODE=1 exec "$python" "$srcdir/tools/mock-hub/test_mock_hub.py"
