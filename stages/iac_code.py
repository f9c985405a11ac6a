"""Finding IaC code in text (fenced blocks, or a bare document) and telling its language."""

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})[ \t]*(?P<tag>[\w+.-]*)[^\n]*\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                    re.DOTALL | re.MULTILINE)
_OPENING_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})[ \t]*(?P<tag>[\w+.-]*)[^\n]*\n", re.MULTILINE)

LANGUAGES = ("terraform", "cloudformation", "kubernetes", "helm", "pulumi", "unknown")


@dataclass
class CodeBlock:
    tag: str
    body: str
    language: str
    complete: bool = True  # False: a fence opened and never closed (an answer cut off by max_new_tokens)


def detect_language(tag: str, body: str) -> str:
    tag = tag.lower()
    if tag in {"hcl", "terraform", "tf"} or re.search(r'^\s*(resource|provider|module|variable)\s+"', body, re.M):
        return "terraform"
    if "{{" in body and (".Values" in body or ".Release" in body or ".Chart" in body):
        return "helm"
    if re.search(r"^\s*#\s*file:\s*(Chart\.yaml|values\.yaml|templates/)", body, re.M):
        return "helm"
    if "AWSTemplateFormatVersion" in body or re.search(r"Type['\"]?\s*:\s*['\"]?AWS::", body):
        return "cloudformation"
    if re.search(r"^\s*apiVersion\s*:", body, re.M) and re.search(r"^\s*kind\s*:", body, re.M):
        return "kubernetes"
    if tag in {"python", "py"} and re.search(r"^\s*(import pulumi|from pulumi)", body, re.M):
        return "pulumi"
    return "unknown"


def extract(text: str) -> list[CodeBlock]:
    """Fenced blocks when there are any (a last fence left open counts, marked incomplete); otherwise the
    whole text if it reads as one IaC document."""
    matches = list(_FENCE.finditer(text))
    blocks = [CodeBlock(m["tag"], m["body"], detect_language(m["tag"], m["body"])) for m in matches]
    opened = _OPENING_FENCE.search(text, matches[-1].end() if matches else 0)
    if opened:
        body = text[opened.end():]
        blocks.append(CodeBlock(opened["tag"], body, detect_language(opened["tag"], body), complete=False))
    if blocks:
        return blocks
    language = detect_language("", text)
    return [CodeBlock("", text, language)] if language != "unknown" else []


def main_language(text: str) -> str:
    """The language of an answer: the first block whose language is known (Helm wins over the YAML
    it contains, since a chart's values.yaml alone reads as no language)."""
    languages = [block.language for block in extract(text)]
    if "helm" in languages:
        return "helm"
    return next((lang for lang in languages if lang != "unknown"), "unknown")


_FILE_COMMENT = re.compile(r"^\s*#\s*file:\s*(\S+)\s*\n")
_DEFAULT_NAMES = {"terraform": "main{n}.tf", "kubernetes": "manifest{n}.yaml", "pulumi": "__main__{n}.py"}


def _stays_inside(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts


def to_files(language: str, text: str) -> dict[str, str]:
    """An answer's code blocks of one language as the files a tool reads. A `# file: NAME` first line
    names the file (Helm charts) unless the name would leave the sample's directory; otherwise a
    conventional name (main.tf, template.yaml, ...). Blocks of other languages (a bash snippet beside
    the Terraform) are not part of it."""
    files: dict[str, str] = {}
    blocks = [b for b in extract(text) if b.language == language
              or (language == "helm" and _FILE_COMMENT.match(b.body))]  # a chart's values.yaml reads as no language
    for index, block in enumerate(blocks):
        named = _FILE_COMMENT.match(block.body)
        if named and _stays_inside(named.group(1)):
            name = named.group(1)
        elif language == "cloudformation":
            name = f"template{index or ''}.{'json' if block.body.lstrip().startswith('{') else 'yaml'}"
        else:
            name = _DEFAULT_NAMES.get(language, "code{n}.txt").format(n=index or "")
        files[name] = block.body
    return files
