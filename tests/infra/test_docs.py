"""The documentation (README.md and every docs/*.md): its examples run, its generated page is current, its figures
match the code, and no shipped file names a path of the machine it was written on.

How the examples run (docs/development.md, "Writing the docs", says the same to writers):

- every ```sh line is a `usage-lake ...` command (optionally after `NAME=value` settings), run in a fresh folder that
  holds `./lake`, written by `usage-lake demo --lake ./lake` (7 days up to today, real clock) plus November 2026 (the
  dates examples use), and `infra/`, `events/`
  of this checkout; `s3://my-bucket/anthropic` is the same lake in a moto S3 bucket; `ANTHROPIC_ADMIN_API_KEY` and
  `ANTHROPIC_BASE_URL` point at the simulator, so `usage-lake run` works. Each command must exit 0, without a traceback;
- every statement of a ```sql block runs through `usage-lake sql --lake ./lake` and must exit 0;
- a ```sql title="Athena only" block (it reads what only Athena has, e.g. the AWS export behind `focus_all`) must
  parse as Trino SQL;
- everything else uses a language that is not run (`console`, `text`, `json`, `yaml`, `mermaid`, `python`);
  ```bash, ```shell and a fence without a language are refused, so nothing looks runnable without being run.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("**/*.md"))]
FENCE = re.compile(r"^([ \t]*)```([^\n`]*)\n(.*?)^[ \t]*```[ \t]*$", re.M | re.S)
NOT_RUN = {"console", "text", "json", "yaml", "mermaid", "python", "toml"}
REFUSED = {"", "bash", "shell", "zsh", "sh-session"}
S3_LAKE = "s3://my-bucket/anthropic"
EXAMPLES_NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)  # the demo back-fills 2026-10-31 .. 2026-12-02


def fences(page: Path) -> list[tuple[str, str, int]]:
    """(info string, body, line number) of every fenced block."""
    text = page.read_text(encoding="utf-8")
    return [(m.group(2).strip(), textwrap.dedent(m.group(3)), text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]


def commands(body: str) -> list[str]:
    """The commands of an sh block: continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def statements(body: str) -> list[str]:
    parts = re.split(r";[ \t]*(?:--[^\n]*)?$", body, flags=re.M)
    return [p.strip() for p in parts if any(line.strip() and not line.strip().startswith("--") for line in p.splitlines())]


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


# -- the rule every page follows --------------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_block_is_either_run_or_plainly_not(page):
    for info, body, line in fences(page):
        language = info.split()[0] if info else ""
        assert language not in REFUSED, f"{page_id(page)}:{line}: ```{info}: use ```sh (run by this test) or ```console (not run)"
        assert language in {"sh", "sql"} | NOT_RUN, f"{page_id(page)}:{line}: unknown fence language {language!r}"
        if language == "sh":
            for command in commands(body):
                words = shlex.split(command, comments=True)
                while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
                    words.pop(0)
                assert words and words[0] == "usage-lake", (
                    f"{page_id(page)}:{line}: {command!r}: a ```sh line is a usage-lake command; put others in ```console")


def test_the_writing_rule_is_written_down():
    guide = (DOCS / "development.md").read_text(encoding="utf-8")
    for words in ("```sh", "```sql", "```console", 'title="Athena only"', "tests/infra/test_docs.py", "./lake", S3_LAKE):
        assert words in guide, words


# -- running the examples ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory):
    """`usage-lake demo --lake ./lake` (the last 7 days), plus November 2026 from the same simulated org: the fixed
    dates the examples use (`--start 2026-11-01 --end 2026-12-01`) hold data whenever the test runs."""
    import io

    from usage_lake.app.cli import main
    from usage_lake.app.demo import run_demo

    root = tmp_path_factory.mktemp("docs-demo")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        assert run_demo(lake_dir="./lake", days=33, out=io.StringIO(), now=EXAMPLES_NOW) == 0
        assert main(["demo", "--lake", "./lake"]) == 0
    finally:
        os.chdir(cwd)
    return root / "lake"


