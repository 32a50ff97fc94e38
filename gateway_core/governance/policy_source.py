"""Policy sources: reading the .rego files, versioning them, and checking them before compiling.

A policy is one file or a directory of ``.rego`` files (``*_test.rego`` files, OPA's
convention for policy tests, are skipped). Its version is a hash of the file names and
contents. The checks here run on the text, because regopy accepts some policies that it
then cannot run: a call to a function it does not know only fails when a request reaches
it, and two ``default`` rules for one name crash the interpreter. Both are refused at load
with the file and line, like a syntax error. The same scan finds which ``input`` fields a
policy reads, which is what the decision cache keys on.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .policy import PACKAGE, PolicyError

# Builtins whose answer changes between two calls with the same input: a policy that uses
# one cannot have its decisions cached.
NONDETERMINISTIC = frozenset({"time.now_ns", "rand.intn", "uuid.rfc4122", "http.send", "opa.runtime", "net.lookup_ip_addr"})
# The compiler handles these itself, so the interpreter's builtin table does not list them.
_COMPILER_FUNCTIONS = frozenset({"print", "trace"})
_KEYWORDS = frozenset({"if", "not", "some", "every", "in", "contains", "else", "with", "as", "default", "import", "package"})

_LEXEMES = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`]*`|#[^\n]*')
_INPUT_REF = re.compile(r'(?<![\w.$])input((?:\.[A-Za-z_]\w*|\[" *"\])*)')
_REF_PART = re.compile(r'\.([A-Za-z_]\w*)|\[(" *")\]')
_CALL = re.compile(r"(?<![\w.$])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\(")
_FUNCTION_HEAD = re.compile(r"^[ \t]*([A-Za-z_]\w*)\s*\([^()\n]*\)\s*(?::=|=(?!=)|if\b|\{)", re.M)
_IMPORT = re.compile(r"^[ \t]*import\s+([\w.]+)(?:\s+as\s+(\w+))?", re.M)
_PACKAGE = re.compile(r"^[ \t]*package\s+([\w.]+)", re.M)
_DEFAULT = re.compile(r"^[ \t]*default\s+([A-Za-z_]\w*)", re.M)


@dataclass(frozen=True)
class PolicySource:
    name: str  # the path as the operator gave it, so errors point where they look
    text: str

    def line_of(self, offset: int, *, in_bytes: bool = False) -> int:
        head = self.text.encode("utf-8")[:offset] if in_bytes else self.text[:offset]
        return head.count(b"\n" if in_bytes else "\n") + 1


def policy_files(path: str | Path) -> list[Path]:
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise PolicyError(str(path), "no such file or directory")
    files = sorted(p for p in root.rglob("*.rego") if p.is_file() and not p.name.endswith("_test.rego"))
    if not files:
        raise PolicyError(str(path), "the directory holds no .rego files")
    return files


def read_sources(path: str | Path) -> tuple[PolicySource, ...]:
    out = []
    for file in policy_files(path):
        try:
            out.append(PolicySource(str(file), file.read_text(encoding="utf-8")))
        except UnicodeDecodeError as e:
            raise PolicyError(str(file), f"not UTF-8 text (byte {e.start})") from None
        except OSError as e:
            raise PolicyError(str(file), f"cannot be read ({e.strerror or e})") from None
    return tuple(out)


def signature(path: str | Path) -> tuple:
    """What changes when the policy files change: names, sizes and modification times."""
    try:
        return tuple((str(f), s.st_mtime_ns, s.st_size) for f in policy_files(path) for s in (f.stat(),))
    except (PolicyError, OSError) as e:
        return ("unreadable", str(e))


def content_version(sources: Iterable[PolicySource]) -> str:
    digest = hashlib.sha256()
    for source in sources:
        digest.update(Path(source.name).name.encode() + b"\0" + source.text.encode() + b"\0")
    return digest.hexdigest()[:12]


def _blank(text: str) -> str:
    """Comments and string contents replaced by spaces, so offsets and lines stay put."""

    def blank(m: re.Match) -> str:
        s = m.group(0)
        if s[0] == "#":
            return " " * len(s)
        return s[0] + re.sub(r"[^\n]", " ", s[1:-1]) + s[-1]

    return _LEXEMES.sub(blank, text)


def input_paths(sources: Iterable[PolicySource]) -> frozenset[tuple[str, ...]]:
    """The ``input`` paths the policies read, reduced to the shortest prefixes.

    A dynamic index (``input.request[k]``) or a bare ``input`` keeps only the part before
    it, so the result is never narrower than what the policy can see.
    """
    found: set[tuple[str, ...]] = set()
    for source in sources:
        code = _blank(source.text)
        for ref in _INPUT_REF.finditer(code):
            parts = []
            for part in _REF_PART.finditer(ref.group(1)):
                if part.group(1):
                    parts.append(part.group(1))
                else:
                    start = ref.start(1) + part.start(2)
                    parts.append(json.loads(source.text[start : start + len(part.group(2))]))
            found.add(tuple(parts))
    minimal: list[tuple[str, ...]] = []
    for path in sorted(found, key=len):
        if not any(path[: len(p)] == p for p in minimal):
            minimal.append(path)
    return frozenset(minimal)


def called_functions(source: PolicySource) -> list[tuple[str, int]]:
    """(name, offset) of every call in the source, keywords left out."""
    code = _blank(source.text)
    return [(m.group(1), m.start(1)) for m in _CALL.finditer(code) if m.group(1) not in _KEYWORDS]


def nondeterministic_calls(sources: Iterable[PolicySource]) -> set[str]:
    return {name for s in sources for name, _ in called_functions(s) if name in NONDETERMINISTIC}


def check_sources(sources: tuple[PolicySource, ...], is_builtin: Callable[[str], bool]) -> None:
    """Refuse what regopy would accept but not run; raise ``PolicyError`` naming file and line."""
    packages = {s.name: _PACKAGE.search(_blank(s.text)) for s in sources}
    if not any(m and (m.group(1) == PACKAGE or m.group(1).startswith(PACKAGE + ".")) for m in packages.values()):
        raise PolicyError(
            sources[0].name if len(sources) == 1 else ", ".join(s.name for s in sources), f"no file declares package {PACKAGE}"
        )
    _check_defaults(sources, packages)
    _check_functions(sources, is_builtin)


def _check_defaults(sources, packages) -> None:
    seen: dict[tuple[str, str], str] = {}
    for source in sources:
        package = packages[source.name].group(1) if packages[source.name] else ""
        for m in _DEFAULT.finditer(_blank(source.text)):
            line = source.line_of(m.start())
            where = seen.setdefault((package, m.group(1)), f"{source.name}:{line}")
            if where != f"{source.name}:{line}":
                raise PolicyError(source.name, f"default {m.group(1)} is declared twice (also at {where})", line)


def _check_functions(sources, is_builtin) -> None:
    defined, aliases = set(_COMPILER_FUNCTIONS), {"data", "input"}
    for source in sources:
        code = _blank(source.text)
        defined.update(m.group(1) for m in _FUNCTION_HEAD.finditer(code))
        for m in _IMPORT.finditer(code):
            aliases.add(m.group(2) or m.group(1).rsplit(".", 1)[-1])
    for source in sources:
        for name, offset in called_functions(source):
            if name in defined or name.split(".", 1)[0] in aliases or is_builtin(name):
                continue
            raise PolicyError(source.name, f"unknown function {name}()", source.line_of(offset))


# --- regopy's error reports -----------------------------------------------------------------

_ERROR_AT = re.compile(rb"\(error (\d+):")
_ERROR_MSG = re.compile(rb"\(errormsg (\d+):")


def _prefixed(raw: bytes, m: re.Match) -> bytes:
    return raw[m.end() : m.end() + int(m.group(1))]


def locate_error(message: str, sources: Iterable[PolicySource]) -> tuple[str | None, int | None, str]:
    """(file, line, reason) of the first error in a regopy error report.

    regopy reports ``(error <n>:<file>|<byte offset>|<length> (errormsg <n>:<text>) ...)``;
    the offset counts bytes of the file, so it is mapped to a line on the encoded text.
    """
    raw = message.encode("utf-8", "replace")
    msg = _ERROR_MSG.search(raw)
    if msg:
        reason = _prefixed(raw, msg).decode("utf-8", "replace")
    else:
        reason = (message.strip().splitlines() or ["the policy cannot be compiled"])[0]
    at = _ERROR_AT.search(raw)
    if not at:
        return None, None, reason
    name = _prefixed(raw, at).decode("utf-8", "replace")
    where = re.match(rb"\|(\d+)\|", raw[at.end() + int(at.group(1)) :])
    for source in sources:
        if source.name == name:
            return name, source.line_of(int(where.group(1)), in_bytes=True) if where else None, reason
    return name, None, reason
