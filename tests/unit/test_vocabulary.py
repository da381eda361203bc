"""One vocabulary (issue 16.6): the placeholders and column words live in `usage_lake.words`; nothing else spells them.

The rendered views, exports and e-mails use them (tests/integration/test_vocabulary_rendered.py); here the
sources: no module and no Athena view writes its own spelling of a placeholder.
"""

from __future__ import annotations

import ast
import re
from decimal import Decimal
from pathlib import Path

from usage_lake import words

SRC = Path(__file__).resolve().parents[2] / "src" / "usage_lake"
VIEWS = SRC / "lake" / "athena_views"
# the spellings the product used before (issue 16: the default workspace 4 ways, "no API key" 3, "no project" 2)
OLD = re.compile(r"Default [Ww]orkspace|\(default workspace\)|\(default\)|.*no API key.*|\(no model.*|\(no project.*|\(unknown\)")


def _strings(tree: ast.AST) -> list[ast.Constant]:
    """Every string constant of a module but its docstrings."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def test_no_module_spells_a_placeholder_itself():
    offenders = [f"{path.relative_to(SRC)}:{node.lineno}: {node.value!r}" for path in SRC.rglob("*.py") if path.name != "words.py"
                 for node in _strings(ast.parse(path.read_text(encoding="utf-8"))) if OLD.fullmatch(node.value.strip())]
    assert offenders == []


def test_the_athena_views_use_the_vocabulary_placeholders():
    """The named views' placeholder literals are the vocabulary's (Athena cannot import Python: a test keeps them equal)."""
    from usage_lake.lake.views import views

    literals = set()
    for sql in views().values():  # as Athena and DuckDB get them: the files' placeholders filled
        literals |= set(re.findall(r"(?:workspace_id|api_key_id|model) IS NULL THEN '([^']*)'", sql))
    assert literals, "no placeholder literal found in the Athena views"
    assert literals <= {words.DEFAULT_WORKSPACE, words.NO_API_KEY, words.NO_MODEL}
    assert {words.DEFAULT_WORKSPACE, words.NO_API_KEY} <= literals


def test_the_saved_queries_use_the_vocabulary_placeholders():
    queries = Path(__file__).resolve().parents[2] / "infra" / "queries"
    text = "\n".join(path.read_text(encoding="utf-8") for path in queries.glob("*.sql"))
    # what a query shows where the API left a workspace, key, model or label null
    # (a rate limit without a workspace is the organization's own limit: `AS scope`, not a name)
    literals = set(re.findall(r"coalesce\(\w*\.?(?:workspace_id|api_key_id|model|element_at\(labels, '\w+'\)), '([^']*)'\)(?! AS scope)",
                              text))
    assert literals and literals <= {words.DEFAULT_WORKSPACE, words.NO_API_KEY, words.NO_MODEL, words.no_label("project")}


def test_formats():
    assert words.money(Decimal("1234.565")) == "$1,234.56" and words.money(Decimal("1234.5"), compact=True) == "$1,234"
    assert words.money(Decimal("-3")) == "-$3.00" and words.money(None) == "-"
    assert words.count(10_000_000) == "10,000,000"
    assert words.percent(1.1993303235625) == "119.9%" and words.percent_text(Decimal("119.93")) == "119.9%"
    assert words.decimal_text(Decimal("573.1202495275000")) == "573.1202495275"
    assert words.no_label("project") == "(no project label)"
