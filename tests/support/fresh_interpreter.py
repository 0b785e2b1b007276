"""What importing one module loads, seen from a fresh interpreter.

A test process has long since imported Flask, Pillow and boto3 for other tests, so only
a new interpreter can tell what importing a module pulls in by itself.
"""

import json
import os
import subprocess
import sys

_LIST_MODULES = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(sys.modules)))
"""


def packages_loaded_by(module: str) -> frozenset[str]:
    """The top-level packages in ``sys.modules`` once a new interpreter has imported
    ``module`` (on this process's ``sys.path``, so ``app`` and ``cdk`` resolve as here)."""
    return frozenset(name.split(".")[0] for name in modules_loaded_by(module))


def modules_loaded_by(module: str) -> frozenset[str]:
    """Every module in ``sys.modules`` once a new interpreter has imported ``module``."""
    done = subprocess.run(
        [sys.executable, "-c", _LIST_MODULES, module],
        capture_output=True,
        text=True,
        timeout=120,
        # The environment is kept: importing aws_cdk starts its jsii runtime on node.
        env=os.environ | {"PYTHONPATH": os.pathsep.join(sys.path)},
    )
    if done.returncode != 0:
        raise ImportError(f"a fresh interpreter could not import {module}:\n{done.stderr}")
    return frozenset(json.loads(done.stdout))