@pytest.fixture
def workdir(demo_lake, tmp_path, monkeypatch, aws):
    """A folder as the docs assume it: ./lake (a copy of the demo's), infra/ and events/; the lake in S3 too; the
    simulator answering for the Admin API."""
    import boto3

    from usage_lake.simulator import SimulatedOrg, Simulator

    shutil.copytree(demo_lake, tmp_path / "lake")
    for folder in ("infra", "events"):
        (tmp_path / folder).symlink_to(ROOT / folder)
    boto3.client("s3").create_bucket(Bucket="my-bucket")
    for name in ("LAKE_BUCKET", "LAKE_PREFIX", "DAILY_SPEND_THRESHOLD_USD", "MONTHLY_BUDGET_USD", "SPIKE_RATIO", "ALERT_TOPIC_ARN",
                 "BUDGETS", "LABELS", "PRICING_OVERRIDES", "ADMIN_KEY_SECRET_ID", "WEEKLY_DIGEST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    with Simulator(SimulatedOrg.small()) as sim:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", sim.base_url)
        monkeypatch.setenv("ANTHROPIC_ADMIN_API_KEY", sim.admin_key)
        yield tmp_path


def run_cli(argv: list[str], capsys, where: str) -> None:
    from usage_lake.app.cli import main

    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse refusing a flag the docs show
        code = exit_.code
    captured = capsys.readouterr()
    assert code == 0, f"{where}: exit {code}\n{captured.err[-2000:]}"
    assert "Traceback" not in captured.err, f"{where}: {captured.err[-2000:]}"


RUNNABLE = [page for page in PAGES if any(info.split()[:1] in (["sh"], ["sql"]) for info, _, _ in fences(page))]


@pytest.mark.parametrize("page", RUNNABLE, ids=page_id)
def test_every_example_runs(page, workdir, capsys, monkeypatch):
    if S3_LAKE in page.read_text(encoding="utf-8"):  # the same lake in S3 (moto), for the pages that use one
        import boto3

        s3 = boto3.client("s3")
        for path in sorted(p for p in (workdir / "lake").rglob("*") if p.is_file()):
            s3.put_object(Bucket="my-bucket", Key=f"anthropic/{path.relative_to(workdir / 'lake').as_posix()}", Body=path.read_bytes())
    ran = 0
    for info, body, line in fences(page):
        where = f"{page_id(page)}:{line}"
        if info == "sh":
            for command in commands(body):
                words = shlex.split(command, comments=True)
                with monkeypatch.context() as env:
                    while re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
                        name, _, value = words.pop(0).partition("=")
                        env.setenv(name, value)
                    run_cli(words[1:], capsys, f"{where}: {command}")
                ran += 1
        elif info == "sql":
            for statement in statements(body):
                run_cli(["sql", statement, "--lake", "./lake", "--format", "csv", "--param", "MonthlyBudgetUsd=5000"],
                        capsys, f"{where}: {statement[:80]}")
                ran += 1
        elif info.startswith("sql"):
            assert info == 'sql title="Athena only"', f"{where}: ```{info}"
            import sqlglot

            for statement in statements(body):
                sqlglot.parse_one(statement, read="trino", error_level=sqlglot.ErrorLevel.RAISE)
                ran += 1
    assert ran


# -- generated and counted from the code ------------------------------------------------------------------------

def test_the_tables_page_is_generated_from_the_schema():
    spec = importlib.util.spec_from_file_location("docs_tables", DOCS / "hooks" / "tables.py")
    assert spec and spec.loader
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    from usage_lake.lake.schema import TABLES

    rendered = hook.render()
    assert (DOCS / "tables.md").read_text(encoding="utf-8") == rendered, "docs/tables.md is stale: run `make docs-tables`"
    for name, schema in TABLES.items():
        assert f"## {name}\n" in rendered
        assert all(f"| `{field.name}` |" in rendered for field in schema), name


def test_every_setting_is_in_the_settings_table():
    """Settings.from_env reads exactly the variables docs/configuration.md's table lists."""
    from usage_lake.config.settings import Settings

    class Recording(dict):
        def get(self, key, default=None):
            read.add(key)
            return super().get(key, default)

        def __getitem__(self, key):
            read.add(key)
            return super().__getitem__(key)

    read: set[str] = set()
    Settings.from_env(Recording())
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    table = text[text.index("## Settings"):text.index("\n## ", text.index("## Settings") + 1)]
    listed = set(re.findall(r"^\| `([A-Z_]+)`(?:, `([A-Z_]+)`)?", table, re.M))
    documented = {name for pair in listed for name in pair if name}
    assert read <= documented | {"ANTHROPIC_ADMIN_API_KEY"}, sorted(read - documented)
    assert documented - read <= {"ANTHROPIC_ADMIN_API_KEY"}, sorted(documented - read)  # the CLI's own: the key itself


