"""Each validator on a known-good and a known-bad sample, with the real tools."""

import shutil
from pathlib import Path

import pytest

from stages.iac_code import to_files
from stages.validators import (
    Sample,
    checkov,
    cloudformation,
    helm,
    kubeconform,
    kubernetes,
    pulumi,
    terraform,
    tflint,
    toolchain,
    write_samples,
)

TF_GOOD = '''terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }
}

variable "name" {
  type = string
}

resource "aws_sqs_queue" "jobs" {
  name                    = var.name
  sqs_managed_sse_enabled = true
}
'''
TF_INVALID = TF_GOOD.replace("sqs_managed_sse_enabled = true", "sqs_managed_sse_enabled = true\n  colour = \"red\"")
TF_UNFORMATTED = TF_GOOD.replace("  name                    = var.name", "  name = var.name")
TF_LOOPS = TF_GOOD + '''
variable "extra_queues" {
  type = list(string)
}

resource "aws_sqs_queue" "extra" {
  for_each                = toset([for name in var.extra_queues : lower(name)])
  name                    = each.value
  sqs_managed_sse_enabled = true
}
'''
OPEN_SSH = '''
resource "aws_security_group" "ssh" {
  name = "ssh"
  ingress {
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
'''
TF_BROKEN = 'resource "aws_sqs_queue" "jobs" {\n  name = "x"\n'
CFN_GOOD = '''AWSTemplateFormatVersion: "2010-09-09"
Description: Encrypted queue
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      SqsManagedSseEnabled: true
'''
CFN_BAD = CFN_GOOD.replace("SqsManagedSseEnabled: true", "Colour: red")
K8S_GOOD = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  level: info\n"
K8S_UNKNOWN_FIELD = K8S_GOOD.replace("data:", "dataa:")
K8S_UNKNOWN_KIND = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"

needs_terraform = pytest.mark.skipif(terraform.binary() is None, reason="terraform is not installed")
needs_mirror = pytest.mark.skipif(terraform.find_plugin_dir() is None, reason="no offline AWS provider mirror")


def _tf(sample_id: str, code: str) -> Sample:
    return Sample(sample_id, "terraform", {"main.tf": code})


@needs_terraform
@needs_mirror
def test_terraform_batch_maps_each_error_to_its_sample() -> None:
    samples = [_tf("good", TF_GOOD), _tf("invalid", TF_INVALID), _tf("unformatted", TF_UNFORMATTED),
               _tf("broken", TF_BROKEN), _tf("good-again", TF_GOOD.replace("jobs", "other")), _tf("loops", TF_LOOPS)]
    results = {sid: {c.tool: c for c in checks} for sid, checks in terraform.check(samples).items()}
    assert all(c.status == "pass" for c in results["good"].values())
    assert all(c.status == "pass" for c in results["good-again"].values())
    # A required list variable iterated over: fine in a root module, so fine in the batch too.
    assert all(c.status == "pass" for c in results["loops"].values()), results["loops"]
    assert results["invalid"]["terraform validate"].status == "fail"
    assert "colour" in results["invalid"]["terraform validate"].message
    assert results["unformatted"]["terraform fmt"].status == "fail"
    assert results["unformatted"]["terraform validate"].status == "pass"
    assert results["broken"]["hcl2"].status == "fail"
    assert results["broken"]["terraform validate"].status == "skipped"


@needs_terraform
def test_terraform_never_fetches_a_remote_module() -> None:
    code = 'module "vpc" {\n  source = "git::https://example.com/vpc.git"\n}\n'
    validate = {c.tool: c for c in terraform.check([_tf("remote", code)])["remote"]}["terraform validate"]
    assert validate.status == "fail" and "outside the sample" in validate.message


def test_cloudformation_errors_are_told_from_a_clean_template() -> None:
    results = cloudformation.check([Sample("good", "cloudformation", {"template.yaml": CFN_GOOD}),
                                    Sample("bad", "cloudformation", {"template.yaml": CFN_BAD})])
    assert [c.status for c in results["good"]] == ["pass", "pass"]
    assert results["bad"][0].status == "fail" and "Colour" in results["bad"][0].message


@pytest.mark.parametrize(("manifest", "expected"), [
    (K8S_GOOD, "pass"), (K8S_UNKNOWN_FIELD, "fail"), (K8S_UNKNOWN_KIND, "fail")])
def test_kubernetes_strict_counts_unknown_fields_and_kinds_as_failures(manifest: str, expected: str) -> None:
    yamllint_check, strict = kubernetes.check([Sample("m", "kubernetes", {"m.yaml": manifest})])["m"]
    assert yamllint_check.status == "pass" and strict.status == expected


def test_helm_structure_and_pulumi_compile() -> None:
    chart = {"Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n", "values.yaml": "replicas: 2\n",
             "templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"}
    assert helm.structure(Sample("c", "helm", chart)).status == "pass"
    assert helm.structure(Sample("c", "helm", {**chart, "Chart.yaml": "apiVersion: v1\nname: web\n"})).status == "fail"
    good, bad = "import pulumi\npulumi.export('x', 1)\n", "import pulumi\npulumi.export('x',\n"
    results = pulumi.check([Sample("g", "pulumi", {"__main__.py": good}), Sample("b", "pulumi", {"__main__.py": bad})])
    assert results["g"][0].status == "pass" and results["b"][0].status == "fail"


