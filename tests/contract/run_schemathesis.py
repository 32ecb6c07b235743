"""The schemathesis command line, with one interpreter bug worked around.

CPython 3.11 before 3.11.8 can raise ``SystemError: AST constructor recursion depth mismatch``
from ``ast.parse`` when it runs deep in a stack (python/cpython#106905). Hypothesis parses source
only to *describe* a lambda for a strategy's repr, and schemathesis builds strategies deep inside
its generators, so on such an interpreter (this machine has 3.11.7) the bug aborted whole
operations with a "Runtime Error" that had nothing to do with the API under test. A description
is cosmetic: when parsing fails this way, the lambda is described generically instead.
"""

import sys

from hypothesis.internal import lambda_sources

_describe = lambda_sources.lambda_description


def _describe_or_placeholder(f):
    try:
        return _describe(f)
    except SystemError:
        return "lambda: <unknown>"


lambda_sources.lambda_description = _describe_or_placeholder

from schemathesis.cli import schemathesis  # noqa: E402  (after the patch, on purpose)

if __name__ == "__main__":
    sys.argv[0] = "schemathesis"
    sys.exit(schemathesis())