def test_every_template_parameter_is_on_the_configuration_page():
    template = (ROOT / "infra" / "template.yaml").read_text(encoding="utf-8")
    section = template[template.index("\nParameters:\n"):]
    section = section[:re.search(r"\n[A-Za-z]", section[1:]).start() + 1]
    parameters = re.findall(r"^  ([A-Za-z0-9]+):$", section, re.M)
    assert len(parameters) > 20
    page = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert [p for p in parameters if f"`{p}`" not in page] == []


def test_the_saved_queries_table_names_every_saved_query():
    names = sorted(re.search(r"^-- name: (.+)$", q.read_text(encoding="utf-8"), re.M).group(1)
                   for q in (ROOT / "infra" / "queries").glob("*.sql"))
    page = (DOCS / "sql.md").read_text(encoding="utf-8")
    table = page[page.index("| saved query |"):]
    rows = re.findall(r"^\| ([^|]+?) \|", table[:table.index("\n\n")], re.M)[1:]  # after the header row
    assert sorted(rows) == names  # each once: the table once listed one twice


def test_the_pictures_counts_are_the_codes():
    from usage_lake.lake.schema import TABLES
    from usage_lake.lake.views import views

    queries = len(list((ROOT / "infra" / "queries").glob("*.sql")))
    for page in (ROOT / "README.md", DOCS / "architecture.md"):
        text = page.read_text(encoding="utf-8")
        assert f"{len(TABLES)} tables" in text and f"{len(views())} views" in text and f"{queries} saved queries" in text, page_id(page)
        diagram = re.search(r"```mermaid\n(.*?)```", text, re.S)
        if diagram:
            nodes = re.findall(r"^\s*(?:\w+ --\S* )?(\w+)\[", diagram.group(1), re.M)
            assert len(nodes) == len(set(nodes)), f"{page_id(page)}: a node defined twice: {nodes}"


def test_the_sites_picture_is_the_readmes_diagram():
    """docs/assets/deployed.svg is drawn (make docs-diagram) from docs/assets/deployed.mmd, the README's diagram."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    source = (DOCS / "assets" / "deployed.mmd").read_text(encoding="utf-8")
    assert re.search(r"```mermaid\n(.*?)```", readme, re.S).group(1) == source
    svg = (DOCS / "assets" / "deployed.svg").read_text(encoding="utf-8")
    for label in re.findall(r'\["([^"]+)"\]', source):  # every box, as drawn: its lines in order
        for line in label.replace("&lt;", "<").split("<br/>"):
            assert line.replace("<", "&lt;") in svg, line


def test_the_site_builds_strictly(tmp_path):
    """`make docs` in small: a broken link or anchor, a page missing from the nav or any other warning fails it (not
    with --quiet, which hides the warnings --strict counts)."""
    import subprocess
    import sys

    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "site" / "tables.html").exists() and not (tmp_path / "site" / "hooks").exists()
    remote = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="(https?://[^"]+)"', (tmp_path / "site" / "index.html").read_text(encoding="utf-8"))
    assert remote == []  # offline: no fonts, scripts or styles from elsewhere


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 250


# -- no machine paths in what ships -----------------------------------------------------------------------------

MACHINE_PATH = re.compile(r"(?<![\w.])/(?:work|home|root|Users|tmp)/[\w.-]")
SHIPPED = ["src", "infra", "docs", "events", "README.md", "Makefile", "pyproject.toml", "mkdocs.yml", "samconfig.toml"]


def test_no_shipped_file_names_a_machine_path():
    found = []
    for entry in SHIPPED:
        path = ROOT / entry
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        for file in files:
            try:
                text = file.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
            found += [f"{file.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}" for m in MACHINE_PATH.finditer(text)]
    assert not found, found


def test_the_machine_path_check_sees_one():
    assert MACHINE_PATH.search('"source": "compiled in /work/shared/reference/x.md"')
    assert MACHINE_PATH.search("see /Users/me/lake and /tmp/x")
    assert not MACHINE_PATH.search("https://example.com/work/x and s3://bucket/home/x and /var/task and ./tmp/x")
