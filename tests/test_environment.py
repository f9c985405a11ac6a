"""The environment `make setup` builds: checkov in its own venv, callable as a subprocess, beside a main
venv whose `hcl2` is still python-hcl2 (checkov ships a clashing module of that name)."""

import json
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import REPO

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


def test_main_venv_has_python_hcl2_not_checkovs_fork() -> None:
    import hcl2

    assert version("python-hcl2") == "8.1.4"
    assert hasattr(hcl2, "loads") and "site-packages/hcl2" in hcl2.__file__.replace("\\", "/")


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov's venv is not built: run `make setup`")
def test_checkov_runs_from_its_own_venv_on_terraform(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n')
    result = subprocess.run([str(CHECKOV), "-d", str(tmp_path), "-o", "json", "--quiet", "--framework", "terraform"],
                            capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    failed = {check["check_id"] for check in report["results"]["failed_checks"]}
    assert result.returncode == 1  # findings
    assert "CKV2_AWS_6" in failed  # no public access block on the bucket
