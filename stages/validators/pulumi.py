"""Pulumi (Python): the program must compile. Compiling does not run it; `pulumi preview` would,
and needs credentials, so it is never called."""

from stages.validators import Check, Sample


def check(samples: list[Sample]) -> dict[str, list[Check]]:
    results = {}
    for sample in samples:
        problems = []
        for name, text in sample.files.items():
            try:
                compile(text, name, "exec")
            except SyntaxError as exc:
                problems.append(f"{name}:{exc.lineno}: {exc.msg}")
        results[sample.id] = [Check.from_problems("python compile", problems)]
    return results
