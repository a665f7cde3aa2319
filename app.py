#!/usr/bin/env python3
"""CDK entry point: ``cdk synth -c stage=prod`` or ``python app.py`` (stage ``dev``).

Settings are in ``cdk.json`` (docs/configuration.md); an invalid one stops the synth with a message
naming it, before anything is built.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The functions' shared code (edgeauth.constants, edgeauth.core.settings) is imported at synth; the
# editable install provides it, and this keeps `python app.py` working without it.
sys.path.insert(0, str(Path(__file__).resolve().parent / "functions"))

from infra.application import create_app
from infra.bundling import BundlingError
from infra.config import ConfigError


def main() -> int:
    try:
        # The CDK CLI names the output directory; `python app.py` alone writes to ./cdk.out.
        app, _stack = create_app(outdir=None if "CDK_OUTDIR" in os.environ else "cdk.out")
        app.synth()
    except ConfigError as e:
        print(f"edgeauth: invalid setting in cdk.json: {e}", file=sys.stderr)
        return 2
    except BundlingError as e:
        print(f"edgeauth: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
