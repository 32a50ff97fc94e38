"""The Dockerfile read as data, for tests that check the image without a Docker engine.

Only the instruction forms the project's Dockerfile uses are understood: ``FROM ... AS``,
``ENV key=value ...``, ``COPY [--from=...] src... dest``, exec-form ``CMD``, ``USER``,
``WORKDIR`` and ``HEALTHCHECK ... CMD [...]``; anything else is kept as raw text. The
``.dockerignore`` matcher follows Docker's rules closely enough for plain paths: patterns are
anchored at the context root, ``**`` spans directories, a ``!`` line re-includes, the last
matching line wins, and a directory that is excluded excludes what is inside it.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def env(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for args in self.all("ENV"):
            for token in shlex.split(args):
                key, sep, value = token.partition("=")
                assert sep, f"ENV without key=value form: {args!r}"
                values[key] = value
        return values

    def copies(self) -> list[Copy]:
        return [Copy.parse(args) for args in self.all("COPY")]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None


@dataclass
class Copy:
    sources: list[str]
    dest: str
    from_stage: str | None

    @classmethod
    def parse(cls, args: str) -> Copy:
        words = shlex.split(args)
        flags = {w.split("=", 1)[0]: w.split("=", 1)[-1] for w in words if w.startswith("--")}
        paths = [w for w in words if not w.startswith("--")]
        return cls(sources=paths[:-1], dest=paths[-1], from_stage=flags.get("--from"))


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined and comments dropped."""
    logical, pending = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    out = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def stages(path: Path = DOCKERFILE) -> list[Stage]:
    """The build stages in order; ARGs before the first FROM are substituted into FROM lines."""
    found: list[Stage] = []
    args: dict[str, str] = {}
    for keyword, rest in instructions(path.read_text()):
        if keyword == "ARG" and not found:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(found))
            found.append(Stage(name=name, base=base))
        elif found:
            found[-1].instructions.append((keyword, rest))
    return found


def exec_form(args: str) -> list[str]:
    """The JSON array of an exec-form CMD (or of the command after ``HEALTHCHECK ... CMD``)."""
    return json.loads(args[args.index("[") :])


def ignore_patterns(path: Path = DOCKERIGNORE) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _matches(pattern: str, rel: str) -> bool:
    regex = re.escape(pattern.strip("/")).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
    regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    return re.fullmatch(regex, rel) is not None


def ignored(rel: str, patterns: list[str] | None = None) -> bool:
    """Whether ``.dockerignore`` keeps ``rel`` (a path relative to the context) out of the build."""
    patterns = ignore_patterns() if patterns is None else patterns
    parts = rel.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    verdict = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        if any(_matches(body, prefix) for prefix in prefixes):
            verdict = not negated
    return verdict
