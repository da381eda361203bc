"""Build the Lambda artifact, `dist/lambda.zip`, for python3.13 on x86_64, without Docker.

    python infra/package.py build      # dist/lambda.zip (reused when the lock, this script and src/ are unchanged)
    python infra/package.py lock       # re-resolve pyproject's runtime dependencies into infra/lambda-requirements.lock
    python infra/package.py runtime-deps DIR   # boto3 & co. for Python 3.13 into DIR (the smoke test's stand-in
                                               # for what the Lambda runtime provides; never part of the zip)

How the zip is made:
1. `pip install --no-deps --require-hashes` of `infra/lambda-requirements.lock` (exact versions and wheel
   hashes) with `--platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --implementation cp
   --python-version 3.13 --only-binary=:all: --target build/lambda`: the manylinux wheels Lambda's Amazon
   Linux 2023 (glibc 2.34) runs, whatever machine builds them. pyarrow >= 21 ships manylinux_2_28 wheels only.
2. boto3, botocore, s3transfer, jmespath, python-dateutil, six and urllib3 are left out: the python3.13
   runtime provides them (`/var/runtime`), and botocore alone is ~25 MB unzipped.
3. Slimming (see SLIM_RULES): the parts of pyarrow the handler never loads (Flight, the S3/GCS/Azure/HDFS
   filesystems, Substrait/Dataset/ORC/Parquet-encryption Python modules, C++ tests; Acero stays: the alerts
   group by), headers, Cython
   sources, tests, bytecode caches, console scripts and the install-time parts of `*.dist-info`. The shared
   libraries that `libarrow_python` links against (dataset, acero, substrait) stay: the loader needs them.
   tests/test_package.py proves the handler runs from the slimmed zip under Python 3.13.
4. `src/handlers` and `src/usage_lake` (without `usage_lake/simulator`) as `.py` and `.json` files.
5. Bytecode: every `.py` of the package and its dependencies compiled by a Python 3.13 (`PYTHON313`, else
   `python3.13`) into `__pycache__/*.cpython-313.pyc`, as unchecked-hash pycs: /var/task is read-only, so
   without them every cold start compiles every module it imports (about 0.6 s of a 1.0 s import); unchecked
   means the interpreter trusts them without reading the source's timestamp or hash (Lambda does not keep the
   zip's timestamps, and the deployment is immutable). The sources stay beside them for tracebacks. Without a
   3.13 on the build machine the zip is built without bytecode (it still works; cold starts are slower) and the
   build says so. boto3 is not in the zip: the runtime's copy in /var/runtime is used as it comes, and the
   handler imports it only when it makes its first AWS client.
6. A deterministic zip: sorted entries, fixed timestamps and modes, so the same inputs give the same bytes.

Only the standard library and pip are needed (python3 >= 3.11 for `lock`, which reads pyproject.toml), and a
Python 3.13 for the bytecode.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "infra" / "lambda-requirements.lock"
RUNTIME_LOCK = ROOT / "infra" / "runtime-provided.lock"
STAGING = ROOT / "build" / "lambda"
DIST = ROOT / "dist" / "lambda.zip"
SOURCES = (("src/handlers", "handlers"), ("src/usage_lake", "usage_lake"))
SOURCE_SUFFIXES = (".py", ".json")
SOURCE_EXCLUDES = ("usage_lake/simulator",)

PYTHON_VERSION = "3.13"
PLATFORM_ARGS = (
    "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64",
    "--implementation", "cp", "--python-version", PYTHON_VERSION, "--only-binary=:all:",
)
# what the python3.13 Lambda runtime already has on its path: boto3 and its dependency closure
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
BUDGET_BYTES = 120 * 1024 * 1024  # unzipped; Lambda refuses 250 MB
BYTECODE_TAG = "cpython-313"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

# (glob relative to the install folder, why it can go)
SLIM_RULES: tuple[tuple[str, str], ...] = (
    ("pyarrow/include", "C++ headers"),
    ("pyarrow/includes", "Cython declarations"),
    ("pyarrow/src", "C++ sources"),
    ("pyarrow/tests", "pyarrow's test suite"),
    ("pyarrow/*.pyx", "Cython sources"),
    ("pyarrow/*.pxd", "Cython sources"),
    ("pyarrow/*.pxi", "Cython sources"),
    ("pyarrow/_pyarrow_cpp_tests*", "C++ test module"),
    ("pyarrow/conftest.py", "test configuration"),
    # Arrow Flight (RPC): never used
    ("pyarrow/libarrow_flight.so*", "Flight"),
    ("pyarrow/libarrow_python_flight.so*", "Flight"),
    ("pyarrow/_flight*.so", "Flight"),
    ("pyarrow/flight.py", "Flight"),
    # pyarrow's own filesystems: the lake talks to S3 through boto3
    ("pyarrow/libarrow_s3.so*", "S3 filesystem"),
    ("pyarrow/_s3fs*.so", "S3 filesystem"),
    ("pyarrow/_gcsfs*.so", "GCS filesystem"),
    ("pyarrow/_azurefs*.so", "Azure filesystem"),
    ("pyarrow/_hdfs*.so", "HDFS filesystem"),
    # Python modules of layers the handler does not import (their C++ libraries stay: libarrow_python needs them)
    ("pyarrow/_substrait*.so", "Substrait"),
    ("pyarrow/substrait.py", "Substrait"),
    ("pyarrow/_dataset*.so", "Dataset"),
    ("pyarrow/dataset.py", "Dataset"),
    ("pyarrow/_orc*.so", "ORC"),
    ("pyarrow/orc.py", "ORC"),
    ("pyarrow/_parquet_encryption*.so", "Parquet encryption"),
    ("pyarrow/libarrow_python_parquet_encryption.so*", "Parquet encryption"),
    ("pyarrow/parquet/encryption.py", "Parquet encryption"),
    ("pyarrow/cuda.py", "CUDA"),
    ("pyarrow/jvm.py", "JVM bridge"),
    # wheels cannot hold symlinks, so each of these is a full copy of libarrow_python.so.<soname>
    ("pyarrow/libarrow_python.so", "link-time copy of a shared library"),
    ("pyarrow/libarrow_python.so.*.*.*", "duplicate copy of a shared library"),
    # everywhere
    ("**/__pycache__", "bytecode caches (compiled by the build machine's Python, not 3.13)"),
    ("**/*.pyc", "bytecode"),
    ("bin", "console scripts (their shebangs name the build machine's Python)"),
    ("*.dist-info/RECORD", "install record"),
    ("*.dist-info/INSTALLER", "install record"),
    ("*.dist-info/REQUESTED", "install record"),
    ("*.dist-info/direct_url.json", "install record (names the build machine's paths)"),
)


# -- build -----------------------------------------------------------------------------------------

def build(out: Path = DIST, *, force: bool = False, quiet: bool = False) -> Path:
    """Build `out` unless it is already built from the same inputs; returns its path."""
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    out.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(STAGING.parent / ".lambda-build.lock"):
        key = input_key()
        stamp = out.with_name(out.name + ".key")
        if not force and out.is_file() and stamp.is_file() and stamp.read_text().strip() == key:
            say(f"{_rel(out)} is up to date (inputs {key[:12]})")
        else:
            _build(out, key, say)
            stamp.write_text(key + "\n")
        sizes = zip_sizes(out)
        say(f"{_rel(out)}: {_mb(sizes['unzipped'])} unzipped (budget {_mb(BUDGET_BYTES)}), "
            f"{_mb(sizes['zipped'])} zipped, {sizes['files']} files, sha256 {sizes['sha256'][:16]}")
    return out


def _build(out: Path, key: str, say) -> None:
    shutil.rmtree(STAGING, ignore_errors=True)
    STAGING.mkdir(parents=True)
    say(f"installing {LOCK.relative_to(ROOT)} for python{PYTHON_VERSION} x86_64 into {_rel(STAGING)}")
    _pip("install", "--no-deps", "--require-hashes", "--no-compile", *PLATFORM_ARGS,
         "--target", str(STAGING), "-r", str(LOCK))
    provided = [p for p in installed_distributions(STAGING) if _norm(p) in {_norm(n) for n in RUNTIME_PROVIDED}]
    if provided:
        raise SystemExit(f"{LOCK.name} installs {provided}, which the Lambda runtime provides; re-run `make lock`")
    before = tree_size(STAGING)
    removed = slim(STAGING)
    for why, size in sorted(removed.items(), key=lambda kv: -kv[1]):
        say(f"  slim: -{_mb(size)} {why}")
    say(f"  slim: {_mb(before)} -> {_mb(tree_size(STAGING))}")
    copy_sources(STAGING)
    compiler = python313()
    if compiler:
        compile_bytecode(STAGING, compiler)
        say(f"  bytecode: {count_bytecode(STAGING)} modules compiled by {' '.join(compiler)} (unchecked-hash)")
    else:
        say("  bytecode: NONE - no Python 3.13 found (set PYTHON313=/path/to/python3.13): the zip works, but every "
            "cold start compiles its modules (about 0.6 s more)")
    total = tree_size(STAGING)
    if total > BUDGET_BYTES:
        raise SystemExit(f"the package is {_mb(total)} unzipped, over the {_mb(BUDGET_BYTES)} budget")
    tmp = out.with_name(out.name + ".tmp")
    write_zip(STAGING, tmp)
    os.replace(tmp, out)


def slim(root: Path) -> dict[str, int]:
    """Delete everything SLIM_RULES names under `root`; returns bytes removed per reason."""
    removed: dict[str, int] = {}
    for pattern, why in SLIM_RULES:
        for path in sorted(root.glob(pattern), key=lambda p: -len(p.parts)):
            if not path.exists() and not path.is_symlink():
                continue
            size = tree_size(path) if path.is_dir() else path.stat().st_size
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            removed[why] = removed.get(why, 0) + size
    return removed


def copy_sources(root: Path) -> None:
    for source, target in SOURCES:
        base = ROOT / source
        for path in sorted(base.rglob("*")):
            rel = Path(target) / path.relative_to(base)
            if not path.is_file() or path.suffix not in SOURCE_SUFFIXES or "__pycache__" in path.parts:
                continue
            if any(rel.as_posix() == ex or rel.as_posix().startswith(ex + "/") for ex in SOURCE_EXCLUDES):
                continue
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, root / rel)


def python313() -> list[str] | None:
    """The path of a Python 3.13 here: $PYTHON313, else `python3.13` (a pyenv shim is asked for 3.13.0 if need be)."""
    candidates = [os.environ["PYTHON313"]] if os.environ.get("PYTHON313") else ["python3.13"]
    # pyenv's `python3` exports PYENV_VERSION (say 3.11.7) to its children, which makes the python3.13 shim refuse
    environments = (os.environ, os.environ | {"PYENV_VERSION": "3.13.0"})
    for candidate in candidates:
        for env in environments:
            try:
                out = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 13), sys.executable)"],
                                     capture_output=True, text=True, env=env, timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                break
            found, _, executable = out.stdout.strip().partition(" ")
            if out.returncode == 0 and found == "True" and executable:
                return [executable]
    return None


def compile_bytecode(root: Path, python: list[str]) -> None:
    """`__pycache__/<module>.cpython-313.pyc` beside every `.py` under `root`, recorded as /var/task paths."""
    result = subprocess.run(
        [*python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
         "-s", str(root), "-p", "/var/task", str(root)],
        capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"compiling the package's bytecode failed:\n{result.stdout}{result.stderr}")
    stray = [p for p in root.rglob("*.pyc") if BYTECODE_TAG not in p.name]
    if stray:
        raise SystemExit(f"{' '.join(python)} wrote bytecode for another Python: {stray[0]}")


def cached_name(source: str) -> str:
    """`a/b.py` -> `a/__pycache__/b.cpython-313.pyc`, the name the 3.13 interpreter looks for."""
    folder, _, name = source.rpartition("/")
    return f"{folder + '/' if folder else ''}__pycache__/{name.removesuffix('.py')}.{BYTECODE_TAG}.pyc"


def count_bytecode(root: Path) -> int:
    return sum(1 for _ in root.rglob(f"*.{BYTECODE_TAG}.pyc"))


def bytecode_compiler_version() -> str:
    """Part of the freshness key: the exact 3.13 that compiles (or "none"), since its bytecode goes in the zip."""
    python = python313()
    if python is None:
        return "none"
    out = subprocess.run([*python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True)
    return out.stdout.strip()


def source_files() -> list[Path]:
    """The repository files whose content decides the zip (for the freshness key)."""
    files = [LOCK, Path(__file__).resolve()]
    for source, target in SOURCES:
        base = ROOT / source
        for path in sorted(base.rglob("*")):
            rel = (Path(target) / path.relative_to(base)).as_posix()
            if path.is_file() and path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts \
                    and not any(rel == ex or rel.startswith(ex + "/") for ex in SOURCE_EXCLUDES):
                files.append(path)
    return files


def input_key() -> str:
    digest = hashlib.sha256()
    digest.update(f"bytecode: {bytecode_compiler_version()}".encode() + b"\0")
    for path in source_files():
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def write_zip(root: Path, out: Path) -> None:
    """Same files in, same bytes out: sorted names, fixed dates and modes."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in sorted((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the mode above is honoured
            archive.writestr(info, path.read_bytes(), compresslevel=9)


