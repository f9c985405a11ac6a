import pytest

from stages.iac_code import extract, main_language

TF = 'resource "aws_s3_bucket" "logs" {\n  bucket = "logs"\n}\n'
K8S = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
CFN = "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Queue:\n    Type: AWS::SQS::Queue\n"
HELM = ("# file: templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\n"
        "metadata:\n  name: {{ .Release.Name }}\n")
PULUMI = "import pulumi\nimport pulumi_aws as aws\nbucket = aws.s3.Bucket('logs')\n"


@pytest.mark.parametrize(("text", "language"), [
    (f"Here it is.\n\n```hcl\n{TF}```\n", "terraform"),
    (f"```yaml\n{K8S}```", "kubernetes"),
    (f"```yaml\n{CFN}```", "cloudformation"),
    (f"```yaml\n# file: Chart.yaml\napiVersion: v2\nname: web\nversion: 0.1.0\n```\n\n```yaml\n{HELM}```", "helm"),
    (f"```python\n{PULUMI}```", "pulumi"),
    (TF, "terraform"),  # bare, no fence
    (K8S, "kubernetes"),
    ("Use a private bucket with encryption at rest.", "unknown"),
])
def test_language_of_an_answer(text: str, language: str) -> None:
    assert main_language(text) == language


def test_prose_alone_holds_no_code() -> None:
    assert extract("Terraform state maps resources in code to real objects.") == []


def test_every_fenced_block_is_found() -> None:
    blocks = extract(f"One:\n```hcl\n{TF}```\nTwo:\n```yaml\n{K8S}```\nThree:\n~~~bash\nls -la\n~~~\n")
    assert [(b.tag, b.language) for b in blocks] == [("hcl", "terraform"), ("yaml", "kubernetes"), ("bash", "unknown")]


def test_a_fence_left_open_by_max_new_tokens_is_kept_and_marked_incomplete() -> None:
    blocks = extract(f"First:\n```yaml\n{K8S}```\nThen:\n```hcl\n{TF[:-3]}")
    assert [(b.language, b.complete) for b in blocks] == [("kubernetes", True), ("terraform", False)]
    assert blocks[1].body == TF[:-3]
