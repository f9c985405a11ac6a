import json
from pathlib import Path

from typer.testing import CliRunner

from stages.cli import app
from stages.harvest import harvest
from stages.iac_code import main_language
from stages.rows import check_structure

FILES: dict[str, bytes] = {
    "tf/network/main.tf": b'resource "aws_vpc" "main" {\n  cidr_block = var.cidr\n}\n',
    "tf/network/variables.tf": b'variable "cidr" {\n  type = string\n}\n\n'
                               b'output "vpc_id" {\n  value = aws_vpc.main.id\n}\n',
    "tf/network/README.md": b"# Network\n\nA private network for the payments team.\n",
    "tf/broken/main.tf": b'resource "aws_vpc" "main" {\n  cidr_block = \n',
    "cfn/queue.yaml": b'AWSTemplateFormatVersion: "2010-09-09"\nDescription: Orders queue, encrypted\nParameters:\n'
                      b"  QueueName:\n    Type: String\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\n"
                      b"    Properties:\n      QueueName: !Ref QueueName\n      SqsManagedSseEnabled: true\n",
    "cfn/bad.yaml": b'AWSTemplateFormatVersion: "2010-09-09"\nResources: [\n',
    "k8s/app.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-settings\n  namespace: shop\ndata:\n"
                    b"  level: info\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: shop\n"
                    b"spec:\n  selector:\n    app: web\n  ports:\n    - port: 80\n",
    "charts/web/Chart.yaml": b"apiVersion: v2\nname: web\ndescription: A small web frontend\nversion: 0.1.0\n",
    "charts/web/values.yaml": b"replicaCount: 2\n",
    "charts/web/templates/deployment.yaml": b"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                                            b"  name: {{ .Release.Name }}\n",
    "charts/web/icon.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",  # not part of the answer: no reason to refuse
    "charts/odd/Chart.yaml": b"- a\n- list\n",
    "charts/odd/templates/cm.yaml": b"kind: ConfigMap\n",
    "k8s/odd.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: oops\n",
    "cfn/list-params.yaml": b'AWSTemplateFormatVersion: "2010-09-09"\nParameters:\n  - Name: x\nResources:\n'
                            b"  Queue:\n    Type: AWS::SQS::Queue\n",
    "misc/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "misc/latin1.yaml": b"name: caf\xe9\n",
    "misc/config.yaml": b"retries: 3\n",
    ".github/workflows/ci.yml": b"on: push\n",
}


def _fixture(root: Path) -> Path:
    for relative, content in FILES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def test_harvest_turns_iac_into_rows_and_reports_the_rest(tmp_path: Path) -> None:
    rows, reports = harvest(_fixture(tmp_path / "repo"))
    status = {r.path: (r.status, r.reason) for r in reports}

    assert status["charts/web"] == ("harvested", "helm chart")
    assert status["tf/network"] == ("harvested", "terraform module")
    assert status["cfn/queue.yaml"] == ("harvested", "cloudformation template")
    assert status["k8s/app.yaml"] == ("harvested", "kubernetes manifests")
    assert status["tf/broken"][0] == "refused" and "does not parse" in status["tf/broken"][1]
    assert status["cfn/bad.yaml"][0] == "refused" and "does not parse" in status["cfn/bad.yaml"][1]
    assert status["misc/logo.png"] == ("skipped", "not an IaC file type")
    assert status["misc/latin1.yaml"] == ("refused", "not UTF-8 text")
    assert status["misc/config.yaml"][0] == "skipped"
    assert status["charts/odd"] == ("refused", "Chart.yaml is not a mapping")
    assert status["cfn/list-params.yaml"][0] == "refused"
    assert status["k8s/odd.yaml"][0] == "harvested"  # odd but parseable: validate's job, not harvest's
    assert not any(path.startswith(".github") for path in status)

    by_language = {main_language(row["output"]): row for row in rows if "metadata: oops" not in row["output"]}
    assert sorted(by_language) == ["cloudformation", "helm", "kubernetes", "terraform"]
    terraform = by_language["terraform"]["instruction"]
    assert "aws_vpc.main" in terraform and "Inputs: cidr" in terraform and "Outputs: vpc_id" in terraform
    assert "A private network for the payments team." in terraform
    assert "Orders queue, encrypted" in by_language["cloudformation"]["instruction"]
    assert "Parameters: QueueName" in by_language["cloudformation"]["instruction"]
    assert "ConfigMap/web-settings, Service/web in namespace shop" in by_language["kubernetes"]["instruction"]
    assert "A small web frontend" in by_language["helm"]["instruction"]
    assert "# file: templates/deployment.yaml" in by_language["helm"]["output"]
    for row in rows:  # every row fits the raw schema
        assert check_structure(json.dumps(row).encode(), 1, None).reasons == []
        assert row["style"] == "TERSE"


def test_harvest_command_writes_rows_and_a_report(tmp_path: Path) -> None:
    out = tmp_path / "harvested.jsonl"
    result = CliRunner().invoke(app, ["harvest", str(_fixture(tmp_path / "repo")), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(out.read_text().splitlines()) == 5
    report = [json.loads(line) for line in out.with_suffix(".report.jsonl").read_text().splitlines()]
    assert {r["status"] for r in report} == {"harvested", "skipped", "refused"}