def zip_sizes(path: Path) -> dict[str, int | str]:
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    return {
        "unzipped": sum(i.file_size for i in infos),
        "zipped": path.stat().st_size,
        "files": len(infos),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def installed_distributions(root: Path) -> list[str]:
    return sorted(p.name.split("-")[0] for p in root.glob("*.dist-info"))


# -- lock ------------------------------------------------------------------------------------------

def lock() -> None:
    """Resolve pyproject's runtime dependencies (minus what the runtime provides) for cp313 manylinux x86_64."""
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    provided = {_norm(n) for n in RUNTIME_PROVIDED}
    ours = [d for d in deps if _norm(_requirement_name(d)) not in provided]
    runtime = [d for d in deps if _norm(_requirement_name(d)) in provided]
    _write_lock(LOCK, ours, exclude=provided, header=(
        "The Lambda package's dependencies, exact versions and wheel hashes for cp313 manylinux x86_64.",
        "Generated from pyproject.toml by `make lock` (python infra/package.py lock); installed with --no-deps.",
        f"Left out, because the python3.13 runtime provides them: {', '.join(RUNTIME_PROVIDED)}.",
    ))
    _write_lock(RUNTIME_LOCK, runtime, exclude=set(), header=(
        "Stand-in for what the python3.13 Lambda runtime provides (boto3 and its dependencies).",
        "Used only by tests/test_package.py to run the unpacked zip; never part of the zip.",
        "Generated by `make lock` (python infra/package.py lock).",
    ))


def _write_lock(path: Path, requirements: list[str], *, exclude: set[str], header: tuple[str, ...]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        _pip("install", "--dry-run", "--ignore-installed", "--report", str(report), *PLATFORM_ARGS,
             "--target", str(Path(tmp) / "target"), *requirements)
        installs = json.loads(report.read_text())["install"]
    lines = [f"# {line}" for line in header]
    for item in sorted(installs, key=lambda i: _norm(i["metadata"]["name"])):
        name, version = item["metadata"]["name"], item["metadata"]["version"]
        if _norm(name) in exclude:
            continue
        sha = item["download_info"]["archive_info"]["hashes"]["sha256"]
        wheel = item["download_info"]["url"].rsplit("/", 1)[-1]
        lines.append(f"{_norm(name)}=={version} \\\n    --hash=sha256:{sha}  # {wheel}")
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


# -- runtime stand-in ------------------------------------------------------------------------------

def runtime_deps(target: Path) -> Path:
    """boto3 & co. (pure Python) for Python 3.13 into `target`, once per lock content."""
    stamp = target / ".lock-sha256"
    digest = hashlib.sha256(RUNTIME_LOCK.read_bytes()).hexdigest()
    with _exclusive(target.parent / f".{target.name}.lock"):
        if stamp.is_file() and stamp.read_text() == digest:
            return target
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        _pip("install", "--no-deps", "--require-hashes", "--no-compile", *PLATFORM_ARGS,
             "--target", str(target), "-r", str(RUNTIME_LOCK))
        stamp.write_text(digest)
    return target


# -- helpers ---------------------------------------------------------------------------------------

def _pip(*args: str) -> None:
    command = [sys.executable, "-m", "pip", *args[:1], "--quiet", "--disable-pip-version-check", "--no-input", *args[1:]]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"pip failed ({result.returncode}): {' '.join(command)}\n{result.stdout}{result.stderr}")


@contextlib.contextmanager
def _exclusive(path: Path):
    """An advisory lock so two builds (say, two pytest workers) never share the staging folder at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def tree_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _requirement_name(requirement: str) -> str:
    for i, ch in enumerate(requirement):
        if not (ch.isalnum() or ch in "-_."):
            return requirement[:i]
    return requirement


def _norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB"


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    b = sub.add_parser("build", help="build dist/lambda.zip (default)")
    b.add_argument("--out", type=Path, default=DIST)
    b.add_argument("--force", action="store_true", help="rebuild even if the inputs are unchanged")
    sub.add_parser("lock", help="re-resolve the locked dependencies from pyproject.toml")
    r = sub.add_parser("runtime-deps", help="install boto3 & co. for Python 3.13 into a folder (tests)")
    r.add_argument("target", type=Path)
    args = parser.parse_args(argv)
    if args.command == "lock":
        lock()
    elif args.command == "runtime-deps":
        print(runtime_deps(args.target))
    else:
        build(getattr(args, "out", DIST), force=getattr(args, "force", False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
