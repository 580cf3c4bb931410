"""One place for each thing, checked by reading the source (ast): what may call what, and where."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("audiogan_core", "plugins", "bridges", "training", "scripts", "benchmarks")


def python_files(*folders: str) -> list[Path]:
    return sorted(p for f in folders for p in (REPO / f).rglob("*.py") if "examples" not in p.parts)


def calls(path: Path) -> list[tuple[str, int]]:
    """Dotted names of every call in a file ("torch.load", "linalg.sqrtm", "load_file"), with lines."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Call):
            parts, func = [], node.func
            while isinstance(func, ast.Attribute):
                parts.append(func.attr)
                func = func.value
            if isinstance(func, ast.Name):
                parts.append(func.id)
            found.append((".".join(reversed(parts)), node.lineno))
    return found


def where(predicate, allowed: set[str]) -> list[str]:
    hits = []
    for path in python_files(*PACKAGES):
        rel = path.relative_to(REPO).as_posix()
        hits += [f"{rel}:{line} {name}" for name, line in calls(path) if predicate(name) and rel not in allowed]
    return hits


def test_one_checkpoint_reader():
    """torch.load and safetensors' load_file are called in audiogan_core/checkpoint.py only: every
    loader (published weights, CLAP, HiFi-GAN, embedders, the trainer) goes through it."""
    assert where(lambda n: n == "torch.load" or n.endswith("load_file"), {"audiogan_core/checkpoint.py"}) == []


def test_one_frechet_distance():
    """The matrix square root of the Fréchet distance is taken in audiogan_core/metrics.py only."""
    assert where(lambda n: n.endswith("sqrtm"), {"audiogan_core/metrics.py"}) == []


def test_hifigan_does_not_import_the_clap_text_encoder():
    import subprocess
    import sys

    code = ("import sys, audiogan_plugins.vocoders.hifigan; "
            "print('audiogan_plugins.text_encoders.clap' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"


def test_readme_quotes_only_files_in_the_repository():
    """Every repository path the README quotes (`scripts/x.py`, `benchmarks/results/a.{txt,json}`)
    exists and is not git-ignored: a reader can open what the README cites (it used to quote raw
    benchmark output that benchmarks/.gitignore keeps out of the repository)."""
    import re
    import subprocess

    tracked_top = {p.split("/")[0] for p in subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True,
                                                          text=True, check=True).stdout.split() if "/" in p}
    cited = set()
    for span in re.findall(r"`([^`\n]+)`", (REPO / "README.md").read_text(encoding="utf-8")):
        token = span.split()[0]
        if token.split("/")[0] not in tracked_top or "/" not in token:
            continue
        brace = re.search(r"\{([^}]*)\}", token)
        alternatives = brace.group(1).split(",") if brace else [""]
        cited |= {token.replace(brace.group(0), a) if brace else token for a in alternatives}
    assert "scripts/evaluate_bundled.py" in cited  # the scan finds citations at all
    missing = sorted(c for c in cited if not (REPO / c).exists())
    ignored = sorted(c for c in cited if subprocess.run(["git", "check-ignore", "-q", c], cwd=REPO).returncode == 0)
    assert missing == [] and ignored == []


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, anywhere in it (top level or inside functions), absolute."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add(node.module or "")
            else:  # relative: within the file's own package
                package = path.relative_to(REPO).parent.parts[: len(path.relative_to(REPO).parent.parts) - node.level + 1]
                found.add(".".join(package + ((node.module,) if node.module else ())))
            found |= {f"{node.module}.{alias.name}" for alias in node.names if node.module and node.level == 0}
    return found


def code_strings(path: Path) -> list[ast.Constant]:
    """String constants of a file that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docstrings]


def test_core_imports_no_other_audiogan_package():
    """audiogan_core is the host: plugins, bridges and training depend on it, never the reverse
    (the plugin contract, the checkpoint and library readers and the command line's composition
    all live in core; serve/train/data arrive through the register_commands hook)."""
    outside = ("audiogan_plugins", "audiogan_bridges", "audiogan_training")
    core = python_files("audiogan_core")
    assert len(core) > 20
    offending = {p.relative_to(REPO).as_posix(): sorted(m for m in imported_modules(p) if m.startswith(outside))
                 for p in core}
    assert {k: v for k, v in offending.items() if v} == {}
    # nor by name, through importlib (how cli.py used to attach serve, train and data)
    by_name = [f"{p.relative_to(REPO)}:{n.lineno} {n.value!r}" for p in core for n in code_strings(p)
               if n.value.startswith(outside)]
    assert by_name == []
    # the reader itself sees such imports (a guard against a check that cannot fail)
    sample = REPO / "training" / "trainer.py"
    assert any(m.startswith("audiogan_core") for m in imported_modules(sample))
