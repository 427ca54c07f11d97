"""Finding, parsing and linking `.pat` modules (``use stdlib.lm``, ``use mymod``).

Resolution order for ``use a.b``: ``stdlib.*`` in the package's own ``stdlib/`` directory (so a
``pip install`` user gets it too); otherwise ``a/b.pat`` under the root spec's directory, then each
directory of ``search_path``, then of ``$PATTERNLANG_PATH`` (``os.pathsep``-separated).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

from patternlang.errors import Diagnostic, PatSpecError, PatUsageError, Span
from patternlang.syntax import ast as A
from patternlang.syntax.parser import parse

STDLIB_DIR = Path(__file__).resolve().parent.parent / "stdlib"


@dataclass
class Module:
    """A parsed module and the modules its ``use`` lines point to (by local name)."""

    key: str  # file path as shown in diagnostics
    ast: A.Module
    imports: dict[str, "Module"] = field(default_factory=dict)  # local name -> module
    is_root: bool = False
    dir: Path = field(default_factory=Path.cwd)  # relative paths in the module resolve from here


@dataclass
class Program:
    root: Module
    modules: dict[str, Module]
    sources: dict[str, str]
    diagnostics: list[Diagnostic]
    root_dir: Path
    failed: dict[str, list[str]] = field(default_factory=dict)  # module key -> imports not found


def stdlib_modules() -> list[str]:
    """Names of the stdlib modules (``core``, ``lm``, ...)."""
    return sorted(p.stem for p in STDLIB_DIR.glob("*.pat"))


def _search_dirs(root_dir: Path, search_path: list[str] | None) -> list[Path]:
    env = [p for p in os.environ.get("PATTERNLANG_PATH", "").split(os.pathsep) if p]
    return [root_dir, *(Path(p) for p in (search_path or [])), *(Path(p) for p in env)]


def resolve(path: tuple[str, ...], root_dir: Path, search_path: list[str] | None) -> Path | None:
    """The file a ``use`` path names, or None."""
    if path[0] == "stdlib" and len(path) == 2:
        f = STDLIB_DIR / f"{path[1]}.pat"
        return f if _is_file(f) else None
    for d in _search_dirs(root_dir, search_path):
        f = d.joinpath(*path[:-1], f"{path[-1]}.pat")
        if _is_file(f):
            return f
    return None


def _display(path: Path) -> str:
    if path.resolve().parent == STDLIB_DIR.resolve():
        return f"stdlib/{path.name}"
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


#: The largest spec or module file read (a spec is a page of text; a 20 MB file is a mistake).
MAX_SOURCE_BYTES = 1 << 20


def _regular_file(path: Path, shown: str) -> None:
    """Refuse (exit 2, naming the file) anything but a regular file of at most
    :data:`MAX_SOURCE_BYTES`: a directory, a device (``/dev/zero`` never ends), a FIFO (reading
    it waits for a writer), a missing file or a path the file system cannot hold."""
    import stat

    try:
        st = path.stat()
    except FileNotFoundError:
        raise PatUsageError(f"no such spec file: {shown}") from None
    except OSError as exc:
        raise PatUsageError(f"cannot read {shown}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise PatUsageError(f"{shown} is a directory, not a spec file (give the .pat file in it)")
    if not stat.S_ISREG(st.st_mode):
        raise PatUsageError(f"{shown} is not a regular file (a device, a pipe or a socket); give "
                            "the path of a .pat file")
    if st.st_size > MAX_SOURCE_BYTES:
        raise PatUsageError(f"{shown} is {st.st_size:,} bytes; spec files are at most "
                            f"{MAX_SOURCE_BYTES:,} bytes (put data in a data file: text_file, "
                            "token_file)")


def read_source(path: Path, shown: str | None = None) -> str:
    """The text of a spec or module file: UTF-8 (a leading byte-order mark is dropped).

    Raises :class:`PatUsageError` for anything but a regular file of at most
    :data:`MAX_SOURCE_BYTES` (a directory, a device, a FIFO, a missing or unreadable file, a
    path too long), and a :class:`PatSpecError` (PAT102 at the line and column of the first bad
    byte, naming the file) for text that is not UTF-8."""
    shown = shown or str(path)
    _regular_file(path, shown)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise PatUsageError(f"cannot read {shown}: {exc.strerror or exc}") from None
    if len(data) > MAX_SOURCE_BYTES:  # it grew after the check
        raise PatUsageError(f"{shown} is larger than {MAX_SOURCE_BYTES:,} bytes, the limit of a "
                            "spec file")
    return decode_source(data, shown)


def decode_source(data: bytes, shown: str) -> str:
    """UTF-8 text of a spec's bytes, a leading byte-order mark dropped (PAT102 otherwise)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[:exc.start].decode("utf-8")
        line = good.count("\n") + 1
        col = len(good) - (good.rfind("\n") + 1) + 1
        d = Diagnostic("PAT102", f"{shown} is not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                                 f"line {line}, column {col})", Span(shown, line, col, line, col + 1),
                       "save the file as UTF-8")
        raise PatSpecError([d], {shown: good}) from None


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False for a path the file system cannot even look up (too long)."""
    try:
        return path.is_file()
    except OSError:
        return False


def load_program(text: str, filename: str, search_path: list[str] | None = None) -> Program:
    """Parse ``text`` (the root spec, shown as ``filename``) and every module it uses, transitively.

    Syntax errors of the root raise at once; problems with imports are collected as diagnostics."""
    root_dir = Path(filename).resolve().parent if filename and not filename.startswith("<") \
        else Path.cwd()
    sources = {filename: text}
    diags: list[Diagnostic] = []
    root = Module(filename, parse(text, filename), is_root=True, dir=root_dir)
    modules: dict[str, Module] = {filename: root}
    by_file: dict[Path, Module] = {}
    failed: dict[str, list[str]] = {}
    if not filename.startswith("<"):
        by_file[Path(filename).resolve()] = root

    def visit(mod: Module, stack: list[Path]) -> None:
        for use in mod.ast.uses:
            f = resolve(use.path, root_dir, search_path)
            if f is None:
                diags.append(_not_found(use, root_dir, search_path))
                failed.setdefault(mod.key, []).append(".".join(use.path))
                continue
            real = f.resolve()
            if real in stack:
                chain = " -> ".join([p.stem for p in stack[stack.index(real):]] + [real.stem])
                diags.append(Diagnostic("PAT504", f"import cycle: {chain}", use.span,
                                        "move the shared definitions into a third module"))
                continue
            if real not in by_file:
                key = _display(f)
                try:
                    src = read_source(f, key)
                except PatUsageError as exc:  # unreadable: a diagnostic at the `use`
                    diags.append(Diagnostic("PAT205", str(exc), use.span,
                                            "check the module file's permissions"))
                    continue
                except PatSpecError as exc:  # not UTF-8: located in the module
                    diags.extend(exc.diagnostics)
                    sources.update(exc.sources)
                    continue
                sources[key] = src
                try:
                    child = Module(key, parse(src, key), dir=real.parent)
                except PatSpecError as exc:
                    diags.extend(exc.diagnostics)
                    continue
                by_file[real] = modules[key] = child
                visit(child, [*stack, real])
            mod.imports[use.local_name] = by_file[real]

    visit(root, [Path(filename).resolve()] if not filename.startswith("<") else [])
    return Program(root, modules, sources, diags, root_dir, failed)


def _rel(d: Path) -> str:
    try:
        return os.path.relpath(d) or "."
    except ValueError:
        return str(d)


def _not_found(use: A.Use, root_dir: Path, search_path: list[str] | None) -> Diagnostic:
    dotted = ".".join(use.path)
    if use.path[0] == "stdlib":
        names = stdlib_modules()
        close = difflib.get_close_matches(use.path[-1], names, n=1)
        hint = (f"did you mean 'stdlib.{close[0]}'? " if close else "") + \
            f"the stdlib has: {', '.join(names)}"
    else:
        where = ", ".join(_rel(d) for d in _search_dirs(root_dir, search_path))
        hint = f"looked for {'/'.join(use.path)}.pat in: {where} (set PATTERNLANG_PATH to add more)"
    return Diagnostic("PAT205", f"module '{dotted}' not found", use.span, hint)
