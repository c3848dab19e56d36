"""The governance models load when governance is asked for, not with the plugins (every
command, a build too, loads the built-in report plugin)."""

from __future__ import annotations

import subprocess
import sys

import welfare_observatory.governance as governance
from welfare_observatory.governance import models


def test_loading_the_plugins_imports_no_governance_model() -> None:
    code = (
        "import sys\n"
        "from welfare_observatory.sources.manager import Plugins\n"
        "plugins = Plugins().load()\n"
        "ids = [r.id for r in plugins.registrations('report_section')]\n"
        "assert 'governance' in ids, ids\n"
        "print('welfare_observatory.governance.models' in sys.modules)\n"
        "from welfare_observatory.governance import Governance, load_governance\n"
        "print('welfare_observatory.governance.models' in sys.modules, Governance.__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "Governance"]


def test_every_public_name_is_the_models_own() -> None:
    for name in governance.__all__:
        if name in ("governance_section", "monitor"):
            continue
        assert getattr(governance, name) is getattr(models, name), name
