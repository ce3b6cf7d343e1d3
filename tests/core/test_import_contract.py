"""The import contract (pyproject `[tool.importlinter]`): packages import only the layers below
them, coupons and memberships not each other. `make lint` runs it on the tree; these tests run
it too, and prove on a small tree with the same contract that an upward import breaks it.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).with_name("lint-imports"))


def _contract() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        config: dict[str, Any] = tomllib.load(f)["tool"]["importlinter"]
    return config


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"],
        cwd=cwd,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_the_layers() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def _fixture_tree(tmp_path: Path, imports: dict[str, str]) -> Path:
    """Every root package of the contract as an empty package, plus `imports`: module path ->
    its source; the contract is the project's own, copied from pyproject.toml."""
    config = _contract()
    roots: list[str] = config["root_packages"]
    for package in roots:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for module, source in imports.items():
        (tmp_path / module).write_text(source)
    (contract,) = config["contracts"]
    (tmp_path / "pyproject.toml").write_text(
        "[tool.importlinter]\n"
        f"root_packages = {_toml_list(roots)}\n\n"
        "[[tool.importlinter.contracts]]\n"
        f'id = "{contract["id"]}"\nname = "{contract["name"]}"\ntype = "{contract["type"]}"\n'
        f"layers = {_toml_list(contract['layers'])}\n"
    )
    return tmp_path


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("merchants/reviews.py", "from orders import service\n"),  # upward, at module level
        ("core/ids.py", "def f():\n    import accounts\n"),  # upward, inside a function
        ("coupons/redeem.py", "import memberships\n"),  # the two independent siblings
        ("memberships/cards.py", "from coupons import x\n"),
        ("accounts/users.py", "import api\n"),
    ],
)
def test_an_upward_import_breaks_the_contract(tmp_path: Path, module: str, source: str) -> None:
    tree = _fixture_tree(tmp_path, {module: source})
    result = _lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "0 kept, 1 broken" in result.stdout


def test_downward_imports_keep_the_contract(tmp_path: Path) -> None:
    # the control: the same tree with imports that follow the layers is kept
    tree = _fixture_tree(
        tmp_path,
        {
            "orders/a.py": "import coupons, memberships, merchants, core\n",
            "api/a.py": "import push\n",
        },
    )
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