@pytest.mark.skipif(checkov.binary() is None, reason="checkov venv not built: run `make setup`")
def test_checkov_high_findings_use_the_project_severity_map(tmp_path: Path) -> None:
    results = checkov.check([_tf("open", TF_GOOD + OPEN_SSH), Sample("cm", "kubernetes", {"m.yaml": K8S_GOOD})])
    assert results["open"][0].status == "fail" and "CKV_AWS_24" in results["open"][0].message
    assert results["cm"][0].status == "pass"


@needs_terraform
@needs_mirror
def test_hostile_terraform_is_validated_without_running_anything(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    code = TF_GOOD.replace('  sqs_managed_sse_enabled = true\n', f'''  sqs_managed_sse_enabled = true

  provisioner "local-exec" {{
    command = "touch {marker}"
  }}
''')
    checks = {c.tool: c for c in terraform.check([_tf("hostile", code)])["hostile"]}
    assert checks["terraform validate"].status == "pass"  # validate really ran over the provisioner
    assert not marker.exists()
    assert shutil.which("touch")  # the command would have worked had anything run it


def test_file_names_from_generated_code_cannot_leave_the_sample(tmp_path: Path) -> None:
    answer = "```yaml\n# file: ../../escaped.yaml\napiVersion: v2\n```\n```yaml\n# file: /tmp/abs.yaml\nname: x\n```"
    assert all(not name.startswith(("/", "..")) for name in to_files("helm", answer))
    with pytest.raises(ValueError, match="leaves its directory"):
        write_samples(tmp_path / "root", [Sample("x", "helm", {"../escaped.yaml": "a: 1\n"})])
    assert not (tmp_path / "escaped.yaml").exists()


@pytest.mark.skipif(checkov.binary() is None, reason="checkov venv not built: run `make setup`")
def test_generated_code_cannot_silence_its_checkers() -> None:
    suppressed = TF_GOOD + OPEN_SSH.replace('  name = "ssh"', '  #checkov:skip=CKV_AWS_24:trust me\n  name = "ssh"')
    assert checkov.check([_tf("s", suppressed)])["s"][0].status == "fail"
    silenced = CFN_BAD + "Metadata:\n  cfn-lint:\n    config:\n      ignore_checks:\n        - E3002\n"
    assert cloudformation.check([Sample("c", "cloudformation", {"template.yaml": silenced})])["c"][0].status == "fail"


def test_kubernetes_documents_that_are_not_resources_fail_without_crashing() -> None:
    for manifest in ("- just\n- a list\n", "apiVersion: v1\nkind: ConfigMap\nmetadata: oops\n", "kind: ConfigMap\n"):
        assert kubernetes.check([Sample("m", "kubernetes", {"m.yaml": manifest})])["m"][1].status == "fail"


@needs_terraform
def test_terraform_fmt_finds_unformatted_files_from_any_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "deep" / "er")  # terraform prints paths relative to where it runs
    checks = terraform.fmt_check([_tf("u", TF_UNFORMATTED), _tf("g", TF_GOOD)], terraform.binary())
    assert (checks["u"].status, checks["g"].status) == ("fail", "pass")


def test_absent_tools_are_skipped_never_passed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    sample = [_tf("t", TF_GOOD)]
    assert tflint.check(sample)["t"][0].as_dict() == {"tool": "tflint", "status": "skipped",
                                                      "message": "tflint not installed"}
    assert kubeconform.check(sample, "1.31.0")["t"][0].message == "kubeconform not installed"
    checks = toolchain.check_all([Sample("p", "pulumi", {"__main__.py": "import pulumi\n"})])
    assert [(c.tool, c.status) for c in checks["p"]] == [("python compile", "pass")]


@pytest.mark.skipif(tflint.binary() is None, reason="tflint is not installed (no package registry here ships it)")
def test_real_tflint_tells_a_broken_sample_from_clean_ones() -> None:
    results = tflint.check([_tf("good", TF_GOOD), _tf("broken", TF_BROKEN), _tf("other", TF_GOOD.replace("jobs", "x"))])
    assert [results[name][0].status for name in ("good", "broken", "other")] == ["pass", "fail", "pass"]


@pytest.mark.skipif(kubeconform.binary() is None or kubeconform.schema_location() is None,
                    reason="kubeconform is not installed (no package registry here ships it) or "
                           f"{kubeconform.SCHEMAS_ENV} names no local schemas")
def test_real_kubeconform_is_strict_and_fails_unknown_kinds() -> None:
    samples = [Sample(name, "kubernetes", {"m.yaml": manifest}) for name, manifest in
               (("good", K8S_GOOD), ("field", K8S_UNKNOWN_FIELD), ("kind", K8S_UNKNOWN_KIND))]
    results = kubeconform.check(samples, kubernetes.DEFAULT_VERSION)
    assert [results[name][0].status for name in ("good", "field", "kind")] == ["pass", "fail", "fail"]
